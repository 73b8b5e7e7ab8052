"""A RolloutServer's lifespan: what runs while it is up, and the drain at its end.

The record store, the callback pool, the `RolloutManager` over them, span export and
event-loop lag (when observed), and the background tasks: eviction of old records,
the rescue of rollouts whose owner is gone, and those a `serve --workers` worker adds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from rolloutctl.net.http_pool import HttpPool
from rolloutctl.observe.observer import Observer
from rolloutctl.server.manager import RolloutManager
from rolloutctl.server.rescue import Rescuer
from rolloutctl.server.settings import ServerSettings
from rolloutctl.server.store import RecordStore, open_store

if TYPE_CHECKING:
    from rolloutctl.server.core import ServerCore

__all__ = ["EVICT_INTERVAL", "running_manager"]

EVICT_INTERVAL = 60.0


@contextlib.asynccontextmanager
async def running_manager(core: ServerCore) -> AsyncIterator[RolloutManager]:
    """`core`'s manager (and its callback pool) while the server is up; drain at the end."""
    store = open_store(core.settings)
    if core.observer is not None:
        store.observe_round_trip = core.observer.store_round_trip
    await store.start()
    async with HttpPool() as pool, _observing(core.observer, core.settings):
        manager = RolloutManager(core.agent, core.settings, pool, store, core.observers)
        background = _start_background(core, manager, store, pool)
        try:
            yield manager
        finally:
            for task in background:
                task.cancel()
            await manager.shutdown()
            await store.aclose()


def _start_background(
    core: ServerCore, manager: RolloutManager, store: RecordStore, pool: HttpPool
) -> list[asyncio.Task[None]]:
    """Eviction, the rescue of lost rollouts, and the tasks `core.background` lists."""
    return [
        asyncio.create_task(_evict_forever(manager)),
        asyncio.create_task(Rescuer(store, core.settings, pool).run()),
        *(asyncio.create_task(job()) for job in core.background),
    ]


@contextlib.asynccontextmanager
async def _observing(observer: Observer | None, settings: ServerSettings) -> AsyncIterator[None]:
    """Event-loop lag and span export, while the server runs."""
    if observer is None:
        yield
        return
    async with observer.running(settings):
        yield


async def _evict_forever(manager: RolloutManager) -> None:
    """Expire old idempotency records even on a server that gets no new inits."""
    while True:
        await asyncio.sleep(EVICT_INTERVAL)
        manager.store.evict()
