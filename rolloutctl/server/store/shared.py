"""What every shared store (Redis, SQLite) does around its own reads and writes.

This process's records stay in memory (as MemoryStore); the shared copy is made by
one atomic claim on the init path, then kept up to date off the hot path: a change
marks the record dirty and one background task writes the latest state of every
dirty record in one batch, so changes close together cost one write. While the
store is down, dirty records wait and are written when it returns; a running
rollout never waits for the store. Running records are written again every
`heartbeat_interval`, so their owner's heartbeat shows it is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from abc import abstractmethod
from typing import Any

from rolloutctl.errors import StoreUnavailable
from rolloutctl.redaction import one_line
from rolloutctl.server.store.base import RolloutRecord
from rolloutctl.server.store.memory import MemoryStore

__all__ = ["BATCH", "CLOSE_TIMEOUT", "RETRY_DELAY", "SharedStore", "default_owner", "shared_value"]

log = logging.getLogger("rolloutctl.server")

RETRY_DELAY = 1.0  # seconds between attempts to reach a store that is down
BATCH = 500  # records per write
CLOSE_TIMEOUT = 5.0  # seconds to write what is pending at shutdown


def default_owner() -> str:
    """host:pid: the pod name under Kubernetes, so an operator can find the process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class SharedStore(MemoryStore):
    """A MemoryStore whose records every process using the same store can see."""

    def __init__(
        self,
        url: str,
        prefix: str = "rolloutctl",
        ttl: float = 3600.0,
        max_records: int = 100_000,
        heartbeat_interval: float = 10.0,
    ) -> None:
        super().__init__(ttl, max_records)
        self.prefix = prefix
        self.owner = default_owner()
        self.heartbeat_interval = heartbeat_interval
        self.up = False
        self.last_error: str | None = "not connected yet"
        self._dirty: dict[str, RolloutRecord] = {}
        self._running: dict[str, RolloutRecord] = {}
        self._wake = asyncio.Event()
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
        """Write `records` (none: just check the store is reachable). Raises StoreUnavailable."""

    @abstractmethod
    async def _disconnect(self) -> None:
        """Close the connection(s)."""

    async def start(self) -> None:
        try:
            await self._write([])
        except StoreUnavailable:
            log.warning("record store unavailable at start: %s (retrying)", self.last_error)
        self._tasks = [
            asyncio.create_task(self._sync_forever()),
            asyncio.create_task(self._heartbeat_forever()),
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
                        await self._write(self._take())
        if self._dirty:
            log.warning("record store: %d record change(s) not written", len(self._dirty))
        await self._disconnect()

    async def _sync_forever(self) -> None:
        """Write dirty records as they come; while the store is down, retry each second."""
        while True:
            if self.up:
                await self._wake.wait()
            self._wake.clear()
            batch = self._take()
            try:
                await self._write(batch)
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

    async def _heartbeat_forever(self) -> None:
        """Refresh the heartbeat (and TTL) of running records: their owner is alive."""
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            for record in list(self._running.values()):
                self.changed(record)

    def _mark_down(self, exc: BaseException) -> StoreUnavailable:
        """Note the store down because of `exc`; the StoreUnavailable to raise."""
        self.last_error = one_line(f"{type(exc).__name__}: {exc}")
        if self.up:
            log.warning("record store unavailable: %s", self.last_error)
        self.up = False
        self._wake.set()
        return StoreUnavailable(f"record store unavailable: {self.last_error}")

    def _mark_up(self) -> None:
        if not self.up:
            log.info("record store reachable")
        self.up, self.last_error = True, None


def shared_value(record: RolloutRecord) -> dict[str, Any]:
    """What a shared store keeps of `record`: the first 202 body and the status body."""
    return {"body": record.response_body.decode(), "status": record.status()}
