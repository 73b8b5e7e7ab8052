"""The RolloutServer: app, rollout manager, runner, records, trainer callbacks, `run`.

Server modules never import the trainer or the command tools.
"""
