"""What the mock trainer remembers: per-rollout state, completions and violations.

Shared by the chat and completion handlers (which run in the app's loop) and the
init sender (which runs in the caller's loop); dict operations are atomic, and
wake-ups go through `bus` so both sides may live in different threads.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from hmac import compare_digest
from typing import TYPE_CHECKING, Any

from rolloutctl.events import Event, EventKind
from rolloutctl.trainer.bus import EventBus, Waiters
from rolloutctl.trainer.violations import Violation, bearer_finding

if TYPE_CHECKING:
    from rolloutctl.observe.trainer_metrics import TrainerMetrics

__all__ = ["UNAUTHORIZED", "Records", "TrainerRolloutRecord"]

log = logging.getLogger("rolloutctl.trainer")
UNAUTHORIZED = (401, {"detail": "Authorization: missing or wrong Bearer token"})


@dataclass(slots=True, eq=False)
class TrainerRolloutRecord:
    rollout_id: str
    started: bool = False  # init sent by this trainer, so its fields below are known
    api_key: str | None = None
    completion_params: dict[str, Any] = field(default_factory=dict)
    max_turns: int | None = None
    tools: list[dict[str, Any]] | None = None
    request_tools: list[dict[str, Any]] | None = None  # 0.3 protocol: the first chat's `tools`
    init_pending: bool = False  # init sent, 202 not read yet: tools still unknown
    tools_known: Waiters = field(default_factory=Waiters)
    turns: int = 0  # chat calls answered with 200
    last_messages: list[dict[str, Any]] | None = None
    last_reply: dict[str, Any] | None = None  # the assistant message returned last
    last_response: dict[str, Any] | None = None  # served again to a retried request
    completion: dict[str, Any] | None = None  # the first completion payload
    completed: Waiters = field(default_factory=Waiters)
    violations: list[Violation] = field(default_factory=list)
    first_seen: float = field(default_factory=time.time)
    # perf_counter times, for bench's split of a turn: (request in, answer out, tool calls
    # the answer asks for) per chat call, and when the first completion came in
    calls: list[tuple[float, float, int]] = field(default_factory=list)
    completed_at: float | None = None

    def answered(
        self, messages: list[dict[str, Any]], reply: dict[str, Any], response: dict[str, Any]
    ) -> None:
        """A chat call got a 200: what the next request must extend."""
        self.last_messages, self.last_reply, self.last_response = messages, reply, response
        self.turns += 1

    def finished(self, completion: dict[str, Any]) -> None:
        """The first completion: chat-time state is no longer needed (memory, in long runs)."""
        self.completion = completion
        self.last_messages = self.last_reply = self.last_response = None


class Records:
    def __init__(
        self,
        bus: EventBus,
        expect_api_key: str | None = None,
        metrics: TrainerMetrics | None = None,
    ) -> None:
        self.bus = bus
        self.metrics = metrics
        self.rollouts: dict[str, TrainerRolloutRecord] = {}
        self.completions: dict[str, dict[str, Any]] = {}
        self.violations: list[Violation] = []
        self._expected = b"Bearer " + expect_api_key.encode() if expect_api_key else None

    def state(self, rollout_id: str) -> TrainerRolloutRecord:
        """The rollout's state, created on first sight."""
        state = self.rollouts.get(rollout_id)
        if state is None:
            state = self.rollouts[rollout_id] = TrainerRolloutRecord(rollout_id)
        return state

    def emit(self, kind: EventKind, rollout_id: str, data: dict[str, Any]) -> None:
        if self.bus.active:
            self.bus.publish(Event(kind, rollout_id, data))

    def report(self, rollout_id: str, rule: str, message: str) -> None:
        """Record a protocol violation: stored, logged as a warning and published."""
        violation = Violation(rule, rollout_id, message)
        self.violations.append(violation)
        if self.metrics is not None:
            self.metrics.violation(rule)
        state = self.rollouts.get(rollout_id)
        if state is not None:
            state.violations.append(violation)
        log.warning("protocol violation [%s] rollout %s: %s", rule, rollout_id, message)
        self.emit(EventKind.VIOLATION, rollout_id, {"rule": rule, "message": message})

    def authorize(self, state: TrainerRolloutRecord, header: bytes | None) -> bool:
        """Check the callback's Bearer; False means: answer 401 (expect_api_key not met)."""
        if state.started:
            finding = bearer_finding(state.api_key, header)
            if finding:
                self.report(state.rollout_id, *finding)
        if self._expected is None:
            return True
        return header is not None and compare_digest(header, self._expected)

    def forget(self, rollout_id: str) -> None:
        """Drop everything about a rollout (long benchmarks keep memory flat this way)."""
        self.rollouts.pop(rollout_id, None)
        self.completions.pop(rollout_id, None)
