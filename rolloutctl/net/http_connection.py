"""One client connection of the lean HTTP server: requests read, answered in order.

A complete request (`request_reading` reads it) becomes a `Cycle` in a queue, and the
next cycle starts when the one before has answered (pipelined requests keep their order).
A malformed request queues a 400 and ends reading; the connection closes once the answers
before it are out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Protocol

import httptools

from rolloutctl.net.asgi_cycle import AnswerJson, App, Cycle
from rolloutctl.net.request_reading import MAX_HEAD, RequestReader

__all__ = ["MAX_HEAD", "MAX_QUEUED", "Connection", "Host"]  # MAX_HEAD was defined here first

MAX_QUEUED = 32  # pipelined requests read ahead of their answers before reading pauses
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\nconnection: close\r\n\r\nInvalid HTTP request."
)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Host(Protocol):
    """What a connection needs of its server."""

    app: App
    connections: set[Connection]
    tasks: set[asyncio.Task[None]]

    def target(self, url: bytes) -> tuple[str, bytes, bytes]: ...


class Connection(RequestReader):
    """One client connection: reads requests and answers them in order."""

    transport: asyncio.Transport

    def __init__(self, server: Host) -> None:
        super().__init__(server.target)
        self.server = server
        self.answer_json: AnswerJson | None = getattr(server.app, "answer_json", None)
        self.loop = asyncio.get_running_loop()
        self.queue: deque[Cycle | None] = deque()  # None: a malformed request's 400
        self.current: Cycle | None = None
        self.last_read = self.loop.time()
        self.closing = False  # no more requests are read (bad input, close, upgrade)
        self.ending = False  # the server stops: close once nothing is being answered
        self.writable: asyncio.Future[None] | None = None  # set while writing is paused
        self.paused = False  # reading paused while pipelined requests wait

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP connection's
        self._name_ends(transport)
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

    def on_headers_complete(self) -> None:
        """A client waiting for `100 Continue` gets it when no earlier answer is due
        (else it sends its body after its own wait, RFC 9110 §10.1.1)."""
        if self.expect and self.current is None and not self.queue and self._version_11():
            self.transport.write(_CONTINUE)

    def on_message_complete(self) -> None:
        self.queue.append(Cycle(self, *self._request()))
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
