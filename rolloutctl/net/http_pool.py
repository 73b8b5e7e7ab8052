"""A lean keep-alive HTTP/1.1 connection pool, usable as an httpx transport.

The trainer callbacks of thousands of rollouts in flight go through one `HttpPool`;
httpx's own pool costs an order of magnitude more client CPU per request at that scale
(BENCHMARKS.md; benchmarks/http_pool.py measures it). A connection is `pool_connection`,
what it writes and reads is `pool_messages`.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections import deque

import httpx

from rolloutctl.net.pool_connection import PoolConnection, connect
from rolloutctl.net.pool_messages import (
    Header,
    Headers,
    Origin,
    PoolResponse,
    RequestTarget,
    encode_headers,
    request_head,
)

__all__ = [  # Header, Headers, PoolResponse and encode_headers were defined here first
    "SHORT_KEEPALIVE",
    "Header",
    "Headers",
    "HttpPool",
    "PoolResponse",
    "default_pool",
    "encode_headers",
]

_MAX_TARGETS = 1024
# For plain httpx clients: httpx keeps an idle connection 5 s, exactly as long as uvicorn
# does, so on a busy machine it reuses one just as the server closes it (a ReadError).
# Dropping idle connections after 1 s leaves the server's close seconds of margin.
SHORT_KEEPALIVE = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=1.0
)


class HttpPool(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 connections per origin, reused newest first; also an httpx transport.

    Why not httpx's own pool: its bookkeeping walks every connection on every request,
    and its anyio streams and h11 parser cost more than the request itself (figures in
    BENCHMARKS.md, "The HTTP pool against httpx").

    `post` is the fast path TrainerClient uses; `httpx.AsyncClient(transport=HttpPool())`
    gives the full httpx API over the same connections. An idle connection is dropped
    after `keepalive_expiry` seconds (below uvicorn's 5 s, so we close before the server
    does). A pool serves one event loop at a time; it sends no HEAD requests and uses no
    proxy: callbacks go straight to the trainer.
    """

    def __init__(self, keepalive_expiry: float = 4.0, ssl_context: ssl.SSLContext | None = None):
        self._keepalive_expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._idle: dict[Origin, deque[PoolConnection]] = {}
        self._targets: dict[int, RequestTarget] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def post(
        self, url: httpx.URL, content: bytes, headers: Headers = (), timeout: float = 300.0
    ) -> PoolResponse:
        """POST `content` (Host and Content-Length are added); raises httpx.TransportError."""
        return await self.request(b"POST", url, content, headers, timeout)

    async def request(
        self,
        method: bytes,
        url: httpx.URL,
        content: bytes = b"",
        headers: Headers = (),
        timeout: float | None = 300.0,
    ) -> PoolResponse:
        """One exchange within `timeout` seconds in all (None waits forever)."""
        target = self._targets.get(id(url))
        if target is None or target.url is not url:
            target = self._target(url)
        data = request_head(method, target, headers, len(content)) + content
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = None if timeout is None else now + timeout
        idle = self._idle_for(target.origin, loop)
        connection = self._reuse(idle, now)
        if connection is not None:
            try:
                return await self._exchange(idle, connection, data, deadline)
            except httpx.RemoteProtocolError:
                if connection.answered:
                    raise
                # The server closed this idle connection as we sent: it never read the
                # request, so a new connection may carry it without sending it twice.
        connection = await connect(url, deadline, self._ssl_context)
        return await self._exchange(idle, connection, data, deadline)

    async def _exchange(
        self,
        idle: deque[PoolConnection],
        connection: PoolConnection,
        data: bytes,
        deadline: float | None,
    ) -> PoolResponse:
        try:
            status, headers, body, keep_alive = await connection.exchange(data, deadline)
        except BaseException:
            connection.close()
            raise
        self._checkin(idle, connection, keep_alive)
        return PoolResponse(status, headers, body)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Serve an httpx.AsyncClient built with transport=pool."""
        content = await request.aread()
        timeout = request.extensions.get("timeout", {}).get("read")
        method = request.method.encode()
        answer = await self.request(method, request.url, content, request.headers.raw, timeout)
        return httpx.Response(
            answer.status_code, headers=answer.raw_headers, content=answer.content
        )

    async def aclose(self) -> None:
        """Close the idle connections; busy ones close when their exchange ends."""
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._closed = True

    def _target(self, url: httpx.URL) -> RequestTarget:
        """The parts of `url` a request needs, kept per URL object: reading them from an
        httpx.URL costs about as much as writing the request. Callers that reuse their
        URL objects (TrainerClient, the init starter) hit this cache on every call."""
        if len(self._targets) >= _MAX_TARGETS:
            self._targets.clear()
        target = RequestTarget(
            url, (url.raw_scheme, url.raw_host, url.port), url.raw_path, url.netloc
        )
        self._targets[id(url)] = target  # holding `url` keeps its id from being reused
        return target

    def _idle_for(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> deque[PoolConnection]:
        if loop is not self._loop:  # connections belong to the loop that opened them
            self._idle, self._loop = {}, loop
        idle = self._idle.get(origin)
        return idle if idle is not None else self._idle.setdefault(origin, deque())

    def _reuse(self, idle: deque[PoolConnection], now: float) -> PoolConnection | None:
        while idle:  # newest first; once one is too old, all below it are too
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self._keepalive_expiry:
                return connection
            connection.close()
        return None

    def _checkin(
        self, idle: deque[PoolConnection], connection: PoolConnection, keep_alive: bool
    ) -> None:
        if not keep_alive or connection.closed or self._closed:
            connection.close()
            return
        now = connection.idle_since = asyncio.get_running_loop().time()
        idle.append(connection)
        while idle and (idle[0].closed or now - idle[0].idle_since >= self._keepalive_expiry):
            idle.popleft().close()


@functools.cache
def default_pool() -> HttpPool:
    """The process-wide pool of every TrainerClient given none; it follows the running loop."""
    return HttpPool()
