"""A lean HTTP/1.1 server for in-process ASGI apps that answer small requests.

`rolloutctl bench` measures servers with a mock trainer in its own process, answering
three callbacks per rollout; under uvicorn about a quarter of that process's CPU went
to the HTTP layer (a task, an event and two writes per request), CPU the measured
server then lacks on a shared machine (BENCHMARKS.md). Here a request is parsed by
httptools, its body read whole, and the app started as an eager task: one that answers
without waiting runs to its end within the read, and its answer goes out in one write.

Served: HTTP/1.1 and 1.0, keep-alive, pipelined requests (answered in order),
Content-Length and chunked request bodies, `Expect: 100-continue`, streamed answers.
Not served: lifespan, WebSocket, TLS. A malformed request, or one whose target or header
fields pass 64 KiB, gets 400 and a close; a connection with nothing to answer closes
after `idle_timeout` seconds without a byte.
An app may also offer `answer_json(scope, body)` (`asgi_cycle.AnswerJson`): a request it
takes is answered from its (status, JSON value) in one write, without ASGI's messages.
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import unquote

import httptools

from rolloutctl.net.asgi_cycle import App
from rolloutctl.net.http_connection import Connection

__all__ = ["IDLE_TIMEOUT", "HttpServer"]

IDLE_TIMEOUT = 5.0  # as uvicorn's keep-alive: HttpPool drops its idle connections before
_MAX_TARGETS = 1024


class HttpServer:
    """Serves `app` on listening sockets until `stop`."""

    def __init__(self, app: App, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.app, self.idle_timeout = app, idle_timeout
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()  # answers still waiting on something
        self._servers: list[asyncio.AbstractServer] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._targets: dict[bytes, tuple[str, bytes, bytes]] = {}

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._servers.append(await loop.create_server(lambda: Connection(self), sock=sock))
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self, grace: float) -> None:
        """Stop accepting; let answers under way finish within `grace` seconds; close all."""
        for server in self._servers:
            server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for connection in list(self.connections):
            connection.wind_down()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=grace)
        for task in list(self.tasks):
            task.cancel()
        for connection in list(self.connections):
            connection.transport.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def target(self, url: bytes) -> tuple[str, bytes, bytes]:
        """A request target's path (decoded), raw path and query; kept per target, since
        a trainer is sent the same few paths thousands of times."""
        known = self._targets.get(url)
        if known is None:
            parts = httptools.parse_url(url)
            path = parts.path.decode("ascii")
            known = (unquote(path) if "%" in path else path, parts.path, parts.query or b"")
            if len(self._targets) >= _MAX_TARGETS:
                self._targets.clear()
            self._targets[url] = known
        return known

    async def _sweep(self) -> None:
        """Close connections idle for `idle_timeout`: one timer for all, not one per answer."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, self.idle_timeout / 4))
            quiet_since = loop.time() - self.idle_timeout
            for connection in list(self.connections):
                if connection.current is None and connection.last_read < quiet_since:
                    connection.transport.close()
