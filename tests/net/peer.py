"""A raw HTTP/1.1 server on 127.0.0.1 whose every byte the test chooses.

Written from RFC 9112's message framing (a head ending in a blank line, a body of
Content-Length bytes), so tests can send what well-behaved servers never do: a close
mid-response, a 1xx before the answer, a body without a length, bytes nobody asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from tests.helpers import HOST


@dataclass
class Request:
    """One request as the peer read it, with the connection it came on (numbered from 1)."""

    connection: int
    head: bytes
    body: bytes

    @property
    def request_line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    def header(self, name: bytes) -> list[bytes]:
        lines = self.head.split(b"\r\n")[1:]
        pairs = [line.split(b":", 1) for line in lines if b":" in line]
        return [value.strip() for key, value in pairs if key.strip().lower() == name.lower()]


Answer = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


def response(status: int = 200, body: bytes = b"ok", *headers: bytes) -> bytes:
    """A complete keep-alive response with a Content-Length."""
    head = b"".join(h + b"\r\n" for h in headers)
    return b"HTTP/1.1 %d X\r\n%sContent-Length: %d\r\n\r\n%s" % (status, head, len(body), body)


async def answer_ok(request: Request, writer: asyncio.StreamWriter) -> None:
    writer.write(response(200, request.body or b"ok"))


@dataclass
class Peer:
    """Serves until closed; `answer` writes each request's reply (or nothing, or closes)."""

    answer: Answer = answer_ok
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    ended: int = 0  # connections the client closed (or that ended otherwise)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    server: asyncio.Server | None = None
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> httpx.URL:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return httpx.URL(f"http://{HOST}:{port}/path?q=1")

    async def __aenter__(self) -> Peer:
        self.server = await asyncio.start_server(self._serve, HOST, 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Until `predicate()` holds: woken by each request and each ended connection."""
        async with self.changed:
            await self.changed.wait_for(predicate)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.writers.append(writer)
        try:
            while not writer.is_closing():
                request = await _read_request(reader, number)
                if request is None:
                    break
                self.requests.append(request)
                await self._notify()
                await self.answer(request, writer)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            self.ended += 1
            await self._notify()

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()


async def _read_request(reader: asyncio.StreamReader, connection: int) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed the connection
    request = Request(connection, head, b"")
    length = request.header(b"content-length")
    request.body = await reader.readexactly(int(length[0])) if length else b""
    return request
