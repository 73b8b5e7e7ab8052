"""Every exception rolloutctl raises on purpose; each class carries its exit status.

`cli.core.raw_main` maps an error to an exit status by its base class, in one place.
Each line names the module that raises the class (`tests/test_errors.py` checks that
this tree lists every class defined here)::

    RolloutctlError                      exit 1: the work failed
    ├── InputError                       exit 2: the user's input cannot be used
    │   ├── TargetError                  agent.loader: the agent cannot be loaded
    │   ├── PolicyError                  trainer.policies: policy options unusable
    │   ├── TrajectoryFormatError        trajectory.document: not a trajectory we read
    │   ├── StoreUrlError                server.store: --store is not memory, SQLite or Redis
    │   ├── DatasetError                 eval.dataset: unreadable dataset or unusable row
    │   ├── QueryError                   view.query: a bad query parameter (answered 400)
    │   ├── JsonLimitError               jsonlimits: JSON too deep or too large to carry
    │   └── KeyRequired                  check: the server answers 401 to the key given
    ├── CannotStartError                 exit 3: a server could not start or be reached
    │   ├── CannotBind                   net.sockets: port in use, address not available
    │   ├── ServerStartError             bench.server_process: the server under test died
    │   ├── ServerUnreachable            check adapters: nothing answers at the URL
    │   ├── TrainerUnreachable           attach.events: no mock trainer at the URL
    │   └── UpstreamUnreachable          trainer.policies: no model at --upstream
    ├── AgentError                       the agent's own code or its model answers
    │   ├── ToolArgumentError            agent.tools: arguments that do not fit the schema
    │   ├── BadModelResponse             agent.context: a 2xx that is not a completion
    │   ├── TurnLimitReached             agent.context: `max_turns` used up
    │   ├── RolloutAborted               agent.context: the agent ends its rollout as ERROR
    │   ├── AgentToolsError              server: `tools(request)` raised
    │   └── RolloutFailed                osmosis.workflow: an adapted rollout failed (0.3)
    │       └── RolloutTimedOut          osmosis.workflow: ...past its time limit
    ├── RolloutFailure                   server: ends a rollout with a category
    ├── TrainerError                     server.callbacks: a trainer call failed for good
    ├── ServerBusy                       server: draining or queue full (503)
    ├── StoreUnavailable                 server.store: the record store is down (503)
    ├── UpstreamError                    trainer.policies: the proxied model failed
    ├── StreamEnded                      attach.events: the watched trainer stopped
    ├── NoCompletion                     cli try: the init failed, or no completion came
    └── InitError                        trainer.starter: the init was not delivered
        └── InitRefused                  trainer.starter, attach.init: not answered 202
"""

from __future__ import annotations

from typing import Any

from rolloutctl.status import ErrorCategory, ExitStatus

__all__ = [
    "AgentError",
    "AgentToolsError",
    "BadModelResponse",
    "CannotBind",
    "CannotStartError",
    "DatasetError",
    "InitError",
    "InitRefused",
    "InputError",
    "JsonLimitError",
    "KeyRequired",
    "NoCompletion",
    "PolicyError",
    "QueryError",
    "RolloutAborted",
    "RolloutFailed",
    "RolloutFailure",
    "RolloutTimedOut",
    "RolloutctlError",
    "ServerBusy",
    "ServerStartError",
    "ServerUnreachable",
    "StoreUnavailable",
    "StoreUrlError",
    "StreamEnded",
    "TargetError",
    "ToolArgumentError",
    "TrainerError",
    "TrainerUnreachable",
    "TrajectoryFormatError",
    "TurnLimitReached",
    "UpstreamError",
    "UpstreamUnreachable",
]


class RolloutctlError(Exception):
    """Base of every error rolloutctl raises on purpose; the message is one line."""

    exit_status: ExitStatus = ExitStatus.FAILURE


# ---- exit 2: the user's input cannot be used


class InputError(RolloutctlError):
    """A bad option, target or file: the user can fix it and run again."""

    exit_status = ExitStatus.USAGE


class TargetError(InputError):
    """The agent target cannot be loaded; the message is one readable line."""


class PolicyError(InputError, ValueError):
    """A policy that cannot be built from the options given (bad file, missing env var)."""


class TrajectoryFormatError(InputError, ValueError):
    """A file that is no trajectory this version can read; the message is one line."""


class QueryError(InputError):
    """A bad query parameter of the viewer; the message names it (the app answers 400)."""


class StoreUrlError(InputError):
    """--store is neither `memory`, an SQLite URL nor a Redis URL."""


class DatasetError(InputError):
    """The dataset cannot be read, or a row is unusable; the message names FILE:LINE."""


class JsonLimitError(InputError, ValueError):
    """The value is valid JSON that rolloutctl will not carry; the message says why."""


# ---- exit 3: a server could not start or be reached


class CannotStartError(RolloutctlError):
    """A server could not start, or the server named could not be reached."""

    exit_status = ExitStatus.CANNOT_START


class CannotBind(CannotStartError):
    """A server could not start (port in use, address not available, failed start-up)."""


class ServerStartError(CannotStartError):
    """The server under test did not come up; the message ends with its last stderr line."""


class KeyRequired(InputError):
    """`check` met a 401: the server wants its inbound key (`--server-key`), or another one.
    One line says so instead of a failed check per request."""


class ServerUnreachable(CannotStartError):
    """The server under test refused or dropped the connection: nothing else can be checked."""


class TrainerUnreachable(CannotStartError):
    """Nothing answers at the trainer URL, or it does not serve the event stream."""


class UpstreamUnreachable(CannotStartError):
    """Nothing answers at the proxy policy's --upstream: found before any rollout runs."""


# ---- the agent's own code or its model


class AgentError(RolloutctlError):
    """Something the agent's code or its model did; ends a rollout as `agent_error`."""


class ToolArgumentError(AgentError, ValueError):
    """The model sent arguments that do not fit the tool's schema."""


class BadModelResponse(AgentError, ValueError):
    """The model backend answered 2xx with something that is not a chat completion."""


class TurnLimitReached(AgentError):
    """Raised by `ctx.chat` when the rollout has used all of its `max_turns`."""


class RolloutAborted(AgentError):
    """Raise from `run` to end the rollout as ERROR (`agent_error`) with this message as is."""


class AgentToolsError(AgentError):
    """The agent could not list its tools for an init: answer 500, start nothing."""


class RolloutFailed(AgentError):
    """The agent's rollout failed; the message starts with rolloutctl's error category."""


class RolloutTimedOut(RolloutFailed, TimeoutError):
    """The rollout ran past its time limit; a TimeoutError, so the SDK reports `timeout`."""


# ---- a rollout or a call that failed (exit 1)


class RolloutFailure(RolloutctlError):
    """Ends a rollout as ERROR with a protocol error category."""

    def __init__(self, category: ErrorCategory, message: str) -> None:
        super().__init__(message)
        self.category = category


class TrainerError(RolloutctlError):
    """A trainer call that failed for good; `category` is its ERROR category in docs/protocol.md."""

    def __init__(
        self,
        message: str,
        category: ErrorCategory,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.status_code = status_code
        self.retry_after = retry_after
        self.attempts = 1

    def __str__(self) -> str:
        return self.message if self.attempts == 1 else f"{self.message} ({self.attempts} tries)"


class ServerBusy(RolloutctlError):
    """The server is draining or its queue is full: answer 503 with Retry-After."""


class StoreUnavailable(RolloutctlError):
    """The shared store cannot be reached: init answers 503, since no rollout may run
    without a record that makes its repeats idempotent."""


class UpstreamError(RolloutctlError):
    """The proxied model failed; the chat call is answered with `status_code`."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


class StreamEnded(RolloutctlError):
    """The trainer closed the event stream (it stopped) before the watched rollout ended."""


class NoCompletion(RolloutctlError):
    """`try` got no completion: the init failed, or none came within its time limit."""


class InitError(RolloutctlError):
    """The init could not be delivered (connection failure, timeout)."""


class InitRefused(InitError):
    """The RolloutServer answered the init with something other than 202."""

    def __init__(self, status_code: int, detail: Any) -> None:
        hint = _HINTS.get(status_code, "")
        super().__init__(f"init refused with HTTP {status_code}: {_shown(detail)}{hint}")
        self.status_code, self.detail = status_code, detail


def _shown(detail: Any) -> str:
    """A 422's list of `{loc, msg}` as `server_url: why; ...` (it printed as a Python list);
    any other detail as it is."""
    if isinstance(detail, list) and all(
        isinstance(item, dict) and "msg" in item for item in detail
    ):
        return "; ".join(_field_error(item) for item in detail) or "[]"
    return str(detail)


def _field_error(item: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in item.get("loc") or [] if part != "body")
    return f"{where}: {item['msg']}" if where else str(item["msg"])


# What a newcomer most likely did: a 401 is the server's inbound key (not the rollout's
# api_key); a 404 or 405 is a URL with no init route (the trainer's, say, or a typo).
_NO_ROUTE = (
    " (no init route there: is that the RolloutServer's URL, and does it speak this protocol?)"
)
_HINTS = {
    401: " (the server wants its inbound key: give it with --server-key or ROLLOUTCTL_SERVER_KEY)",
    404: _NO_ROUTE,
    405: _NO_ROUTE,
}
