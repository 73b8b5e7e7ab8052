"""One server process on uvicorn: its configuration, the drain on a signal, the GC settings.

`serve_forever` is what a single `serve` runs and what each worker of `serve --workers
N` runs on its own socket (`rolloutctl.server.workers`); `run` chooses between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import uvicorn

from rolloutctl.server.settings import ServerSettings

__all__ = ["DrainingServer", "ServeConfig", "serve_forever"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class ServeConfig:
    """Where and how `run` serves; `tune_gc` lets it change the process's GC settings.

    `tune_gc` is off by default so that a Python caller's process keeps its own GC
    settings; `rolloutctl serve`, whose process is the server, turns it on.
    """

    host: str = "127.0.0.1"
    port: int = 9000
    log_level: str = "info"
    json_logs: bool = False
    settings: ServerSettings = field(default_factory=ServerSettings)
    tune_gc: bool = False
    workers: int = 1  # server processes sharing the port (rolloutctl.server.workers)


def serve_forever(
    app: Any,
    sock: socket.socket,
    config: ServeConfig,
    keep_alive: int = 5,
    drain: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve the ASGI `app` on the bound `sock` until a signal, then drain (exit 0);
    idle connections are closed after `keep_alive` seconds (uvicorn's default: 5).
    `drain`, if given, runs on the first signal while the server still serves; it stops
    once `drain` returns (or at a second signal)."""
    if config.tune_gc:
        _settle_heap()
    server = DrainingServer(
        drain,
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            log_level=config.log_level,
            timeout_keep_alive=keep_alive,
            proxy_headers=False,  # no route reads the client address (BENCHMARKS.md)
            ws="none",  # no route is a WebSocket: start without importing a WS stack
            # uvicorn's hint says int, but it waits float seconds
            timeout_graceful_shutdown=config.settings.shutdown_grace + 10,  # type: ignore[arg-type]
        ),
    )
    with _signals_end_cleanly():
        server.run(sockets=[sock])


class DrainingServer(uvicorn.Server):
    """uvicorn closes its listener on the first signal; with a `drain`, the first signal
    only starts it (on the loop's next tick), and the server stops when it is done."""

    def __init__(self, drain: Callable[[], Awaitable[None]] | None, config: uvicorn.Config):
        super().__init__(config)
        self._drain, self._requested = drain, False
        self._draining: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is None or self._requested or self.should_exit:
            return super().handle_exit(sig, frame)
        self._captured_signals.append(sig)  # re-raised after the run, as uvicorn does
        self._requested = True

    async def on_tick(self, counter: int) -> bool:
        if self._requested and self._draining is None and self._drain is not None:
            self._draining = asyncio.create_task(self._drain_then_stop(self._drain))
        return await super().on_tick(counter)

    async def _drain_then_stop(self, drain: Callable[[], Awaitable[None]]) -> None:
        try:
            await drain()
        finally:
            self.should_exit = True


def _settle_heap() -> None:
    """Take what start-up built out of the garbage collector's sight, and collect less often.

    A rollout allocates thousands of short-lived containers: at Python's default
    threshold the young generation is collected every few rollouts, and the old one
    walks every object the imports made (its cost: BENCHMARKS.md). Frozen start-up
    objects and a higher threshold leave at most a few MB more of cyclic garbage
    waiting. It changes the whole process's settings: only for a process that is the
    server (`ServeConfig.tune_gc`).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


@contextlib.contextmanager
def _signals_end_cleanly() -> Iterator[None]:
    """Make Ctrl-C and SIGTERM a normal exit once uvicorn has drained.

    uvicorn handles the signal itself, then re-raises it to the handler that was in
    place before; a no-op handler there turns "drained after a signal" into exit 0.
    """
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
