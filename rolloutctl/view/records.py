"""What the viewer reads out of one eval record: its prompt, its answer, and whether (and
how) it failed. One definition each, for the index, the rows table and the rollout page."""

from __future__ import annotations

from typing import Any

from rolloutctl.eval.results import Outcome
from rolloutctl.trajectory.document import conversation
from rolloutctl.trajectory.text import display_content

__all__ = ["answer_of", "failure_category", "prompt_of", "search_text"]


def search_text(record: dict[str, Any], chars: int) -> str:
    """What the free-text search looks in: the row's id, prompt and answer, lower-cased."""
    traj = record.get("trajectory") or {}
    prompt, answer = prompt_of(traj)[:chars], answer_of(traj)[:chars]
    return f"{record.get('id') or ''}\x00{prompt}\x00{answer}\x01".casefold()


def prompt_of(traj: dict[str, Any]) -> str:
    """The user messages of the init, joined: what the row asked. A trajectory read from
    another format has no init: its first turn's messages are the prompt."""
    turns = traj.get("turns") or [{}]
    messages = (traj.get("init") or {}).get("messages") or turns[0].get("added") or []
    return "\n".join(display_content(m.get("content")) for m in messages if m.get("role") == "user")


def answer_of(traj: dict[str, Any]) -> str:
    """The content of the last assistant message: the rollout's final answer."""
    for message in reversed(conversation(traj)):
        if message.get("role") == "assistant" and message.get("content"):
            return display_content(message["content"])
    return ""


def failure_category(outcome: Outcome) -> str | None:
    """Where a rollout that did not pass (by eval's own verdict, `Outcome.kind`) is grouped:
    its error category, `grader_error`, or `low_reward` (a reward below 1)."""
    if outcome.kind == "passed":
        return None
    if outcome.kind == "grader_error":
        return "grader_error"
    if outcome.status != "COMPLETED":
        return outcome.category or outcome.status.lower()
    return "low_reward"
