"""The names of `check --protocol osmosis`'s checks, in report order.

Apart from the checks (`suite.py`) so that `rolloutctl check --help` lists them without
importing the SDK; `suite.py` asserts that the two agree.
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
