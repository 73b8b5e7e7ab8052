"""The RolloutServer: HTTP layer (`core`, `app`, `inprocess`), admission (`manager`), one
rollout's life (`rollout`, `completion`; its hooks are in `rolloutctl.observe`), records
(`store`), trainer callbacks (`callbacks`, `retry`), limits, settings and `run`.

Server modules never import the trainer or the command tools.
"""
