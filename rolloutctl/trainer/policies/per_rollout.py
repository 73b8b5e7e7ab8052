"""Per-rollout plans: chosen chat answers and completion statuses for single rollouts.

A MockTrainer's policy and fault rates apply to all rollouts alike. `rolloutctl check`
needs one trainer in which each rollout meets its own trainer (a 400 for this one, a
503 then an answer for that one), so a rollout's plan, while it lasts, comes first.
They wrap the policy and the completion handler rather than living inside them, so a
trainer with no plans pays one dictionary lookup per callback. (Not `--policy script`,
which replays a file of replies for every rollout: see `registry.ReplyFilePolicy`.)
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
    "PerRolloutCompletions",
    "PerRolloutPolicy",
    "PlannedAnswer",
    "RolloutPlan",
    "make_plan",
]

PlannedAnswer = Reply | dict[str, Any] | int  # an answer, an assistant message, or an HTTP status


@dataclass(slots=True)
class RolloutPlan:
    chat: deque[Reply | int] = field(default_factory=deque)
    completed: deque[int] = field(default_factory=deque)
    delay: float = 0.0  # seconds before each planned chat answer (holds a rollout running)


def _status(entry: int) -> int:
    if isinstance(entry, bool) or not 400 <= entry <= 599:
        raise ValueError(f"a planned HTTP status must be 400-599, got {entry!r}")
    return entry


def _chat_entry(entry: PlannedAnswer) -> Reply | int:
    if isinstance(entry, Reply):
        return entry
    if isinstance(entry, int):
        return _status(entry)
    if isinstance(entry, dict):
        return Reply(entry, "tool_calls" if entry.get("tool_calls") else "stop")
    raise TypeError(f"a planned chat answer is a Reply, a message or a status, not {entry!r}")


def make_plan(
    replies: Iterable[PlannedAnswer], completed: Iterable[int], delay: float
) -> RolloutPlan:
    if delay < 0:
        raise ValueError("delay must be >= 0")
    return RolloutPlan(
        deque(_chat_entry(e) for e in replies), deque(_status(s) for s in completed), delay
    )


class PerRolloutPolicy(Policy):
    """The trainer's policy, preceded by each rollout's planned answers (a status raises)."""

    def __init__(self, base: Policy, plans: dict[str, RolloutPlan]) -> None:
        self.base, self.plans, self.name = base, plans, base.name

    def describe(self) -> str:
        return self.base.describe()

    async def reply(self, turn: Turn) -> Reply:
        plan = self.plans.get(turn.rollout_id) if self.plans else None
        if plan is None or not plan.chat:
            return await self.base.reply(turn)
        entry = plan.chat.popleft()
        if isinstance(entry, int):
            raise UpstreamError(entry, f"planned answer: HTTP {entry}")
        if plan.delay:
            await asyncio.sleep(plan.delay)
        return entry

    async def aclose(self) -> None:
        await self.base.aclose()


class PerRolloutCompletions:
    """The completion handler, preceded by each rollout's planned statuses (not recorded)."""

    def __init__(self, handler: Handler, plans: dict[str, RolloutPlan], records: Records) -> None:
        self.handler, self.plans, self.records = handler, plans, records

    async def __call__(
        self, body: dict[str, Any], auth: bytes | None
    ) -> tuple[int, dict[str, Any]]:
        rollout_id = body.get("rollout_id")
        plan = self.plans.get(rollout_id) if self.plans and rollout_id else None
        if plan is None or not plan.completed:
            return await self.handler(body, auth)
        status = plan.completed.popleft()
        self.records.emit(
            EventKind.COMPLETION, str(rollout_id), {"body": body, "status_code": status}
        )
        return status, {"detail": f"planned answer: HTTP {status}"}
