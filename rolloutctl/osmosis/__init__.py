"""The Osmosis SDK 0.3 rollout protocol, in both directions, on top of the installed SDK.

- serving a rolloutctl `Agent` through the SDK's own server: `workflow` (the adapter
  `AgentWorkflow`), `grader`, `serve`;
- driving any 0.3 server with the SDK's own client against the mock trainer: `driver`
  (one rollout; `run_osmosis_rollout` returns its trajectory), `trial` (`try`), `check/`
  (the protocol's rules from outside), `bench`.

The SDK is imported only here, so commands that do not use the protocol start without it.
"""
