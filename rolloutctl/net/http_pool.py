"""A lean keep-alive HTTP/1.1 connection pool, usable as an httpx transport.

The trainer callbacks of thousands of rollouts in flight go through one `HttpPool`;
httpx's own pool costs an order of magnitude more client CPU per request at that scale
(BENCHMARKS.md; benchmarks/http_pool.py measures it).
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any, NamedTuple

import httptools
import httpx

__all__ = [
    "SHORT_KEEPALIVE",
    "Header",
    "Headers",
    "HttpPool",
    "PoolResponse",
    "default_pool",
    "encode_headers",
]

Header = tuple[bytes, bytes]
Headers = Sequence[Header] | bytes  # bytes: already encoded by `encode_headers`
_Origin = tuple[bytes, bytes, int | None]  # scheme, host, port
_MAX_TARGETS = 1024
# For plain httpx clients: httpx keeps an idle connection 5 s, exactly as long as uvicorn
# does, so on a busy machine it reuses one just as the server closes it (a ReadError).
# Dropping idle connections after 1 s leaves the server's close seconds of margin.
SHORT_KEEPALIVE = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=1.0
)


class _Target(NamedTuple):
    url: httpx.URL
    origin: _Origin
    path: bytes
    netloc: bytes


_LENGTH_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
_FRAMING = _LENGTH_HEADERS | {b"host"}


class PoolResponse:
    """What `HttpPool.request` answers: status, headers and body, with the part of
    httpx.Response's API its callers use: building an httpx.Response cost about as much as
    the rest of a trainer callback (BENCHMARKS.md)."""

    __slots__ = ("content", "raw_headers", "status_code")

    def __init__(self, status_code: int, raw_headers: list[Header], content: bytes) -> None:
        self.status_code, self.raw_headers, self.content = status_code, raw_headers, content

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def headers(self) -> httpx.Headers:
        return httpx.Headers(self.raw_headers)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: one exchange at a time, parsed by httptools."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[int] | None = None
        self._headers: list[Header] = []
        self._body: list[bytes] = []
        self._headers_done = False
        self._keep_alive = False
        self.answered = False  # whether any byte of the current response came

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP connection's is a Transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._headers_done and all(n.lower() not in _LENGTH_HEADERS for n, _ in self._headers):
            self.on_message_complete()  # no length given: the body ran until the close
        self._fail(httpx.RemoteProtocolError("the server closed the connection mid-response"))

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the connection is unusable
            self.close()
            return
        self.answered = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(httpx.RemoteProtocolError(f"invalid HTTP response: {exc}"))
            self.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # an interim 1xx answer: the real one follows
            self._headers, self._headers_done = [], False
        elif self._waiter is not None and not self._waiter.done():
            self._keep_alive = self._parser.should_keep_alive()  # only valid until we return
            self._waiter.set_result(status)

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(
        self, request: bytes, deadline: float | None
    ) -> tuple[int, list[Header], bytes, bool]:
        """Send one request; return status, headers, body and whether to keep the connection.

        Past `deadline` (loop time) it raises httpx.ReadTimeout. A timer on the loop
        costs a fraction of an `asyncio.timeout` block, and this runs for every callback.
        """
        loop = asyncio.get_running_loop()
        self._headers, self._body, self._headers_done, self.answered = [], [], False, False
        waiter = self._waiter = loop.create_future()
        timer = None if deadline is None else loop.call_at(deadline, self._time_out)
        self.transport.write(request)  # type: ignore[union-attr]  # set once connected
        try:
            status = await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        return status, self._headers, b"".join(self._body), self._keep_alive

    def _time_out(self) -> None:
        self._fail(httpx.ReadTimeout("no response in time"))


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
        self._idle: dict[_Origin, deque[_Connection]] = {}
        self._targets: dict[int, _Target] = {}
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
        data = _request_head(method, target, headers, len(content)) + content
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
        connection = await self._connect(url, deadline)
        return await self._exchange(idle, connection, data, deadline)

    async def _exchange(
        self, idle: deque[_Connection], connection: _Connection, data: bytes, deadline: float | None
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

    def _target(self, url: httpx.URL) -> _Target:
        """The parts of `url` a request needs, kept per URL object: reading them from an
        httpx.URL costs about as much as writing the request. Callers that reuse their
        URL objects (TrainerClient, the init starter) hit this cache on every call."""
        if len(self._targets) >= _MAX_TARGETS:
            self._targets.clear()
        target = _Target(url, (url.raw_scheme, url.raw_host, url.port), url.raw_path, url.netloc)
        self._targets[id(url)] = target  # holding `url` keeps its id from being reused
        return target

    def _idle_for(self, origin: _Origin, loop: asyncio.AbstractEventLoop) -> deque[_Connection]:
        if loop is not self._loop:  # connections belong to the loop that opened them
            self._idle, self._loop = {}, loop
        idle = self._idle.get(origin)
        return idle if idle is not None else self._idle.setdefault(origin, deque())

    def _reuse(self, idle: deque[_Connection], now: float) -> _Connection | None:
        while idle:  # newest first; once one is too old, all below it are too
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self._keepalive_expiry:
                return connection
            connection.close()
        return None

    def _checkin(self, idle: deque[_Connection], connection: _Connection, keep_alive: bool) -> None:
        if not keep_alive or connection.closed or self._closed:
            connection.close()
            return
        now = connection.idle_since = asyncio.get_running_loop().time()
        idle.append(connection)
        while idle and (idle[0].closed or now - idle[0].idle_since >= self._keepalive_expiry):
            idle.popleft().close()

    async def _connect(self, url: httpx.URL, deadline: float | None) -> _Connection:
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"cannot call a {url.scheme!r} URL")
        host, tls = url.raw_host.decode("ascii"), url.scheme == "https"
        port = url.port or (443 if tls else 80)
        context = (self._ssl_context or _shared_ssl_context()) if tls else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                _, connection = await loop.create_connection(
                    _Connection, host, port, ssl=context, server_hostname=host if tls else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"cannot connect to {host}:{port} in time") from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from None
        return connection


@functools.cache
def _shared_ssl_context() -> ssl.SSLContext:
    """Built once, on the first https call: loading the CA bundle is slow."""
    return httpx.create_ssl_context()


@functools.cache
def default_pool() -> HttpPool:
    """The process-wide pool of every TrainerClient given none; it follows the running loop."""
    return HttpPool()


def encode_headers(headers: Sequence[Header]) -> bytes:
    """Header lines as sent (without the framing ones the pool writes itself); a caller
    that sends the same headers on every request encodes them once and passes the bytes."""
    return b"".join(b"%s: %s\r\n" % pair for pair in headers if pair[0].lower() not in _FRAMING)


def _request_head(method: bytes, target: _Target, headers: Headers, length: int) -> bytes:
    lines = headers if isinstance(headers, bytes) else encode_headers(headers)
    return b"%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %d\r\n\r\n" % (
        method,
        target.path,
        target.netloc,
        lines,
        length,
    )
