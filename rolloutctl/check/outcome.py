"""What the trainer saw of a rollout during `rolloutctl check`, and what is wrong with it.

A `Watch` collects the chat requests and completion posts of some rollouts from the
mock trainer's events; an `Outcome` is the finished record, with the comparisons
most checks share (delivered once, status, finish_reason, the final history).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from rolloutctl.agent.context import Message
from rolloutctl.events import EventKind
from rolloutctl.trainer import MockTrainer, Violation

__all__ = ["Outcome", "Watch"]


class Watch:
    """Chat requests and completion posts of some rollouts, as the trainer's events show them."""

    def __init__(self, trainer: MockTrainer, rollout_ids: Collection[str]) -> None:
        self.ids = frozenset(rollout_ids)
        self._subscription = trainer.subscribe(next(iter(self.ids)) if len(self.ids) == 1 else None)
        self.chats: list[dict[str, Any]] = []
        self.posts: list[tuple[int, dict[str, Any]]] = []  # (status answered, body)
        self._delivered = asyncio.Event()
        self._pump = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for event in self._subscription:
            if event.rollout_id not in self.ids:
                continue
            if event.kind is EventKind.CHAT_REQUEST:
                self.chats.append(event.data["body"])
            elif event.kind is EventKind.COMPLETION:
                self.posts.append((event.data["status_code"], event.data["body"]))
                if event.data["status_code"] == 200:
                    self._delivered.set()

    async def delivered(self, timeout: float) -> bool:
        """Whether a completion post was accepted (answered 200) within `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._delivered.wait(), timeout)
        return self._delivered.is_set()

    async def close(self) -> None:
        self._subscription.close()
        await self._pump


@dataclass
class Outcome:
    """One rollout as the trainer saw it, from init to the end of the listening time."""

    rollout_id: str
    init: dict[str, Any]
    chats: list[dict[str, Any]] = field(default_factory=list)
    posts: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    waited: float = 0.0
    error: str | None = None  # the init was not accepted
    refused_status: int | None = None  # the HTTP status that refused it, if one did

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        return [body for status, body in self.posts if status == 200]

    @property
    def completion(self) -> dict[str, Any] | None:
        return self.deliveries[0] if self.deliveries else None

    def problems(self) -> list[str]:
        """What every check minds: no completion, more than one, the trainer's violations."""
        if self.error:
            return [self.error]
        found = [] if self.deliveries else [f"no completion within {self.waited:g} s"]
        if len(self.deliveries) > 1:
            found.append(f"the completion was delivered {len(self.deliveries)} times")
        return found + [f"{v.rule}: {v.message}" for v in self.violations]

    def expect(self, status: str, finish_reason: str, llm_calls: int | None) -> list[str]:
        """The completion's status and finish_reason, and the number of chat requests."""
        completion, found = self.completion or {}, []
        if completion and completion.get("status") != status:
            error = completion.get("error_message")
            detail = f": {error}" if error else ""
            found.append(f"status {completion.get('status')!r}, expected {status}{detail}")
        reason = completion.get("finish_reason")
        if completion and reason != finish_reason:
            found.append(f"finish_reason {reason!r}, expected {finish_reason!r}")
        if llm_calls is not None and len(self.chats) != llm_calls and not self.error:
            found.append(f"{len(self.chats)} chat request(s), expected {llm_calls}")
        return found

    def history(self, appended: list[Message]) -> list[str]:
        """final_messages against the initial messages plus what the rollout should append;
        a tool message is given as {"role": "tool", "tool_call_id": id} (content unknown)."""
        if self.completion is None:
            return []
        final = self.completion.get("final_messages")
        expected = [*self.init["messages"], *appended]
        if not isinstance(final, list) or len(final) != len(expected):
            size = len(final) if isinstance(final, list) else "no"
            return [f"final_messages has {size} messages, expected {len(expected)}"]
        for index, (got, want) in enumerate(zip(final, expected, strict=True)):
            if not _matches(got, want):
                role = want.get("role")
                return [f"final_messages[{index}] ({role}) is not the message sent or expected"]
        return []


def _matches(got: Any, want: Message) -> bool:
    """Verbatim but for None fields; a tool message by role, call id and string content."""
    if not isinstance(got, dict):
        return False
    if want.get("role") == "tool" and "content" not in want:
        same_call = got.get("role") == "tool" and got.get("tool_call_id") == want["tool_call_id"]
        return same_call and isinstance(got.get("content"), str)

    def bare(message: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in message.items() if v is not None}

    return bare(got) == bare(want)
