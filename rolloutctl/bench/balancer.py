"""A round-robin TCP balancer for the bench: replicas behind one URL, as in a deployment.

A test harness, not a product feature: it does what a Kubernetes Service or any L4
balancer does (each new connection goes to the next upstream, bytes are copied both
ways, nothing is parsed), so the bench sees what a trainer behind one would. A
trainer's pooled keep-alive connections therefore spread over the replicas by
connection, not by request.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator, Sequence

from rolloutctl.net.sockets import bind_socket, socket_url

__all__ = ["CHUNK", "RoundRobinBalancer", "balancing"]

CHUNK = 64 * 1024


class RoundRobinBalancer:
    """Listens on `host`, forwards each accepted connection to the next of `upstreams`
    (`(host, port)` pairs)."""

    def __init__(self, upstreams: Sequence[tuple[str, int]], host: str = "127.0.0.1") -> None:
        if not upstreams:
            raise ValueError("a balancer needs at least one upstream")
        self.host = host
        self._next = itertools.cycle(upstreams)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self.connections = 0

    async def start(self) -> str:
        """Start listening on a free port; return the balancer's base URL."""
        sock = bind_socket(self.host, 0)
        self._server = await asyncio.start_server(self._accept, sock=sock)
        return socket_url(self.host, sock)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        host, port = next(self._next)
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()  # the client sees a reset, as behind a real balancer
            return
        for stream in (writer, up_writer):  # no delayed-ACK stalls on small requests
            stream.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            self._pipes.discard(task)
            writer.close()


@contextlib.asynccontextmanager
async def balancing(upstreams: Sequence[tuple[str, int]]) -> AsyncIterator[str]:
    """A running balancer in front of `upstreams`; yields its URL."""
    balancer = RoundRobinBalancer(upstreams)
    url = await balancer.start()
    try:
        yield url
    finally:
        await balancer.aclose()
