"""What every shared store (Redis, SQLite) does around its own reads and writes.

This process's records stay in memory (as MemoryStore); the shared copy is made by
one atomic claim on the init path, then kept up to date off the hot path: a change
marks the record dirty and one background task writes the latest state of every
dirty record in one batch, so changes close together cost one write. While the
store is down, dirty records wait and are written when it returns; a running
rollout never waits for the store, but its completion waits for its delivery claim.

Owners: every `heartbeat_interval` the process tells the store it is alive (`_beat`)
and rewrites the records of rollouts that made progress since their last write, so
a rescuer knows the history as of the last heartbeat. `scan_lost` takes over the
rollouts of owners that are dead processes of this machine (`owner_dead`: at once)
or silent for `owner_timeout` (`_take_lost`, atomic in the store); a process trusts
silence only once it has reached the store for `owner_timeout` itself, since silence
during its own outage proves nothing. The rescuer becomes the rollouts' owner until
it has delivered, so a rescuer that dies mid-delivery is rescued in turn. A beat that
finds the store without this owner (it restarted empty) writes back every record the
process holds.

A backend implements `_insert`, `_read`, `_write`, `_disconnect`, and for owners
`_beat`, `_claim_delivery`, `_take_lost` (and `_restore`, for a store that can lose
its data); the defaults of the last four keep a backend without them working, with
no rescue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import abstractmethod
from typing import Any

from rolloutctl.errors import StoreUnavailable
from rolloutctl.redaction import one_line
from rolloutctl.server.store.base import RolloutRecord
from rolloutctl.server.store.memory import MemoryStore
from rolloutctl.server.store.owner_ids import default_owner

__all__ = [
    "BATCH",
    "CLOSE_TIMEOUT",
    "RETRY_DELAY",
    "SCAN_BATCH",
    "SharedStore",
    "shared_value",
]

log = logging.getLogger("rolloutctl.server")

RETRY_DELAY = 1.0  # seconds between attempts to reach a store that is down
BATCH = 500  # records per write
SCAN_BATCH = 1000  # lost rollouts taken over per scan
CLOSE_TIMEOUT = 5.0  # seconds to write what is pending at shutdown


class SharedStore(MemoryStore):
    """A MemoryStore whose records every process using the same store can see."""

    write_linger = 0.0  # seconds a write waits for more changes to write with it

    def __init__(
        self,
        url: str,
        prefix: str = "rolloutctl",
        ttl: float = 3600.0,
        max_records: int = 100_000,
        heartbeat_interval: float = 10.0,
        owner_timeout: float = 60.0,
        owner: str | None = None,
    ) -> None:
        super().__init__(ttl, max_records)
        self.prefix = prefix
        self.owner: str = owner or default_owner()
        self.heartbeat_interval, self.owner_timeout = heartbeat_interval, owner_timeout
        self.up = False
        self.up_since: float | None = None  # monotonic time the store became reachable
        self.last_error: str | None = "not connected yet"
        self.restored = self.rescued_count = 0
        self._dirty: dict[str, RolloutRecord] = {}
        self._restoring: set[str] = set()  # dirty ids to write only where no record is
        self._running: dict[str, RolloutRecord] = {}  # claimed, delivery not yet claimed
        self._progress: dict[str, int] = {}  # id -> calls made when last written
        self._wake = asyncio.Event()
        self._beat_now = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._configure(url)

    @abstractmethod
    def _configure(self, url: str) -> None:
        """Set up the client of the store at `url` (without connecting)."""

    @abstractmethod
    async def _insert(self, record: RolloutRecord) -> bytes | None:
        """Store `record` unless its id has a live record: None when stored, else the
        first 202 body of that id. Raises StoreUnavailable."""

    @abstractmethod
    async def _read(self, rollout_id: str) -> dict[str, Any] | None:
        """The shared status body of `rollout_id`. Raises StoreUnavailable."""

    @abstractmethod
    async def _write(self, records: list[RolloutRecord]) -> None:
        """Write `records` (none: just check the store is reachable), except those whose
        delivery another process claimed. Raises StoreUnavailable."""

    @abstractmethod
    async def _disconnect(self) -> None:
        """Close the connection(s)."""

    async def _beat(self) -> bool:
        """Tell the store this owner is alive: True when the store did not know it (after
        a first beat: the store lost its data). Raises StoreUnavailable. Default: the
        running records' rewrite is the heartbeat."""
        for record in list(self._running.values()):
            self.changed(record)
        return False

    async def _claim_delivery(self, record: RolloutRecord) -> bool:
        """Atomically: unless another process claimed the delivery of `record`, claim it
        and write the record. Raises StoreUnavailable. Default: no rescuer exists."""
        await self._write([record])
        return True

    async def _take_lost(self, limit: int, silent_too: bool) -> list[RolloutRecord]:
        """Atomically claim the deliveries of at most `limit` in-flight records of owners
        that are dead processes of this machine and, when `silent_too`, of owners silent
        for `owner_timeout`, with their callback and history; this process owns them
        from then on (until `rescued`). Default: none."""
        return []

    async def _restore(self, records: list[RolloutRecord]) -> None:
        """Write `records` back where the store has no record of their ids."""
        await self._write(records)

    async def start(self) -> None:
        try:
            await self._write([])
            await self._beat()
        except StoreUnavailable:
            log.warning("record store unavailable at start: %s (retrying)", self.last_error)
        self._tasks = [
            asyncio.create_task(self._sync_forever()),
            asyncio.create_task(self._beat_forever()),
        ]

    async def claim(self, record: RolloutRecord) -> bytes | None:
        first = self.local(record.rollout_id)
        if first is not None:
            return first.response_body
        if not self.up:  # fail fast; the sync task notices when the store is back
            raise StoreUnavailable(f"record store unavailable: {self.last_error}")
        record.owner, record.heartbeat_at = self.owner, time.time()
        body = await self._insert(record)
        if body is not None:
            return body
        self.keep(record)
        self._running[record.rollout_id] = record
        return None

    def changed(self, record: RolloutRecord) -> None:
        record.heartbeat_at = time.time()
        if not record.active:
            self._running.pop(record.rollout_id, None)
        self._dirty[record.rollout_id] = record
        self._wake.set()

    async def claim_delivery(self, record: RolloutRecord) -> bool:
        self._dirty.pop(record.rollout_id, None)  # the claim writes it
        self._running.pop(record.rollout_id, None)
        while True:
            try:
                won = await self._claim_delivery(record)
            except StoreUnavailable:
                await asyncio.sleep(RETRY_DELAY)
                continue
            if not won:  # a rescuer's record is the id's record now: status reads it
                self._records.pop(record.rollout_id, None)
            return won

    async def scan_lost(self) -> list[RolloutRecord]:
        if not self.up:
            return []
        up_for = time.monotonic() - self.up_since if self.up_since is not None else 0.0
        return await self._take_lost(SCAN_BATCH, up_for >= self.owner_timeout)

    def rescued(self, record: RolloutRecord) -> None:
        self.rescued_count += 1
        self.changed(record)

    async def status(self, rollout_id: str) -> dict[str, Any] | None:
        record = self.local(rollout_id)
        if record is not None:
            return record.status()
        if not self.up:
            raise StoreUnavailable(f"record store unavailable: {self.last_error}")
        return await self._read(rollout_id)

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "state": "up" if self.up else "unavailable",
            "owner": self.owner,
            "prefix": self.prefix,
            "pending_writes": len(self._dirty),
            "owner_timeout": self.owner_timeout,
            "rescued": self.rescued_count,
            "restored": self.restored,
        }
        if not self.up:
            body["error"] = self.last_error
        return body

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._dirty and self.up:
            with contextlib.suppress(StoreUnavailable, TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    while self._dirty:
                        await self._write_batch(self._take())
        if self._dirty:
            log.warning("record store: %d record change(s) not written", len(self._dirty))
        await self._disconnect()

    async def _sync_forever(self) -> None:
        """Write dirty records as they come; while the store is down, retry each second."""
        while True:
            if self.up:
                await self._wake.wait()
                if self.write_linger:  # let the changes of the next moments join the batch
                    await asyncio.sleep(self.write_linger)
            self._wake.clear()
            batch = self._take()
            try:
                await self._write_batch(batch)
            except StoreUnavailable:
                for record in batch:
                    self._dirty.setdefault(record.rollout_id, record)
                await asyncio.sleep(RETRY_DELAY)
                continue
            if self._dirty:
                self._wake.set()

    def _take(self) -> list[RolloutRecord]:
        ids = list(self._dirty)[:BATCH]
        return [self._dirty.pop(rollout_id) for rollout_id in ids]

    async def _write_batch(self, records: list[RolloutRecord]) -> None:
        """Write changes, and restored records only where no record is now."""
        restoring = [r for r in records if r.rollout_id in self._restoring]
        changes = [r for r in records if r.rollout_id not in self._restoring]
        if changes or not records:
            await self._write(changes)
        if restoring:
            await self._restore(restoring)
            self._restoring.difference_update(r.rollout_id for r in restoring)

    async def _beat_forever(self) -> None:
        """Heartbeat each interval, and at once when the store is back."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.heartbeat_interval):
                    await self._beat_now.wait()
            self._beat_now.clear()
            try:
                if await self._beat():
                    self._write_back()
            except StoreUnavailable:
                await asyncio.sleep(RETRY_DELAY)
                continue
            self._rewrite_progress()

    def _write_back(self) -> None:
        """The store lost this process's records (restarted empty): write them all back."""
        log.warning("record store lost this process's records (restarted?): writing back")
        self.restored += 1
        for record in list(self._records.values()):
            self._restoring.add(record.rollout_id)
            self.changed(record)

    def _rewrite_progress(self) -> None:
        """Mark dirty the rollouts in flight that called the model or a tool since their
        last write: a rescuer sends the history as of then."""
        for rollout_id, record in self._running.items():
            metrics = record.metrics
            calls = metrics.num_llm_calls + metrics.num_tool_calls if metrics else 0
            if self._progress.get(rollout_id, 0) != calls:
                self._progress[rollout_id] = calls
                self.changed(record)
        for rollout_id in [i for i in self._progress if i not in self._running]:
            del self._progress[rollout_id]

    def _observed(self, started: float, ok: bool) -> None:
        """Tell the server's observer of one round trip begun at `started` (perf_counter)."""
        if self.observe_round_trip is not None:
            self.observe_round_trip(self.kind, time.perf_counter() - started, ok)

    def _mark_down(self, exc: BaseException) -> StoreUnavailable:
        """Note the store down because of `exc`; the StoreUnavailable to raise."""
        self.last_error = one_line(f"{type(exc).__name__}: {exc}".removesuffix(": "))
        if self.up:
            log.warning("record store unavailable: %s", self.last_error)
        self.up, self.up_since = False, None
        self._wake.set()
        return StoreUnavailable(f"record store unavailable: {self.last_error}")

    def _mark_up(self) -> None:
        if not self.up:
            log.info("record store reachable")
            self.up_since = time.monotonic()
            self._beat_now.set()
        self.up, self.last_error = True, None


def shared_value(record: RolloutRecord) -> dict[str, Any]:
    """What a shared store keeps of `record`: the first 202 body and the status body."""
    return {"body": record.response_body.decode(), "status": record.status()}
