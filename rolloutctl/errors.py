"""One exception hierarchy for the whole package; each class carries its exit status.

`cli.core.raw_main` maps an error to an exit status by its base class, in one place.
The leaves live beside the code that raises them (they carry that code's data)::

    RolloutctlError                      exit 1: the work failed
    ├── InputError                       exit 2: the user's input cannot be used
    │   ├── TargetError                  agent.loader: the agent cannot be loaded
    │   ├── PolicyError                  trainer.policies.base: policy options unusable
    │   ├── TrajectoryFormatError        trajectory.document: not a trajectory we read
    │   ├── StoreUrlError                server.store: --store is not memory or a Redis URL
    │   └── DatasetError                 eval.dataset: unreadable dataset or unusable row
    ├── CannotStartError                 exit 3: a server could not start or be reached
    │   ├── CannotBind                   net.sockets: port in use, address not available
    │   ├── ServerStartError             bench.server_process: the server under test died
    │   └── ServerUnreachable            check.requests: nothing answers at the URL
    ├── AgentError                       the agent's own code or its model answers
    │   ├── ToolArgumentError            agent.tools: arguments that do not fit the schema
    │   ├── BadModelResponse             agent.context: a 2xx that is not a completion
    │   ├── TurnLimitReached             agent.context: `max_turns` used up
    │   ├── RolloutAborted               agent.context: the agent ends its rollout as ERROR
    │   ├── AgentToolsError              server.manager: `tools(request)` raised
    │   └── RolloutFailed                osmosis.workflow: an adapted rollout failed (0.3)
    │       └── RolloutTimedOut          osmosis.workflow: ...past its time limit
    ├── RolloutFailure                   server.runner: ends a rollout with a category
    ├── TrainerError                     server.callbacks: a trainer call failed for good
    ├── ServerBusy                       server.manager: draining or queue full (503)
    ├── StoreUnavailable                 server.store.base: the record store is down (503)
    ├── UpstreamError                    trainer.policies.base: the proxied model failed
    └── InitError                        trainer.starter: the init was not delivered
        └── InitRefused                  trainer.starter: answered with other than 202
"""

from __future__ import annotations

from rolloutctl.status import ExitStatus

__all__ = [
    "AgentError",
    "CannotStartError",
    "InputError",
    "RolloutctlError",
]


class RolloutctlError(Exception):
    """Base of every error rolloutctl raises on purpose; the message is one line."""

    exit_status: ExitStatus = ExitStatus.FAILURE


class InputError(RolloutctlError):
    """A bad option, target or file: the user can fix it and run again."""

    exit_status = ExitStatus.USAGE


class CannotStartError(RolloutctlError):
    """A server could not start, or the server named could not be reached."""

    exit_status = ExitStatus.CANNOT_START


class AgentError(RolloutctlError):
    """Something the agent's code or its model did; ends a rollout as `agent_error`."""
