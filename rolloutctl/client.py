"""Trainer callbacks: the chat and completed calls a RolloutServer makes to the trainer.

`TrainerClient` adds PROTOCOL.md's rules (Bearer only with a key, retries, error
categories, one logical delivery) on top of `HttpPool`, the connection pool that all
rollouts of a server process share.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httptools
import httpx
import orjson

from rolloutctl import __version__
from rolloutctl.protocol import CHAT_PATH, COMPLETED_PATH, ErrorCategory
from rolloutctl.retry import RetryPolicy, is_retryable, parse_retry_after

__all__ = ["Delivery", "HttpPool", "RetryPolicy", "TrainerClient", "TrainerError", "default_pool"]

logger = logging.getLogger(__name__)
Header = tuple[bytes, bytes]
_LENGTH_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
_FRAMING = _LENGTH_HEADERS | {b"host"}
_USER_AGENT = f"rolloutctl/{__version__}".encode()


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
        self.transport = transport  # type: ignore[assignment]

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

    async def exchange(self, request: bytes) -> tuple[int, list[Header], bytes, bool]:
        """Send one request; return status, headers, body and whether to keep the connection."""
        self._headers, self._body, self._headers_done, self.answered = [], [], False, False
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)  # type: ignore[union-attr]
        try:
            status = await self._waiter
        finally:
            self._waiter = None
        return status, self._headers, b"".join(self._body), self._keep_alive


class HttpPool(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 connections per origin, reused newest first; also an httpx transport.

    Why not httpx's own pool: its bookkeeping walks every connection on every request,
    and its anyio streams and h11 parser cost more than the request itself. Figures from
    benchmarks/http_pool.py (5000 POSTs of a 3 KB chat body to a raw ASGI uvicorn in
    another process, uvloop, 2 shared cores, so +-30%): requests/s, client CPU ms each.

    in flight                           32            256           1000
    httpx, one shared client       344   2.54     188   4.85      99   7.31
    same, no connection limits     308   3.04     218   4.39     103   8.08
    httpx, 8 sharded clients       971   1.03     410   2.43     195   4.26 (*)
    httpx client over HttpPool    3013   0.33    4121   0.24    2263   0.32
    HttpPool.post                12719   0.08   10440   0.08    9679   0.09
    TrainerClient.chat            9353   0.11   10191   0.09    5297   0.11

    (*) another run failed with ReadError: httpx reused a connection that uvicorn had
    just closed after its 5 s keep-alive. In the HttpPool rows the trainer was the bound.

    `post` is the fast path TrainerClient uses; `httpx.AsyncClient(transport=HttpPool())`
    gives the full httpx API over the same connections. An idle connection is dropped
    after `keepalive_expiry` seconds (below uvicorn's 5 s, so we close before the server
    does). A pool serves one event loop at a time; it sends no HEAD requests and uses no
    proxy: callbacks go straight to the trainer.
    """

    def __init__(self, keepalive_expiry: float = 4.0, ssl_context: ssl.SSLContext | None = None):
        self._keepalive_expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._idle: dict[tuple[bytes, bytes, int | None], deque[_Connection]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def post(
        self, url: httpx.URL, content: bytes, headers: Sequence[Header] = (), timeout: float = 300.0
    ) -> httpx.Response:
        """POST `content` (Host and Content-Length are added); raises httpx.TransportError."""
        return await self.request(b"POST", url, content, headers, timeout)

    async def request(
        self,
        method: bytes,
        url: httpx.URL,
        content: bytes = b"",
        headers: Sequence[Header] = (),
        timeout: float | None = 300.0,
    ) -> httpx.Response:
        """One exchange within `timeout` seconds in all (None waits forever)."""
        data = _request_head(method, url, headers, len(content)) + content
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        idle = self._idle_for(url, loop)
        connection = self._reuse(idle, loop.time())
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
    ) -> httpx.Response:
        try:
            async with asyncio.timeout_at(deadline):
                status, headers, body, keep_alive = await connection.exchange(data)
        except BaseException as exc:
            connection.close()
            if isinstance(exc, TimeoutError):
                raise httpx.ReadTimeout("no response in time") from None
            raise
        self._checkin(idle, connection, keep_alive)
        return httpx.Response(status, headers=headers, content=body)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Serve an httpx.AsyncClient built with transport=pool."""
        content = await request.aread()
        timeout = request.extensions.get("timeout", {}).get("read")
        method = request.method.encode()
        return await self.request(method, request.url, content, request.headers.raw, timeout)

    async def aclose(self) -> None:
        """Close the idle connections; busy ones close when their exchange ends."""
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._closed = True

    def _idle_for(self, url: httpx.URL, loop: asyncio.AbstractEventLoop) -> deque[_Connection]:
        if loop is not self._loop:  # connections belong to the loop that opened them
            self._idle, self._loop = {}, loop
        return self._idle.setdefault((url.raw_scheme, url.raw_host, url.port), deque())

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
        while idle[0].closed or now - idle[0].idle_since >= self._keepalive_expiry:
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
    """Built once, on the first https call: loading the CA bundle costs about 16 ms."""
    return httpx.create_ssl_context()


@functools.cache
def default_pool() -> HttpPool:
    """The process-wide pool of every TrainerClient given none; it follows the running loop."""
    return HttpPool()


def _request_head(method: bytes, url: httpx.URL, headers: Sequence[Header], length: int) -> bytes:
    lines = [b"%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, url.raw_path, url.netloc)]
    lines += [b"%s: %s\r\n" % pair for pair in headers if pair[0].lower() not in _FRAMING]
    lines.append(b"Content-Length: %d\r\n\r\n" % length)
    return b"".join(lines)


class TrainerError(Exception):
    """A trainer call that failed for good; `category` is its ERROR category in PROTOCOL.md."""

    def __init__(
        self,
        message: str,
        category: ErrorCategory,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.status_code = status_code
        self.retry_after = retry_after
        self.attempts = 1

    @property
    def retryable(self) -> bool:
        if self.status_code is None:
            return self.category in (ErrorCategory.TIMEOUT, ErrorCategory.CONNECTION_ERROR)
        return is_retryable(self.status_code)

    def __str__(self) -> str:
        return self.message if self.attempts == 1 else f"{self.message} ({self.attempts} tries)"


@dataclass
class Delivery:
    """How posting a completion ended: `error` is one line without secrets."""

    delivered: bool
    attempts: int
    error: str | None = None


class TrainerClient:
    """Calls one trainer back: its chat endpoint per LLM turn and its completed endpoint once."""

    def __init__(
        self,
        server_url: str,
        api_key: str | None,
        policy: RetryPolicy | None = None,
        pool: HttpPool | None = None,
    ) -> None:
        self._chat_url, self._completed_url = _callback_urls(server_url.rstrip("/"))
        self._secret = api_key if api_key and api_key.strip() else None
        self._headers = _callback_headers(self._secret)
        self._policy = policy or RetryPolicy()
        self._pool = pool or default_pool()

    def __repr__(self) -> str:
        key = "'***'" if self._secret else None
        return f"TrainerClient({_where(self._chat_url).removesuffix(CHAT_PATH)!r}, api_key={key})"

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """The trainer's chat completion for `body`; raises TrainerError.

        A 2xx whose body is no JSON object is a trainer_server_error and is not retried:
        the trainer took the request and broke its side of the contract, and asking
        again could make it sample (and record) the turn twice.
        """
        response, _ = await self._post(self._chat_url, body)
        data = _decode(response.content)
        if isinstance(data, dict):
            return data
        raise TrainerError(
            f"{_where(self._chat_url)} answered HTTP {response.status_code} "
            "with a body that is not a JSON object",
            ErrorCategory.TRAINER_SERVER_ERROR,
            response.status_code,
        )

    async def complete(self, payload: dict[str, Any]) -> Delivery:
        """Post the completion, retrying until the first 2xx; never raises but CancelledError."""
        try:
            _, attempts = await self._post(self._completed_url, payload)
        except TrainerError as error:
            return Delivery(False, error.attempts, str(error))
        except Exception as exc:  # a broken delivery must still end the rollout cleanly
            return Delivery(False, 0, self._scrub(f"{type(exc).__name__}: {exc}"))
        return Delivery(True, attempts)

    async def _post(self, url: httpx.URL, body: dict[str, Any]) -> tuple[httpx.Response, int]:
        """The first 2xx response and the number of tries it took; raises TrainerError."""
        content = _encode(body)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(url, content), attempt
            except TrainerError as error:
                delay = self._retry_delay(error, attempt, started)
                if delay is None:
                    error.attempts = attempt
                    raise
                logger.debug("retrying in %.2f s: %s", delay, error)
            await asyncio.sleep(delay)

    def _retry_delay(self, error: TrainerError, attempt: int, started: float) -> float | None:
        if not error.retryable:
            return None
        elapsed = time.monotonic() - started
        return self._policy.next_delay(attempt, elapsed, error.retry_after)

    async def _attempt(self, url: httpx.URL, content: bytes) -> httpx.Response:
        timeout = self._policy.call_timeout
        try:
            response = await self._pool.post(url, content, self._headers, timeout)
        except httpx.TimeoutException:
            message = f"{_where(url)} gave no answer within {timeout:g} s"
            raise TrainerError(message, ErrorCategory.TIMEOUT) from None
        except httpx.TransportError as exc:
            message = self._scrub(f"cannot reach {_where(url)}: {exc}")
            raise TrainerError(message, ErrorCategory.CONNECTION_ERROR) from None
        if response.is_success:
            return response
        raise self._status_error(url, response)

    def _status_error(self, url: httpx.URL, response: httpx.Response) -> TrainerError:
        status = response.status_code
        category = ErrorCategory.TRAINER_SERVER_ERROR
        if not is_retryable(status):
            category = ErrorCategory.TRAINER_CLIENT_ERROR
        excerpt = self._scrub(response.content.decode("utf-8", "replace"))[:200]
        message = f"{_where(url)} answered HTTP {status}: {excerpt}"
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return TrainerError(message, category, status, retry_after)

    def _scrub(self, text: str) -> str:
        """One line, with the api_key masked should a trainer echo it back."""
        line = " ".join(text.split())
        return line.replace(self._secret, "***") if self._secret else line


@functools.lru_cache(maxsize=1024)
def _callback_urls(base_url: str) -> tuple[httpx.URL, httpx.URL]:
    """Both callback URLs, parsed once per trainer: parsing costs as much as a request's I/O."""
    return httpx.URL(base_url + CHAT_PATH), httpx.URL(base_url + COMPLETED_PATH)


def _callback_headers(api_key: str | None) -> list[Header]:
    headers = [(b"User-Agent", _USER_AGENT), (b"Content-Type", b"application/json")]
    if api_key is None:
        return headers
    if any(char in api_key for char in "\r\n\0"):
        raise ValueError("api_key holds a line break or NUL, which no HTTP header can carry")
    return [*headers, (b"Authorization", b"Bearer " + api_key.encode())]


def _where(url: httpx.URL) -> str:
    """The URL for messages: no user info and no query, where credentials may hide."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}{url.path}"


def _encode(body: dict[str, Any]) -> bytes:
    """orjson: 20x faster than json on a long history; json only for ints past 64 bits.

    orjson's result keeps a buffer of 4 KiB or more whatever its length, and a body
    lives as long as its call (retries included): copied to its size, 2000 rollouts
    waiting on a slow model hold 1 MiB instead of 8.
    """
    try:
        return bytes(memoryview(orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS)))
    except TypeError:
        return json.dumps(body, default=str, ensure_ascii=False).encode()


def _decode(content: bytes) -> Any:
    """orjson, or json for what only it reads (NaN, Infinity); None when neither can."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(content)
    except ValueError:
        return None
