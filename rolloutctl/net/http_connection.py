"""One client connection of the lean HTTP server: requests parsed, answered in order.

httptools calls back per request line, header and body piece; a complete request
becomes a `Cycle` in a queue, and the next cycle starts when the one before has
answered (pipelined requests keep their order). A malformed request queues a 400 and
ends reading; the connection closes once the answers before it are out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any, Protocol

import httptools

from rolloutctl.net.asgi_cycle import AnswerJson, App, Cycle

__all__ = ["MAX_HEAD", "MAX_QUEUED", "Connection", "Host"]

MAX_QUEUED = 32  # pipelined requests read ahead of their answers before reading pauses
MAX_HEAD = 65536  # bytes of request target, and of header fields, a request may have
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\nconnection: close\r\n\r\nInvalid HTTP request."
)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_METHODS: dict[bytes, str] = {}


class Host(Protocol):
    """What a connection needs of its server."""

    app: App
    connections: set[Connection]
    tasks: set[asyncio.Task[None]]

    def target(self, url: bytes) -> tuple[str, bytes, bytes]: ...


class Connection(asyncio.Protocol):
    """One client connection: parses requests and answers them in order."""

    transport: asyncio.Transport

    def __init__(self, server: Host) -> None:
        self.server = server
        self.answer_json: AnswerJson | None = getattr(server.app, "answer_json", None)
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[Cycle | None] = deque()  # None: a malformed request's 400
        self.current: Cycle | None = None
        self.last_read = self.loop.time()
        self.closing = False  # no more requests are read (bad input, close, upgrade)
        self.ending = False  # the server stops: close once nothing is being answered
        self.writable: asyncio.Future[None] | None = None  # set while writing is paused
        self.paused = False  # reading paused while pipelined requests wait
        self.expect = False  # the request being read asked for `100 Continue`
        self.head_size = 0  # bytes of header fields read of the request being read
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.names: tuple[Any, Any] = (None, None)  # the server's and the client's address

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP connection's
        self.names = (_address(transport, "sockname"), _address(transport, "peername"))
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.closing = True
        for cycle in (self.current, *self.queue):
            if cycle is not None:
                cycle.disconnect()
        self.queue.clear()
        self._writable()

    def data_received(self, data: bytes) -> None:
        self.last_read = self.loop.time()
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._upgrade()
        except (httptools.HttpParserError, UnicodeDecodeError, ValueError):
            self.closing = True
            self.queue.append(None)
        if len(self.queue) >= MAX_QUEUED and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        if self.current is None:
            self._next()

    def _upgrade(self) -> None:
        """No protocol switch is offered: the request is answered as plain HTTP, and the
        bytes after it (another protocol's) are not read."""
        self.closing = True
        if self.url:  # still inside the request: its body never ended
            self.queue.append(None)
        elif self.queue and self.queue[-1] is not None:
            self.queue[-1].keep_alive = False

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body, self.expect = b"", [], [], False
        self.head_size = 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_HEAD:
            raise ValueError("request target too long")  # httptools makes it a parse error

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value)
        if self.head_size > MAX_HEAD:
            raise ValueError("header fields too long")  # a 400, as for any malformed request
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        """A client waiting for `100 Continue` gets it when no earlier answer is due
        (else it sends its body after its own wait, RFC 9110 §10.1.1)."""
        if self.expect and self.current is None and not self.queue and self._version_11():
            self.transport.write(_CONTINUE)

    def _version_11(self) -> bool:
        return self.parser.get_http_version() == "1.1"  # no interim answers to HTTP/1.0

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        parser, version = self.parser, self.parser.get_http_version()
        path, raw_path, query = self.server.target(self.url)
        method = _METHODS.get(raw := parser.get_method()) or _METHODS.setdefault(raw, raw.decode())
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": version,
            "server": self.names[0],
            "client": self.names[1],
            "scheme": "http",
            "method": method,
            "root_path": "",
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": self.headers,
        }
        keep_alive = version != "1.0" and parser.should_keep_alive()
        body = b"".join(self.body) if len(self.body) != 1 else self.body[0]
        self.queue.append(Cycle(self, scope, body, keep_alive))
        self.url = b""

    def _next(self) -> None:
        """Answer the next request read, if any, unless one is being answered."""
        while self.current is None and self.queue:
            cycle = self.queue.popleft()
            if cycle is None:
                self.transport.write(_BAD_REQUEST)
                self.transport.close()
                return
            self.current = cycle
            run = cycle.run(self.server.app, self.answer_json)
            task = asyncio.Task(run, loop=self.loop, eager_start=True)
            if not task.done():
                self.server.tasks.add(task)
                task.add_done_callback(self.server.tasks.discard)
        if self.paused and self.current is None and not self.closing:
            self.paused = False
            self.transport.resume_reading()

    def finished(self, cycle: Cycle) -> None:
        """`cycle`'s answer is out: close, or go on to the next request."""
        self.current = None
        self.last_read = self.loop.time()
        if not cycle.keep_alive or self.ending or (self.closing and not self.queue):
            self.closing = True
            self.queue.clear()
            self.transport.close()
        elif self.queue:
            self.loop.call_soon(self._next)  # not from inside the app's own send

    def wind_down(self) -> None:
        """The server stops: close now if idle, else after the answer under way."""
        self.ending = self.closing = True
        if self.current is None:
            self.transport.close()
        else:
            self.current.keep_alive = False  # its head says so, if not yet written

    def pause_writing(self) -> None:
        if self.writable is None:
            self.writable = self.loop.create_future()

    def resume_writing(self) -> None:
        self._writable()

    def _writable(self) -> None:
        if self.writable is not None:
            with contextlib.suppress(asyncio.InvalidStateError):
                self.writable.set_result(None)
            self.writable = None

    async def drain(self) -> None:
        """Wait while the client reads slower than a streamed answer is written."""
        if self.writable is not None:
            await asyncio.shield(self.writable)


def _address(transport: asyncio.BaseTransport, name: str) -> tuple[str, int] | None:
    address = transport.get_extra_info(name)
    return (address[0], address[1]) if isinstance(address, tuple) else None
