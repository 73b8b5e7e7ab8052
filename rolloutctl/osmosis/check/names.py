"""The names of `check --protocol osmosis`'s checks, in report order.

Apart from the checks (`adapter.py`) so that `rolloutctl check --help` lists them without
importing the SDK; a test keeps the two in step.
"""

from __future__ import annotations

__all__ = ["OSMOSIS_CHECK_NAMES"]

OSMOSIS_CHECK_NAMES = (
    "health",
    "admission",
    "duplicate-409",
    "bad-body-422",
    "no-key-echo",
    "lease",
    "long-poll",
    "chat-bearer",
    "append-only",
    "tools-every-request",
    "shutdown-503",
    "cancel",
)
