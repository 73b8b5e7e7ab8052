"""The RolloutServer: HTTP layer (`core`, `app`, `inprocess`), admission (`manager`), one
rollout's life (`rollout`, `completion`, `observers`), records (`store`), trainer
callbacks (`callbacks`, `retry`), limits, settings and `run`.

Server modules never import the trainer or the command tools.
"""
