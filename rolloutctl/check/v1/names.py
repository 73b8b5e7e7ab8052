"""The names of `rolloutctl check`'s checks, in report order.

Apart from the checks themselves (`adapter.py`) so that `rolloutctl check --help` can list
them without importing the trainer and the HTTP stack; a test keeps the two in step.
"""

from __future__ import annotations

__all__ = ["CHECK_NAMES"]

CHECK_NAMES = (
    "health",
    "init-tools",
    "init-defaults",
    "no-tool-rollout",
    "tool-rollout",
    "bearer",
    "completion-params",
    "idempotency",
    "max-turns",
    "max-tokens",
    "chat-4xx",
    "chat-503-retry",
    "completed-503-retry",
    "bad-init-422",
    "unknown-fields",
    "concurrent-20",
    "status-endpoint",
)
