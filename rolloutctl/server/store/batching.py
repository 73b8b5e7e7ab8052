"""Calls made in the same turn of the event loop, sent to the store as one batch.

Under a burst of inits, one round-trip per claim would queue hundreds of claims for a
pooled connection, each waiting its turn; one script call per batch claims them all
in one round-trip, so a burst costs a few round-trips, and a lone init still costs one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["Batcher"]


class Batcher[T, R]:
    """`await batcher(item)`: the result `run` gives `item` within its batch (at most
    `limit` items); an exception of `run` is raised to every caller of the batch."""

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], limit: int = 500) -> None:
        self._run, self._limit = run, limit
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._batches: set[asyncio.Task[None]] = set()

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append((item, future))
        return await future

    def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._limit], self._pending[self._limit :]
            task = asyncio.create_task(self._send(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _send(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
        except BaseException as exc:  # cancelled too: no caller may wait for ever
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc) if isinstance(exc, Exception) else future.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
