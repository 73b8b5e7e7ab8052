"""Exit statuses shared by every command, so scripts can rely on them."""

from enum import IntEnum

__all__ = ["ExitStatus"]


class ExitStatus(IntEnum):
    SUCCESS = 0
    FAILURE = 1  # the work failed: rollout ERROR, failed check, protocol violation
    USAGE = 2  # usage or input error: bad option, bad target, unreadable file
    CANNOT_START = 3  # port in use, server did not come up
    INTERRUPTED = 130
