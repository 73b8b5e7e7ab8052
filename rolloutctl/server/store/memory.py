"""Records in this process's memory: the default, for a server that runs alone.

A record is remembered for `ttl` seconds after the rollout finished, so repeats of the
same `rollout_id` start nothing new. The store is bounded: past `max_records`, the
oldest finished records go first; records of rollouts still queued or running are
never evicted, because idempotency must hold while they run.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from rolloutctl.server.store.base import RecordStore, RolloutRecord

__all__ = ["MemoryStore"]


class MemoryStore(RecordStore):
    """Records by `rollout_id`, in creation order, with a TTL and a size bound."""

    kind = "memory"

    def __init__(self, ttl: float = 3600.0, max_records: int = 100_000) -> None:
        self.ttl = ttl
        self.max_records = max_records
        self._records: OrderedDict[str, RolloutRecord] = OrderedDict()
        # ids dropped early by the size bound (not by age), so that a repeat can be told
        # apart from a new id; bounded like the records themselves
        self.forgotten: OrderedDict[str, None] = OrderedDict()
        self.active = 0
        self.finished = 0

    def local(self, rollout_id: str) -> RolloutRecord | None:
        record = self._records.get(rollout_id)
        if record is not None and self._expired(record, time.monotonic()):
            del self._records[rollout_id]
            return None
        return record

    async def claim(self, record: RolloutRecord) -> bytes | None:
        # no await before the insert: within one event loop this is atomic
        first = self.local(record.rollout_id)
        if first is not None:
            return first.response_body
        self.keep(record)
        return None

    def keep(self, record: RolloutRecord) -> None:
        """Hold a record this process owns (and count it as active)."""
        self._records[record.rollout_id] = record
        self.active += 1
        if len(self._records) > self.max_records:
            self.evict()

    def changed(self, record: RolloutRecord) -> None:
        """Nothing to do: the record object is the stored one."""

    async def status(self, rollout_id: str) -> dict[str, Any] | None:
        record = self.local(rollout_id)
        return None if record is None else record.status()

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

    def health(self) -> dict[str, Any]:
        return {"kind": self.kind, "state": "up"}

    async def start(self) -> None:
        """Nothing to connect to."""

    async def aclose(self) -> None:
        """Nothing to write or close."""

    def _expired(self, record: RolloutRecord, now: float) -> bool:
        return record.finished_at is not None and now - record.finished_at > self.ttl

    def __len__(self) -> int:
        return len(self._records)
