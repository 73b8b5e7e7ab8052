"""Records shared through Redis (or Valkey), so replicas behind a load balancer act as one.

One key per rollout, `{prefix}:rollout:{rollout_id}`, holding JSON `{"body": <first 202
body>, "status": <status body>}`. The replica that wins `SET NX` (one round-trip, on
the init path) owns the rollout and is the only writer of its key afterwards; every
write sets the TTL again, so a record lives `ttl` seconds past its last change.
Later writes are batched into one pipeline (`SharedStore`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from rolloutctl.server.store.base import RolloutRecord
from rolloutctl.server.store.shared import SharedStore, shared_value

__all__ = ["STORE_ERRORS", "RedisStore"]

STORE_ERRORS = (RedisError, OSError)


class RedisStore(SharedStore):
    """This process's records in memory (as MemoryStore), every record shared in Redis."""

    kind = "redis"

    def _configure(self, url: str) -> None:
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=2.0,
            socket_connect_timeout=1.0,
            # retries reconnect a pooled connection that a Redis restart broke; a retried
            # claim is safe, since a claim that finds its own value has won
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
        )
        self.round_trips = 0
        self._ttl_ms = max(1, round(self.ttl * 1000))

    def key(self, rollout_id: str) -> str:
        return f"{self.prefix}:rollout:{rollout_id}"

    async def _insert(self, record: RolloutRecord) -> bytes | None:
        value = _encode(record)
        stored = await self._round_trip(
            self.client.set(self.key(record.rollout_id), value, nx=True, px=self._ttl_ms, get=True)
        )
        if stored is not None and stored != value:
            return str(orjson.loads(stored)["body"]).encode()
        return None

    async def _read(self, rollout_id: str) -> dict[str, Any] | None:
        stored = await self._round_trip(self.client.get(self.key(rollout_id)))
        return None if stored is None else dict(orjson.loads(stored)["status"])

    def health(self) -> dict[str, Any]:
        return {**super().health(), "round_trips": self.round_trips}

    async def _round_trip(self, command: Awaitable[Any]) -> Any:
        """Await one Redis command or pipeline, counted; failures mark the store down."""
        self.round_trips += 1
        try:
            result = await command
        except STORE_ERRORS as exc:
            raise self._mark_down(exc) from exc
        self._mark_up()
        return result

    async def _write(self, records: list[RolloutRecord]) -> None:
        if not records:
            await self._round_trip(self.client.ping())
            return
        pipe = self.client.pipeline(transaction=False)
        for record in records:
            pipe.set(self.key(record.rollout_id), _encode(record), px=self._ttl_ms)
        await self._round_trip(pipe.execute())

    async def _disconnect(self) -> None:
        await self.client.aclose()


def _encode(record: RolloutRecord) -> bytes:
    return orjson.dumps(shared_value(record), default=str)
