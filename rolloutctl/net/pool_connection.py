"""One client connection of an `HttpPool`: one exchange at a time, the response parsed
by httptools (the server side's connection is `http_connection`)."""

from __future__ import annotations

import asyncio
import functools
import ssl

import httptools
import httpx

from rolloutctl.net.pool_messages import LENGTH_HEADERS, Header

__all__ = ["PoolConnection", "connect"]


class PoolConnection(asyncio.Protocol):
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
        if self._headers_done and all(n.lower() not in LENGTH_HEADERS for n, _ in self._headers):
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


async def connect(
    url: httpx.URL, deadline: float | None, ssl_context: ssl.SSLContext | None
) -> PoolConnection:
    """A new connection to `url`'s origin (`ssl_context` for https, else a shared default)."""
    if url.scheme not in ("http", "https"):
        raise httpx.UnsupportedProtocol(f"cannot call a {url.scheme!r} URL")
    host, tls = url.raw_host.decode("ascii"), url.scheme == "https"
    port = url.port or (443 if tls else 80)
    context = (ssl_context or _shared_ssl_context()) if tls else None
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout_at(deadline):
            _, connection = await loop.create_connection(
                PoolConnection, host, port, ssl=context, server_hostname=host if tls else None
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
