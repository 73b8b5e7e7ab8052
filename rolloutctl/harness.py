"""A RolloutServer and a mock trainer in this process, on free local ports.

`validate` and `try` need both sides of the protocol for one short session. Running
them as uvicorn tasks in the caller's event loop keeps everything real (sockets,
HTTP, the server's own app) without threads or child processes, and the context
manager guarantees both are shut down however the session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from rolloutctl.agent.context import Agent
from rolloutctl.errors import CannotStartError
from rolloutctl.net.http_server import HttpServer
from rolloutctl.net.sockets import bind_socket, socket_url
from rolloutctl.server.inprocess import InProcessApp
from rolloutctl.server.settings import ServerSettings
from rolloutctl.trainer import MockTrainer, RolloutHandle, TrainerConfig
from rolloutctl.trainer.app import TrainerApp

__all__ = ["STARTUP_TIMEOUT", "TRAINER_SHUTDOWN_GRACE", "LocalStack", "local_stack", "serve_app"]

STARTUP_TIMEOUT = 30.0
TRAINER_SHUTDOWN_GRACE = 5.0


@dataclass(frozen=True)
class LocalStack:
    """The running pair; `trainer.url` is already set to the trainer's base URL."""

    server_url: str
    trainer: MockTrainer
    server_key: str | None = None
    server: contextlib.AsyncExitStack | None = None  # the local RolloutServer, if any

    async def stop_server(self) -> None:
        """Drain and stop the local RolloutServer now, while the trainer keeps listening."""
        if self.server is not None:
            await self.server.aclose()

    async def start_rollout(self, init: dict[str, Any]) -> RolloutHandle:
        """Send `init` to the local server (server_url defaults to the trainer's)."""
        return await self.trainer.start_rollout(self.server_url, init, self.server_key)


class _InProcessServer(uvicorn.Server):
    """A uvicorn server that reports when it is up and leaves signals to the caller.

    uvicorn normally takes over SIGINT; in-process that would swallow the user's
    Ctrl-C, so KeyboardInterrupt is left to reach the caller's loop instead.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self.stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask the server to stop now, not at its next 0.1 s tick (try's wall time counts)."""
        self.should_exit = True
        self.stopping.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 0.1)

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextlib.asynccontextmanager
async def serve_app(
    app: Any,
    what: str,
    *,
    host: str = "127.0.0.1",
    shutdown_grace: float = 5.0,
    log_level: str = "warning",
) -> AsyncIterator[str]:
    """Serve the ASGI `app` on a free port of `host` while the block runs; yield its URL.

    A mock trainer's app (it has no lifespan) is served by rolloutctl's lean HTTP server:
    bench's trainer answers thousands of callbacks a second beside the server it measures.
    CannotStartError (naming `what`) when the port cannot be bound or the app's startup fails.
    """
    sock = bind_socket(host, 0)
    url = socket_url(host, sock)
    if isinstance(app, TrainerApp):
        async with _serve_lean(app, sock, shutdown_grace):
            yield url
        return
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        log_level=log_level,
        ws="none",  # no route is a WebSocket: start without importing a WS stack
        # a local peer, not behind a proxy: no per-request header rewrite, no headers
        # nobody reads (bench's driver answers thousands of callbacks a second)
        proxy_headers=False,
        server_header=False,
        date_header=False,
        # uvicorn's hint says int, but it waits float seconds
        timeout_graceful_shutdown=shutdown_grace,  # type: ignore[arg-type]
    )
    server = _InProcessServer(config)
    task = asyncio.create_task(_run(server, sock, what))
    try:
        await _until_ready(server, task, what)
        yield url
    finally:
        server.stop()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def _serve_lean(app: TrainerApp, sock: socket.socket, grace: float) -> AsyncIterator[None]:
    server = HttpServer(app)
    try:
        await server.start(sock)
        yield
    finally:
        await server.stop(grace)
        sock.close()


async def _run(server: _InProcessServer, sock: Any, what: str) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit:  # uvicorn's answer to a failed lifespan startup
        raise CannotStartError(f"{what} failed during startup") from None
    finally:
        sock.close()


async def _until_ready(server: _InProcessServer, task: asyncio.Task[None], what: str) -> None:
    ready = asyncio.create_task(server.ready.wait())
    try:
        await asyncio.wait(
            {task, ready}, timeout=STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        ready.cancel()
    if server.ready.is_set():
        return
    if task.done():
        task.result()  # its CannotStartError, or whatever else stopped it
        raise CannotStartError(f"{what} stopped during startup")
    raise CannotStartError(f"{what} did not come up within {STARTUP_TIMEOUT:g} s")


@contextlib.asynccontextmanager
async def local_stack(
    agent: Agent | None,
    settings: ServerSettings | None = None,
    trainer_config: TrainerConfig | None = None,
    host: str = "127.0.0.1",
    log_level: str = "warning",
    server_url: str | None = None,
) -> AsyncIterator[LocalStack]:
    """Run a MockTrainer and a RolloutServer for `agent`, each on a free port of `host`.

    With `server_url`, no server is started: the trainer tries that one instead (any
    implementation of the protocol). On exit the RolloutServer drains first (its last
    completions still reach the trainer), then the trainer's server stops.
    """
    settings = settings or ServerSettings()
    trainer = MockTrainer(trainer_config)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(trainer.aclose)
        trainer.url = await stack.enter_async_context(
            serve_app(
                trainer.app,
                "the mock trainer",
                host=host,
                shutdown_grace=TRAINER_SHUTDOWN_GRACE,
                log_level=log_level,
            )
        )
        server = None
        if server_url is None:
            if agent is None:
                raise ValueError("local_stack needs an agent or a server_url")
            server = await stack.enter_async_context(contextlib.AsyncExitStack())
            server_url = await server.enter_async_context(
                serve_app(
                    InProcessApp(agent, settings),
                    "the RolloutServer",
                    host=host,
                    shutdown_grace=settings.shutdown_grace + TRAINER_SHUTDOWN_GRACE,
                    log_level=log_level,
                )
            )
        yield LocalStack(server_url.rstrip("/"), trainer, settings.api_key, server)
