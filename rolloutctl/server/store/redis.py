"""Records shared through Redis (or Valkey), so replicas behind a load balancer act as one.

One key per rollout, `{prefix}:rollout:{rollout_id}`, holding JSON `{"body": <first 202
body>, "status": <status body>}`. The replica that wins `SET NX` (one round-trip, on
the init path) owns the rollout and is the only writer of its key afterwards; every
write sets the TTL again, so a record lives `ttl` seconds past its last change.

Writes after the claim are off the hot path: a change marks the record dirty and one
background task writes the latest state of every dirty record in a pipeline, so
changes close together cost one round-trip. When Redis is down, dirty records wait
and are written when it returns; a running rollout never waits for the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from rolloutctl.errors import StoreUnavailable
from rolloutctl.redaction import one_line
from rolloutctl.server.store.base import RolloutRecord
from rolloutctl.server.store.memory import MemoryStore

__all__ = ["BATCH", "CLOSE_TIMEOUT", "RETRY_DELAY", "STORE_ERRORS", "RedisStore", "default_owner"]

log = logging.getLogger("rolloutctl.server")

RETRY_DELAY = 1.0  # seconds between attempts to reach a Redis that is down
BATCH = 500  # records per pipeline
CLOSE_TIMEOUT = 5.0  # seconds to write what is pending at shutdown
STORE_ERRORS = (RedisError, OSError)


def default_owner() -> str:
    """host:pid: the pod name under Kubernetes, so an operator can find the process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class RedisStore(MemoryStore):
    """This process's records in memory (as MemoryStore), every record shared in Redis."""

    kind = "redis"

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
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=2.0,
            socket_connect_timeout=1.0,
            # retries reconnect a pooled connection that a Redis restart broke; a retried
            # claim is safe, since a claim that finds its own value has won
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
        )
        self.up = False
        self.last_error: str | None = "not connected yet"
        self.round_trips = 0
        self._ttl_ms = max(1, round(ttl * 1000))
        self._dirty: dict[str, RolloutRecord] = {}
        self._running: dict[str, RolloutRecord] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def key(self, rollout_id: str) -> str:
        return f"{self.prefix}:rollout:{rollout_id}"

    async def start(self) -> None:
        try:
            await self._round_trip(self.client.ping())
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
        if not self.up:  # fail fast; the sync task notices when Redis is back
            raise StoreUnavailable(f"record store unavailable: {self.last_error}")
        record.owner, record.heartbeat_at = self.owner, time.time()
        value = _encode(record)
        stored = await self._round_trip(
            self.client.set(self.key(record.rollout_id), value, nx=True, px=self._ttl_ms, get=True)
        )
        if stored is not None and stored != value:
            return str(orjson.loads(stored)["body"]).encode()
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
        stored = await self._round_trip(self.client.get(self.key(rollout_id)))
        return None if stored is None else dict(orjson.loads(stored)["status"])

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "state": "up" if self.up else "unavailable",
            "owner": self.owner,
            "prefix": self.prefix,
            "round_trips": self.round_trips,
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
        await self.client.aclose()

    async def _round_trip(self, command: Awaitable[Any]) -> Any:
        """Await one Redis command or pipeline, counted; failures mark the store down."""
        self.round_trips += 1
        try:
            result = await command
        except STORE_ERRORS as exc:
            self._mark_down(exc)
            raise StoreUnavailable(f"record store unavailable: {self.last_error}") from exc
        self._mark_up()
        return result

    async def _sync_forever(self) -> None:
        """Write dirty records as they come; while Redis is down, retry (or ping) each second."""
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

    async def _write(self, records: list[RolloutRecord]) -> None:
        if not records:
            await self._round_trip(self.client.ping())
            return
        pipe = self.client.pipeline(transaction=False)
        for record in records:
            pipe.set(self.key(record.rollout_id), _encode(record), px=self._ttl_ms)
        await self._round_trip(pipe.execute())

    async def _heartbeat_forever(self) -> None:
        """Refresh the heartbeat (and TTL) of running records: their owner is alive."""
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            for record in list(self._running.values()):
                self.changed(record)

    def _mark_down(self, exc: BaseException) -> None:
        self.last_error = one_line(f"{type(exc).__name__}: {exc}")
        if self.up:
            log.warning("record store unavailable: %s", self.last_error)
        self.up = False
        self._wake.set()

    def _mark_up(self) -> None:
        if not self.up:
            log.info("record store reachable")
        self.up, self.last_error = True, None


def _encode(record: RolloutRecord) -> bytes:
    body = {"body": record.response_body.decode(), "status": record.status()}
    return orjson.dumps(body, default=str)
