"""Per-rollout scripts: chosen chat answers and completion statuses for single rollouts.

A MockTrainer's policy and fault rates apply to all rollouts alike. `rolloutctl check`
needs one trainer in which each rollout meets its own trainer (a 400 for this one, a
503 then an answer for that one), so a rollout's script, while it lasts, comes first.
They wrap the policy and the completion handler rather than living inside them, so a
trainer with no scripts pays one dictionary lookup per callback.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rolloutctl.errors import UpstreamError
from rolloutctl.events import EventKind
from rolloutctl.trainer.asgi import Handler
from rolloutctl.trainer.policies.base import Policy, Reply, Turn
from rolloutctl.trainer.records import Records

__all__ = [
    "RolloutScript",
    "ScriptEntry",
    "ScriptedCompletions",
    "ScriptedPolicy",
    "make_script",
]

ScriptEntry = Reply | dict[str, Any] | int  # an answer, an assistant message, or an HTTP status


@dataclass(slots=True)
class RolloutScript:
    chat: deque[Reply | int] = field(default_factory=deque)
    completed: deque[int] = field(default_factory=deque)
    delay: float = 0.0  # seconds before each scripted chat answer (holds a rollout running)


def _status(entry: int) -> int:
    if isinstance(entry, bool) or not 400 <= entry <= 599:
        raise ValueError(f"a scripted HTTP status must be 400-599, got {entry!r}")
    return entry


def _chat_entry(entry: ScriptEntry) -> Reply | int:
    if isinstance(entry, Reply):
        return entry
    if isinstance(entry, int):
        return _status(entry)
    if isinstance(entry, dict):
        return Reply(entry, "tool_calls" if entry.get("tool_calls") else "stop")
    raise TypeError(f"a chat script entry is a Reply, a message or a status, not {entry!r}")


def make_script(
    replies: Iterable[ScriptEntry], completed: Iterable[int], delay: float
) -> RolloutScript:
    if delay < 0:
        raise ValueError("delay must be >= 0")
    return RolloutScript(
        deque(_chat_entry(e) for e in replies), deque(_status(s) for s in completed), delay
    )


class ScriptedPolicy(Policy):
    """The trainer's policy, preceded by each rollout's scripted answers (a status raises)."""

    def __init__(self, base: Policy, scripts: dict[str, RolloutScript]) -> None:
        self.base, self.scripts, self.name = base, scripts, base.name

    def describe(self) -> str:
        return self.base.describe()

    async def reply(self, turn: Turn) -> Reply:
        script = self.scripts.get(turn.rollout_id) if self.scripts else None
        if script is None or not script.chat:
            return await self.base.reply(turn)
        entry = script.chat.popleft()
        if isinstance(entry, int):
            raise UpstreamError(entry, f"scripted answer: HTTP {entry}")
        if script.delay:
            await asyncio.sleep(script.delay)
        return entry

    async def aclose(self) -> None:
        await self.base.aclose()


class ScriptedCompletions:
    """The completion handler, preceded by each rollout's scripted statuses (not recorded)."""

    def __init__(
        self, handler: Handler, scripts: dict[str, RolloutScript], records: Records
    ) -> None:
        self.handler, self.scripts, self.records = handler, scripts, records

    async def __call__(
        self, body: dict[str, Any], auth: bytes | None
    ) -> tuple[int, dict[str, Any]]:
        rollout_id = body.get("rollout_id")
        script = self.scripts.get(rollout_id) if self.scripts and rollout_id else None
        if script is None or not script.completed:
            return await self.handler(body, auth)
        status = script.completed.popleft()
        self.records.emit(
            EventKind.COMPLETION, str(rollout_id), {"body": body, "status_code": status}
        )
        return status, {"detail": f"scripted answer: HTTP {status}"}
