"""Rollout records: the idempotency store and the state behind the status endpoint.

A record is created when an init is accepted and remembered for `ttl` seconds after
the rollout finished, so repeats of the same `rollout_id` start nothing new. The
store is bounded: past `max_records`, the oldest finished records go first; records of
rollouts still queued or running are never evicted, because idempotency must hold
while they run.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rolloutctl.agent.context import RolloutMetrics

__all__ = ["RolloutRecord", "RolloutRegistry", "RolloutState"]


class RolloutState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"
    DELIVERY_FAILED = "delivery_failed"


@dataclass(slots=True)
class RolloutRecord:
    rollout_id: str
    response_body: bytes
    state: RolloutState = RolloutState.QUEUED
    metrics: RolloutMetrics | None = None
    payload: dict[str, Any] | None = None
    delivered: bool | None = None
    delivery_error: str | None = None
    created_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None

    @property
    def active(self) -> bool:
        return self.state in (RolloutState.QUEUED, RolloutState.RUNNING)

    def status(self) -> dict[str, Any]:
        """The body of GET /v1/rollout/{id}; never holds the api_key."""
        body: dict[str, Any] = {
            "rollout_id": self.rollout_id,
            "state": self.state.value,
            "num_llm_calls": self.metrics.num_llm_calls if self.metrics else 0,
            "num_tool_calls": self.metrics.num_tool_calls if self.metrics else 0,
        }
        if self.payload is not None:
            body["completion"] = self.payload
            body["delivered"] = self.delivered
            if self.delivery_error:
                body["delivery_error"] = self.delivery_error
        return body


class RolloutRegistry:
    """Records by `rollout_id`, in creation order, with a TTL and a size bound."""

    def __init__(self, ttl: float = 3600.0, max_records: int = 100_000) -> None:
        self.ttl = ttl
        self.max_records = max_records
        self._records: OrderedDict[str, RolloutRecord] = OrderedDict()
        # ids dropped early by the size bound (not by age), so that a repeat can be told
        # apart from a new id; bounded like the records themselves
        self.forgotten: OrderedDict[str, None] = OrderedDict()
        self.active = 0
        self.finished = 0

    def get(self, rollout_id: str) -> RolloutRecord | None:
        record = self._records.get(rollout_id)
        if record is not None and self._expired(record, time.monotonic()):
            del self._records[rollout_id]
            return None
        return record

    def add(self, record: RolloutRecord) -> None:
        self._records[record.rollout_id] = record
        self.active += 1
        if len(self._records) > self.max_records:
            self.evict()

    def finish(self, record: RolloutRecord, payload: dict[str, Any]) -> None:
        """Mark `record` finished with `payload` (its delivery is noted separately)."""
        record.payload = payload
        record.state = (
            RolloutState.COMPLETED if payload["status"] == "COMPLETED" else RolloutState.ERROR
        )
        record.finished_at = time.monotonic()
        self.active -= 1
        self.finished += 1

    def evict(self) -> None:
        """Drop expired records, then the oldest finished ones down to 90% of the bound.

        Going below the bound makes eviction a rare batch job instead of a scan per add.
        """
        now = time.monotonic()
        for rollout_id in [k for k, r in self._records.items() if self._expired(r, now)]:
            del self._records[rollout_id]
        excess = len(self._records) - self.max_records * 9 // 10
        for rollout_id in [k for k, r in self._records.items() if not r.active][: max(excess, 0)]:
            del self._records[rollout_id]
            self.forgotten[rollout_id] = None
        while len(self.forgotten) > self.max_records:
            self.forgotten.popitem(last=False)

    def _expired(self, record: RolloutRecord, now: float) -> bool:
        return record.finished_at is not None and now - record.finished_at > self.ttl

    def __len__(self) -> int:
        return len(self._records)
