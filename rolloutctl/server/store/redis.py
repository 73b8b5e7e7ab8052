"""Records shared through Redis (or Valkey), so replicas behind a load balancer act as one.

One key per rollout, `{prefix}:rollout:{rollout_id}`, holding JSON `{"body": <first 202
body>, "status": <status body>}`, and the keys of owners and deliveries (see
`redis_scripts`). Every step that must not interleave with another replica's is one
Lua script, so one round-trip: the claim, a batch of writes, the delivery claim, the
heartbeat and the take-over of lost owners' rollouts. Every write sets the TTL again,
so a record lives `ttl` seconds past its last change.

A claim carries a deadline in Redis's clock: a claim that Redis runs only after the
caller gave up (a stalled Redis runs what waited in its sockets when it resumes) writes
nothing, so an init answered 503 leaves no record that would swallow its retry. A claim
that Redis ran in time but whose answer came too late is released (`redis_claims`).

Replicas of one machine (`serve --workers N`) learn each other from the heartbeat: one
whose pid is gone is taken over at the next scan, as the SQLite store does, instead of
after `owner_timeout`.

The connection pool queues callers for a connection (up to `POOL_WAIT`) instead of
failing them, so a burst of inits waits its turn rather than getting 503.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from rolloutctl.server.store import redis_scripts as lua
from rolloutctl.server.store.base import RolloutRecord
from rolloutctl.server.store.batching import Batcher
from rolloutctl.server.store.owner_ids import owner_dead
from rolloutctl.server.store.redis_claims import Unanswered, UnansweredClaims
from rolloutctl.server.store.shared import SharedStore

__all__ = ["CLAIM_WINDOW", "POOL_SIZE", "STORE_ERRORS", "RedisStore"]

STORE_ERRORS = (RedisError, OSError)
CLAIM_WINDOW = 6.0  # seconds (in Redis's clock) within which a claim may still be run
# seconds to wait for a claim's answer: well past the window, so that a claim Redis ran
# in time is rarely given up for a busy event loop that reads its answer late (and one
# that is, is released: `redis_claims`)
CLAIM_TIMEOUT = 2 * CLAIM_WINDOW
RELEASE_TIMEOUT = 2.0  # seconds an init answered 503 waits for its claim's release
POOL_SIZE = 32  # connections; more callers queue for one
POOL_WAIT = 30.0  # seconds a caller may queue for a connection


class RedisStore(SharedStore):
    """This process's records in memory (as MemoryStore), every record shared in Redis."""

    kind = "redis"
    # a round-trip costs redis-py about 260 µs of CPU (BENCHMARKS.md): 5 ms of waiting
    # merges the state writes of rollouts close together (status shows them 5 ms later)
    write_linger = 0.005
    claim_window = CLAIM_WINDOW

    def _configure(self, url: str) -> None:
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT,
            socket_timeout=CLAIM_TIMEOUT,
            socket_connect_timeout=1.0,
            # retries reconnect a pooled connection that a Redis restart broke; a retried
            # claim is safe, since a claim that finds its own value has won
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
        )
        self.client = aioredis.Redis.from_pool(pool)
        self.round_trips = 0
        self.clock_offset = 0.0  # Redis's clock minus ours, in seconds, from heartbeats
        self._ttl_ms = max(1, round(self.ttl * 1000))
        self._scripts = {
            name: self.client.register_script(getattr(lua, name))
            for name in ("CLAIM", "CLAIM_DELIVERY", "PUT", "HEARTBEAT", "SCAN_LOST", "RELEASE")
        }
        self._owners = self.key("owners", "meta")
        self._owned = self.key(self.owner, "owned")
        self._peers: list[str] = []  # this machine's owners, as of the last heartbeat
        self._unanswered = UnansweredClaims(self.prefix, self._owned, self.owner, self._ttl_ms)
        self._claims = Batcher(self._claim_batch)
        self._deliveries = Batcher(self._claim_delivery_batch)

    def key(self, rollout_id: str, kind: str = "rollout") -> str:
        return f"{self.prefix}:{kind}:{rollout_id}"

    async def _insert(self, record: RolloutRecord) -> bytes | None:
        won = await self._claims(record)
        return None if won == 1 else lua.first_body(won)

    async def _claim_batch(self, records: list[RolloutRecord]) -> list[Any]:
        """Claim every id of `records` in one script call, if Redis runs it in time."""
        if self._unanswered.pending:  # first, so that a retry here claims afresh
            await self._settle()
        call = Unanswered.of(self.prefix, records)
        deadline = round((time.time() + self.clock_offset + self.claim_window) * 1e6)
        keys = [self._owned, call.void]
        args: list[lua.Arg] = [self._ttl_ms, deadline, self.key("", "seen")]
        for record, value in call.claims:
            keys.append(self.key(record.rollout_id))
            args += [value, record.rollout_id]
        try:
            async with asyncio.timeout(2 * self.claim_window):
                won = await self._script("CLAIM", keys, args)
        except (TimeoutError, StoreUnavailable) as exc:
            raise await self._unanswered_claim(call, exc) from exc
        if won == -1:
            raise StoreUnavailable("record store unavailable: the claim came too late")
        return list(won)

    async def _unanswered_claim(self, call: Unanswered, exc: Exception) -> StoreUnavailable:
        """The claim's answer never came (it may have run): release it before its init is
        answered 503, or as soon as Redis can be reached."""
        failure = exc if isinstance(exc, StoreUnavailable) else self._mark_down(exc)
        self._unanswered.pending.append(call)
        with contextlib.suppress(StoreUnavailable, TimeoutError):
            async with asyncio.timeout(RELEASE_TIMEOUT):
                await self._settle()
        return failure

    async def _settle(self) -> None:
        await self._unanswered.settle(self._script, round(2000 * self.claim_window))

    async def scan_lost(self) -> list[RolloutRecord]:
        lost = await super().scan_lost()
        return self._unanswered.take_told() + lost

    async def _read(self, rollout_id: str) -> dict[str, Any] | None:
        stored = await self._round_trip(self.client.get(self.key(rollout_id)))
        if stored is None:
            return None
        status: dict[str, Any] = orjson.loads(stored)["status"]
        if status["state"] in ("queued", "running") and "owner" in status:
            beat = await self._round_trip(self.client.zscore(self._owners, status["owner"]))
            status["heartbeat_at"] = None if beat is None else beat / 1e6
        return status

    async def _write(self, records: list[RolloutRecord]) -> None:
        if self._unanswered.pending:
            await self._settle()
        if not records:
            await self._round_trip(self.client.ping())
        else:
            await self._put(records, nx=False)

    async def _restore(self, records: list[RolloutRecord]) -> None:
        await self._put(records, nx=True)

    async def _put(self, records: list[RolloutRecord], nx: bool) -> None:
        keys = [self._owned]
        args: list[lua.Arg] = [self.owner, self._ttl_ms, int(nx)]
        for record in records:
            keys += [self.key(record.rollout_id), self.key(record.rollout_id, "delivery")]
            args += [lua.encode(record), record.rollout_id, int(record.active)]
        await self._script("PUT", keys, args)

    async def _claim_delivery(self, record: RolloutRecord) -> bool:
        return bool(await self._deliveries(record))

    async def _claim_delivery_batch(self, records: list[RolloutRecord]) -> list[Any]:
        keys = [self._owned]
        args: list[lua.Arg] = [self.owner, self._ttl_ms]
        for record in records:
            keys += [self.key(record.rollout_id), self.key(record.rollout_id, "delivery")]
            args += [lua.encode(record), record.rollout_id]
        return list(await self._script("CLAIM_DELIVERY", keys, args))

    async def _beat(self) -> bool:
        sent = time.time()
        args: list[lua.Arg] = [self.owner, self._ttl_ms, self.key(""), f"{socket.gethostname()}:"]
        now_us, new, peers = await self._script("HEARTBEAT", [self._owners, self._owned], args)
        self.clock_offset = now_us / 1e6 - (sent + time.time()) / 2
        self._peers = [peer.decode() for peer in peers]
        return bool(new)

    async def _take_lost(self, limit: int, silent_too: bool) -> list[RolloutRecord]:
        """Dead owners are found among this machine's owners of the last heartbeat."""
        dead = [peer for peer in self._peers if owner_dead(peer, self.owner)]
        if not dead and not silent_too:
            return []
        timeout = round(self.owner_timeout * 1e6) if silent_too else -1
        args: list[lua.Arg] = [self.owner, timeout, self.prefix, self._ttl_ms, limit, *dead]
        found = await self._script("SCAN_LOST", [self._owners], args)
        if len(found) < 3 * limit:  # every dead owner's rollouts taken: it is gone now
            self._peers = [peer for peer in self._peers if peer not in dead]
        return [
            lua.decode(rollout_id.decode(), stored, owner.decode())
            for rollout_id, owner, stored in zip(found[::3], found[1::3], found[2::3], strict=True)
        ]

    def health(self) -> dict[str, Any]:
        return {**super().health(), "round_trips": self.round_trips}

    async def _script(self, name: str, keys: list[str], args: list[lua.Arg]) -> Any:
        return await self._round_trip(self._scripts[name](keys, args))

    async def _round_trip(self, command: Awaitable[Any]) -> Any:
        """Await one Redis command or script, counted; failures mark the store down."""
        self.round_trips += 1
        started = time.perf_counter()
        try:
            result = await command
        except STORE_ERRORS as exc:
            self._observed(started, False)
            raise self._mark_down(exc) from exc
        self._observed(started, True)
        self._mark_up()
        return result

    async def _disconnect(self) -> None:
        await self.client.aclose()
