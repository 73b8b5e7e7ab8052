"""The record store: the one piece of state a RolloutServer may share with its replicas.

A record is the idempotency record of one `rollout_id`: the first 202 body, the state,
the completion payload and its delivery result. Records are made and changed only by
the process that runs the rollout (its *owner*); a store decides where they live so
that every replica can answer a repeated init and the status endpoint.

A shared store also lets a rollout outlive its owner's death: the owner heartbeats,
and must claim the delivery of each completion (`claim_delivery`) before sending it;
any process may take over the rollouts of an owner whose heartbeat is older than
`owner_timeout` (`scan_lost`, which claims them), and sends each one ERROR
`server_lost`. Whoever claims first delivers; the other sends nothing.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rolloutctl.agent.context import RolloutContext, RolloutMetrics

__all__ = ["Callback", "RecordStore", "RolloutRecord", "RolloutState"]


class RolloutState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"
    DELIVERY_FAILED = "delivery_failed"
    LOST = "lost"  # its owner stopped heartbeating; another process sent ERROR server_lost


@dataclass(frozen=True, slots=True)
class Callback:
    """Where the trainer takes the completion: what a rescuer needs to send it."""

    url: str
    key: str | None = field(default=None, repr=False)


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
    # set by shared stores only: which process runs the rollout, and when it last said so
    owner: str | None = None
    heartbeat_at: float | None = None
    # what a rescuer needs while the rollout is in flight: the trainer's callback and the
    # history so far (the live context on the owner, the last written copy elsewhere)
    callback: Callback | None = field(default=None, repr=False)
    context: RolloutContext | None = field(default=None, repr=False)
    messages: list[dict[str, Any]] | None = field(default=None, repr=False)
    lost_reason: str | None = None  # why the rescue of a lost record tells its trainer

    def history(self) -> list[dict[str, Any]]:
        """The messages as far as the rollout got (as last written, off its owner)."""
        if self.context is not None:
            return self.context.messages
        return self.messages or []

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
        if self.owner is not None:
            body["owner"] = self.owner
            body["heartbeat_at"] = self.heartbeat_at
        return body


class RecordStore(ABC):
    """Where records live. The owner's calls, in order: `claim` once, `changed` after
    each state change, `finish` once, `claim_delivery` before sending the completion;
    anyone may ask `local` and `status`, and `scan_lost` for rollouts to rescue.

    `active` and `finished` count this process's rollouts (for the queue bound and
    /health), whatever the store shares.
    """

    kind: str
    # told of each round trip to a shared store: (kind, seconds, succeeded)
    observe_round_trip: Callable[[str, float, bool], None] | None = None
    active: int
    finished: int
    forgotten: Mapping[str, None]  # ids this process dropped early, by its size bound
    owner: str | None = None  # this process, as shared stores write it into records
    owner_timeout: float = 60.0  # heartbeat age past which an owner counts as lost

    @abstractmethod
    def local(self, rollout_id: str) -> RolloutRecord | None:
        """This process's record of `rollout_id`, without leaving the process."""

    @abstractmethod
    async def claim(self, record: RolloutRecord) -> bytes | None:
        """Make `record` the record of its id, atomically: None when it now is (the
        caller owns the rollout and runs it), else the first 202 body stored for that
        id (the caller starts nothing). Raises StoreUnavailable."""

    @abstractmethod
    def changed(self, record: RolloutRecord) -> None:
        """Note that the owner changed `record` (state, counts, delivery)."""

    def finish(self, record: RolloutRecord, payload: dict[str, Any]) -> None:
        """Mark `record` finished with `payload` (its delivery is noted separately)."""
        record.payload = payload
        record.state = (
            RolloutState.COMPLETED if payload["status"] == "COMPLETED" else RolloutState.ERROR
        )
        record.finished_at = time.monotonic()
        # kept for an hour: not the callback's key nor the history
        record.context = record.callback = record.messages = None
        self.active -= 1
        self.finished += 1
        self.changed(record)

    async def claim_delivery(self, record: RolloutRecord) -> bool:
        """Before the owner sends `record`'s completion (finished, payload set): True when
        it may, False when another process took the delivery over (then send nothing).
        Writes the finished record with the claim; waits while the store is down. A
        store no other process shares always says True."""
        return True

    async def scan_lost(self) -> list[RolloutRecord]:
        """In-flight records of owners whose heartbeat is older than `owner_timeout`,
        each now claimed for delivery by this process, atomically (one rescuer each):
        the caller sends each an ERROR `server_lost`, then `rescued` notes it.
        Raises StoreUnavailable."""
        return []

    def rescued(self, record: RolloutRecord) -> None:
        """Note the rescue of a lost record (its payload, state LOST and delivery set)."""
        self.changed(record)

    @abstractmethod
    async def status(self, rollout_id: str) -> dict[str, Any] | None:
        """The status body of any rollout the store knows, None for an unknown id.
        Raises StoreUnavailable."""

    @abstractmethod
    def evict(self) -> None:
        """Forget what this process holds past its TTL or its size bound."""

    @abstractmethod
    def health(self) -> dict[str, Any]:
        """The store's part of GET /health: at least `kind` and `state` (`up` or not)."""

    @abstractmethod
    async def start(self) -> None:
        """Connect and start background work; a store that is down still starts."""

    @abstractmethod
    async def aclose(self) -> None:
        """Write what is pending (within a bound) and disconnect."""
