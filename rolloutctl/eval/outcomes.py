"""What one eval rollout amounts to: passed, failed, error or grader_error.

The pass rate must measure the model, not the machinery around it: a trainer that
could not be reached, a timeout or a lost server says nothing about the answer, so
such a rollout is an `error`, kept out of the pass rate and never given a reward of 0.
`failed` is the answer's fault (a reward below 1, or the agent under test failing);
`grader_error` is the user's grader raising.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = [
    "INFRASTRUCTURE",
    "Kind",
    "classify",
    "describe",
]

Kind = Literal["passed", "failed", "error", "grader_error"]

# Categories that blame what surrounds the model: the trainer, the network, time, the
# server's life; `agent_error` is not here, the agent is part of what is evaluated.
INFRASTRUCTURE = frozenset(
    {
        "timeout",
        "trainer_server_error",
        "trainer_client_error",
        "connection_error",
        "shutdown",
        "server_lost",
        "internal_error",
        "init_refused",
        "init_error",
        "no_completion",
    }
)
MESSAGE_CHARS = 300  # of an error message kept for the summary


def classify(record: dict[str, Any]) -> Kind:
    """The kind of one results.jsonl record (older records carry no `outcome`)."""
    kind = record.get("outcome")
    if kind in ("passed", "failed", "error", "grader_error"):
        return kind
    if record.get("status") != "COMPLETED":
        return "error" if record.get("error_category") in INFRASTRUCTURE else "failed"
    if record.get("grader_error"):
        return "grader_error"
    reward = record.get("reward")
    return "failed" if reward is not None and reward < 1.0 else "passed"


def describe(record: dict[str, Any]) -> str | None:
    """Why a rollout did not pass, in one short line (None when it passed)."""
    kind = classify(record)
    if kind == "passed":
        return None
    if kind == "grader_error":
        text = f"grader_error: {record['grader_error']}"
    elif record.get("status") != "COMPLETED":
        text = f"{record.get('error_category')}: {record.get('error_message') or ''}".rstrip()
    else:
        text = f"reward {record.get('reward')}"
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"
