"""Running a RolloutServer: bind, print the banner, serve until a signal, drain.

`run(agent, config)` is the public API behind `rolloutctl serve`. The socket is bound
here before uvicorn starts, so "port in use" is one clear error instead of a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from rolloutctl.agent.context import Agent, RolloutRequest
from rolloutctl.logs import setup_logging
from rolloutctl.net.sockets import bind_socket, socket_url
from rolloutctl.observe.observer import ENDPOINT_VARIABLES
from rolloutctl.server.app import create_app
from rolloutctl.server.settings import ServerSettings
from rolloutctl.server.store import shown_store

__all__ = ["DrainingServer", "ServeConfig", "run", "serve_banner", "serve_forever"]

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


def serve_banner(agent: Agent, url: str, config: ServeConfig) -> Panel:
    settings = config.settings
    lines = [
        f"[bold]RolloutServer[/] for agent [cyan]{escape(agent.name)}[/]",
        f"URL      {url}",
        f"tools    {escape(_tool_names(agent))}",
        f"docs     {url}/docs" + (" (needs the key too)" if settings.api_key else ""),
        f"key      {'inbound Bearer key required' if settings.api_key else 'none required'}"
        + (" (--server-key): every route but /health" if settings.api_key else ""),
        f"records  {escape(shown_store(settings.store))}, kept {settings.record_ttl:g} s",
        f"limits   {settings.max_concurrent} concurrent"
        + (" per worker" if config.workers > 1 else "")
        + f", {settings.rollout_timeout:g} s per rollout",
        f"metrics  {_metrics_line(url, settings)}",
        f"traces   {_traces_line(settings)}",
    ]
    if config.workers > 1:
        lines.append(f"workers  {config.workers} processes, one SO_REUSEPORT socket each")
    return Panel("\n".join(lines), expand=False, border_style="green")


def _metrics_line(url: str, settings: ServerSettings) -> str:
    if not settings.metrics:
        return "off (--no-metrics)"
    needs_key = settings.api_key and not settings.metrics_public
    return f"{url}/metrics" + (" (needs the key)" if needs_key else "")


def _traces_line(settings: ServerSettings) -> str:
    """Where spans go: the variables' endpoint is shown by name, never its value (it may
    carry credentials)."""
    if settings.otel_endpoint:
        return "OTLP/HTTP to the configured endpoint"
    named = [name for name in ENDPOINT_VARIABLES if os.environ.get(name)]
    if named:
        return f"OTLP/HTTP to ${named[-1]}"
    return "OTLP/HTTP to http://localhost:4318" if settings.otel else "off (--otel to export)"


def _tool_names(agent: Agent) -> str:
    """The tools of a rollout without metadata, or a note that they depend on the rollout."""
    sample = RolloutRequest(rollout_id="banner", messages=[])
    try:
        return ", ".join(t.name for t in agent.tools(sample)) or "(none)"
    except Exception as exc:
        return f"per rollout (tools() of a rollout without metadata raised {exc!r})"


def run(agent: Agent, config: ServeConfig, console: Console | None = None) -> None:
    """Serve `agent` until SIGINT/SIGTERM, then drain; raises CannotBind on bind errors."""
    console = console or Console(stderr=True)
    if config.workers > 1:
        from rolloutctl.server.workers import run_workers

        return run_workers(agent, config, console)
    sock = bind_socket(config.host, config.port)
    url = socket_url(config.host, sock)
    setup_logging(config.log_level, config.json_logs, console)
    if not config.json_logs:
        console.print(serve_banner(agent, url, config))
    serve_forever(create_app(agent, config.settings), sock, config)


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
