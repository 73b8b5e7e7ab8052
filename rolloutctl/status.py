"""Exit statuses shared by every command, and the ERROR categories of a rollout.

Both are plain enums with no dependencies, so `errors` can use them at start-up.
"""

from enum import IntEnum, StrEnum

__all__ = ["ErrorCategory", "ExitStatus"]


class ExitStatus(IntEnum):
    SUCCESS = 0
    FAILURE = 1  # the work failed: rollout ERROR, failed check, protocol violation
    USAGE = 2  # usage or input error: bad option, bad target, unreadable file
    CANNOT_START = 3  # port in use, server did not come up
    INTERNAL = 4  # a bug in rolloutctl itself (never the fault of the server under test)
    INTERRUPTED = 130


class ErrorCategory(StrEnum):
    """The `error_category` of an ERROR completion (docs/protocol.md)."""

    TIMEOUT = "timeout"
    TRAINER_SERVER_ERROR = "trainer_server_error"
    TRAINER_CLIENT_ERROR = "trainer_client_error"
    CONNECTION_ERROR = "connection_error"
    AGENT_ERROR = "agent_error"
    SHUTDOWN = "shutdown"
    INTERNAL_ERROR = "internal_error"
    # rolloutctl's, not the protocol's: the replica running the rollout stopped
    # heartbeating in the shared store and another one ended it (docs/protocol.md)
    SERVER_LOST = "server_lost"
