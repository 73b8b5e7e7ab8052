"""The lean HTTP/1.1 server (rolloutctl/net/http_server.py) over real sockets.

Requests are written byte for byte and answers read with a reader written from
RFC 9112's framing (status line, header fields, then Content-Length bytes, chunks, or
everything until the close), so each test sees exactly what a client would.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from rolloutctl.net.http_pool import HttpPool
from rolloutctl.net.http_server import HttpServer
from rolloutctl.net.sockets import bind_socket
from tests.helpers import HOST, in_loop

WAIT = 60.0  # a bound for what should happen at once; a busy machine never comes near it


@dataclass
class App:
    """An ASGI app with one behaviour per path; `gate` holds /wait until it is set."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    seen: list[str] = field(default_factory=list)  # what /gone's second receive() gave
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = (await receive())["body"]
        path = scope["path"]
        if path == "/fail":
            raise RuntimeError("the app broke")
        if path == "/nothing":
            return
        if path == "/wait":
            self.entered.set()
            await self.gate.wait()
        if path == "/gone":
            self.entered.set()
            self.seen.append((await receive())["type"])
            return
        await getattr(self, path.strip("/").replace("-", "_") or "echo", self.echo)(
            scope, body, send
        )

    async def echo(self, scope: dict[str, Any], body: bytes, send: Any) -> None:
        answer = {
            "method": scope["method"],
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode(),
            "query": scope["query_string"].decode(),
            "version": scope["http_version"],
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            "size": len(body),
            "sha": hashlib.sha256(body).hexdigest(),
            "client_port": scope["client"][1],
        }
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
        await send({"type": "http.response.body", "body": orjson.dumps(answer)})

    async def stream(self, scope: dict[str, Any], body: bytes, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one,", b"", b"two,"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"three"})

    async def half(self, scope: dict[str, Any], body: bytes, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"9")]}
        )
        await send({"type": "http.response.body", "body": b"abc", "more_body": True})
        raise RuntimeError("the app broke mid-answer")

    async def bad_header(self, scope: dict[str, Any], body: bytes, send: Any) -> None:
        value = b"x\r\nset-cookie: injected" if body == b"value" else b"x"
        name = b"x-ok" if body == b"value" else b"bad name"
        await send({"type": "http.response.start", "status": 200, "headers": [(name, value)]})
        await send({"type": "http.response.body", "body": b"never sent"})

    async def big(self, scope: dict[str, Any], body: bytes, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(64):
            part = bytes([65 + index % 26]) * 65536
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


async def read_answer(reader: asyncio.StreamReader, head_only: bool = False) -> Answer:
    """One response as RFC 9112 frames it (interim 1xx answers are returned as they are)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    status_line, *lines = head[:-4].split(b"\r\n")
    version, status = status_line.split(b" ", 2)[:2]
    assert version == b"HTTP/1.1"
    headers = {}
    for line in lines:
        name, value = line.split(b":", 1)
        assert name == name.strip() and name.lower() not in headers
        headers[name.lower()] = value.strip()
    code = int(status)
    if head_only or code < 200 or code in (204, 304):
        return Answer(code, headers, b"")
    if headers.get(b"transfer-encoding") == b"chunked":
        assert b"content-length" not in headers
        return Answer(code, headers, await read_chunks(reader))
    if b"content-length" in headers:
        body = await asyncio.wait_for(reader.readexactly(int(headers[b"content-length"])), WAIT)
        return Answer(code, headers, body)
    return Answer(code, headers, await asyncio.wait_for(reader.read(), WAIT))  # until the close


async def read_chunks(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
        if size == 0:
            assert await reader.readuntil(b"\r\n") == b"\r\n"  # no trailer fields
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        assert await reader.readexactly(2) == b"\r\n"


def request(path: str = "/", body: bytes = b"", *headers: bytes, method: bytes = b"POST") -> bytes:
    extra = b"".join(h + b"\r\n" for h in headers)
    return b"%s %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %d\r\n\r\n%s" % (
        method,
        path.encode(),
        extra,
        len(body),
        body,
    )


@contextlib.asynccontextmanager
async def serving(app: Any = None, **options: Any) -> AsyncIterator[tuple[HttpServer, int]]:
    sock = bind_socket(HOST, 0)
    server = HttpServer(app or App(), **options)
    await server.start(sock)
    try:
        yield server, sock.getsockname()[1]
    finally:
        await server.stop(WAIT)
        sock.close()


async def closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closed the connection (nothing more comes)."""
    return await asyncio.wait_for(reader.read(), WAIT) == b""


@in_loop
async def test_requests_on_one_keep_alive_connection_are_each_answered_in_one_piece() -> None:
    async with serving() as (_, port):
        reader, writer = await asyncio.open_connection(HOST, port)
        ports = []
        for index in range(3):
            body = b'{"n": %d}' % index
            writer.write(request(f"/v1/x%2Fy?q={index}", body, b"Authorization: Bearer k"))
            answer = await read_answer(reader)
            seen = orjson.loads(answer.body)
            assert answer.status == 200 and answer.headers[b"x-a"] == b"1"
            assert b"connection" not in answer.headers  # kept alive
            assert (seen["method"], seen["path"]) == ("POST", "/v1/x/y")
            assert seen["raw_path"] == "/v1/x%2Fy"
            assert seen["query"] == f"q={index}" and seen["version"] == "1.1"
            assert ["authorization", "Bearer k"] in seen["headers"]
            assert seen["sha"] == hashlib.sha256(body).hexdigest()
            ports.append(seen["client_port"])
        assert len(set(ports)) == 1
        writer.close()


async def pipelined_past_a_held_first(
    app: App, port: int, *requests: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that sent `requests` in one write; the app entered the first, which
    its gate held while the others were read, and the gate is now open."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(b"".join(requests))
    await asyncio.wait_for(app.entered.wait(), WAIT)
    app.gate.set()
    return reader, writer


@in_loop
async def test_pipelined_requests_are_answered_in_order_even_when_the_first_waits() -> None:
    app = App()
    async with serving(app) as (_, port):
        reader, writer = await pipelined_past_a_held_first(
            app, port, request("/wait", b"1"), request("/second", b"22"), request("/", b"333")
        )
        sizes = [orjson.loads((await read_answer(reader)).body)["size"] for _ in range(3)]
        assert sizes == [1, 2, 3]
        writer.close()


@in_loop
async def test_a_chunked_body_sent_a_byte_at_a_time_is_read_whole() -> None:
    body = b"x" * 300 + b"\r\n" + b"y" * 40
    chunks = b"12c\r\n" + body[:300] + b"\r\n" + b"2a;ext=1\r\n" + body[300:] + b"\r\n0\r\n\r\n"
    head = b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    async with serving() as (_, port):
        reader, writer = await asyncio.open_connection(HOST, port)
        for byte in head + chunks:
            writer.write(bytes([byte]))
            await writer.drain()
        seen = orjson.loads((await read_answer(reader)).body)
        assert seen["sha"] == hashlib.sha256(body).hexdigest() and seen["size"] == 342
        writer.close()


@in_loop
async def test_a_big_body_arrives_whole_and_a_big_streamed_answer_reaches_a_slow_reader() -> None:
    body = bytes(range(256)) * 40_000  # 10 MB
    async with serving() as (_, port):
        reader, writer = await asyncio.open_connection(HOST, port, limit=2**16)
        writer.write(request("/", body))
        seen = orjson.loads((await read_answer(reader)).body)
        assert seen["size"] == len(body) and seen["sha"] == hashlib.sha256(body).hexdigest()
        writer.write(request("/big"))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert b"transfer-encoding: chunked" in head.lower()
        got = bytearray()
        while len(got) < 64 * 65536:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            got += await reader.readexactly(size)
            await reader.readexactly(2)
            await asyncio.sleep(0.001)  # read slower than the app writes
        assert got == b"".join(bytes([65 + i % 26]) * 65536 for i in range(64))
        assert await reader.readexactly(5) == b"0\r\n\r\n"
        writer.write(request("/", b"after"))  # still usable
        assert orjson.loads((await read_answer(reader)).body)["size"] == 5
        writer.close()


@pytest.mark.parametrize(
    "bad",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost : t\r\nContent-Length: 0\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"X-Many: %s\r\n" % (b"v" * 1000) * 70 + b"\r\n",
    ],
    ids=[
        "garbage",
        "two-lengths",
        "space-before-colon",
        "bad-length",
        "bad-chunk",
        "non-ascii-target",
        "long-target",
        "long-fields",
    ],
)
def test_a_malformed_request_gets_400_and_a_close_after_the_answers_before_it(bad: bytes) -> None:
    async def main() -> None:
        async with serving() as (_, port):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(request("/", b"ok") + bad + request("/", b"never"))
            first = await read_answer(reader)
            assert first.status == 200 and orjson.loads(first.body)["size"] == 2
            answer = await read_answer(reader)
            assert answer.status == 400 and answer.headers[b"connection"] == b"close"
            assert await closed(reader)
            writer.close()

    asyncio.run(asyncio.wait_for(main(), 120))


@in_loop
async def test_http_1_0_and_connection_close_end_the_connection_after_the_answer() -> None:
    async with serving() as (_, port):
        for ask in (
            b"GET /s HTTP/1.0\r\n\r\n",
            b"GET /s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            request("/s", b"", b"Connection: close"),
        ):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(ask)
            answer = await read_answer(reader)
            assert answer.status == 200 and answer.headers[b"connection"] == b"close"
            assert await closed(reader)
            writer.close()
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"GET /stream HTTP/1.0\r\n\r\n")  # no chunks in 1.0: the close ends it
        answer = await read_answer(reader)
        assert answer.body == b"one,two,three" and b"transfer-encoding" not in answer.headers
        writer.close()


@in_loop
async def test_streamed_answers_are_chunked_and_head_gets_no_body() -> None:
    async with serving() as (_, port):
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(request("/stream") + request("/", b"", method=b"HEAD") + request("/", b"z"))
        assert (await read_answer(reader)).body == b"one,two,three"
        head = await read_answer(reader, head_only=True)
        assert head.status == 200 and int(head.headers[b"content-length"]) > 0
        assert orjson.loads((await read_answer(reader)).body)["size"] == 1  # nothing in between
        writer.close()


@in_loop
async def test_expect_100_continue_gets_its_interim_answer_before_the_body_is_sent() -> None:
    async with serving() as (_, port):
        reader, writer = await asyncio.open_connection(HOST, port)
        head = request("/", b"").replace(b"Content-Length: 0", b"Content-Length: 4")
        writer.write(head.replace(b"Host: t\r\n", b"Host: t\r\nExpect: 100-continue\r\n"))
        interim = await read_answer(reader)
        assert interim.status == 100
        writer.write(b"body")
        assert orjson.loads((await read_answer(reader)).body)["size"] == 4
        writer.close()
        reader, writer = await asyncio.open_connection(HOST, port)  # HTTP/1.0: no interim
        writer.write(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab")
        assert (await read_answer(reader)).status == 200
        writer.close()


@in_loop
async def test_app_failures_give_500_before_the_answer_and_a_close_after_it() -> None:
    async with serving() as (_, port):
        for path in ("/fail", "/nothing"):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(request(path))
            answer = await read_answer(reader)
            assert answer.status == 500 and answer.headers[b"connection"] == b"close"
            assert await closed(reader)
            writer.close()
        for body in (b"value", b"name"):  # a header that would split the head, or no token
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(request("/bad-header", body))
            answer = await read_answer(reader)
            assert answer.status == 500 and b"set-cookie" not in answer.headers
            assert await closed(reader)
            writer.close()
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(request("/half"))
        sent = await asyncio.wait_for(reader.read(), WAIT)  # head and 3 of 9 bytes, then the close
        assert sent.startswith(b"HTTP/1.1 200 OK\r\n") and sent.endswith(b"\r\n\r\nabc")
        writer.close()


@in_loop
async def test_an_app_waiting_on_receive_learns_that_the_client_left() -> None:
    app = App()
    async with serving(app) as (server, port):
        _, writer = await asyncio.open_connection(HOST, port)
        writer.write(request("/gone"))
        await asyncio.wait_for(app.entered.wait(), WAIT)
        writer.close()
        while not app.seen:
            await asyncio.sleep(0.01)
        assert app.seen == ["http.disconnect"]
        while server.connections or server.tasks:
            await asyncio.sleep(0.01)


@in_loop
async def test_idle_connections_close_but_a_slow_client_still_gets_its_answer() -> None:
    async with serving(idle_timeout=0.4) as (_, port):
        reader, writer = await asyncio.open_connection(HOST, port)
        for part in (b"POST / HTTP/1.1\r\n", b"Host: t\r\n", b"Content-Length: 2\r\n\r\n", b"ab"):
            writer.write(part)  # 0.2 s apart: 0.6 s in all, each gap under the timeout
            await asyncio.sleep(0.2)
        assert orjson.loads((await read_answer(reader)).body)["size"] == 2
        assert await closed(reader)  # then nothing for 0.4 s: closed
        writer.close()


@in_loop
async def test_an_upgrade_request_is_answered_as_plain_http_and_the_rest_is_not_read() -> None:
    async with serving() as (_, port):
        reader, writer = await asyncio.open_connection(HOST, port)
        upgrade = b"Connection: Upgrade\r\nUpgrade: websocket"
        writer.write(request("/u", b"", upgrade, method=b"GET") + b"\x81\x05hello")
        answer = await read_answer(reader)
        assert answer.status == 200 and answer.headers[b"connection"] == b"close"
        assert await closed(reader)
        writer.close()


@in_loop
async def test_stop_lets_an_answer_under_way_finish_and_closes_idle_connections() -> None:
    app = App()
    async with serving(app) as (server, port):
        idle_reader, idle_writer = await asyncio.open_connection(HOST, port)
        idle_writer.write(request("/"))
        await read_answer(idle_reader)
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(request("/wait", b"w"))
        await asyncio.wait_for(app.entered.wait(), WAIT)
        stopping = asyncio.create_task(server.stop(WAIT))
        assert await closed(idle_reader)
        app.gate.set()
        answer = await read_answer(reader)
        assert answer.status == 200 and answer.headers[b"connection"] == b"close"
        await asyncio.wait_for(stopping, WAIT)
        with pytest.raises(OSError):
            await asyncio.open_connection(HOST, port)
        for w in (writer, idle_writer):
            w.close()


@in_loop
async def test_stop_ends_an_answer_that_outlives_the_grace() -> None:
    app = App()
    async with serving(app) as (server, port):
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(request("/wait"))
        await asyncio.wait_for(app.entered.wait(), WAIT)
        await asyncio.wait_for(server.stop(0.1), WAIT)
        assert await closed(reader) and not server.tasks
        writer.close()


@in_loop
async def test_many_concurrent_clients_through_http_pool_and_httpx() -> None:
    async with serving() as (_, port):
        pool = HttpPool()
        url = httpx.URL(f"http://{HOST}:{port}/p")
        answers = await asyncio.gather(
            *(pool.post(url, b"%d" % i, timeout=WAIT) for i in range(400))
        )
        assert sorted(orjson.loads(a.content)["size"] for a in answers)[-1] == 3
        assert all(a.status_code == 200 for a in answers)
        await pool.aclose()
        async with httpx.AsyncClient() as client:
            response = await client.put(f"http://{HOST}:{port}/h", content=b"abc")
            streamed = await client.get(f"http://{HOST}:{port}/stream")
        assert response.json()["method"] == "PUT" and streamed.text == "one,two,three"


class JsonApp(App):
    """Takes /json* requests as (status, JSON value) answers; the rest go through ASGI."""

    def answer_json(self, scope: dict[str, Any], body: bytes) -> Any:
        if not scope["path"].startswith("/json"):
            return None
        return self.json_answer(scope["path"], body)

    async def json_answer(self, path: str, body: bytes) -> tuple[int, Any]:
        if path == "/json-fail":
            raise RuntimeError("the app broke")
        if path == "/json-wait":
            self.entered.set()
            await self.gate.wait()
        return 201, {"got": body.decode(), "path": path}


@in_loop
async def test_an_app_may_answer_json_in_one_write_without_asgi_messages() -> None:
    app = JsonApp()
    async with serving(app) as (_, port):
        reader, writer = await pipelined_past_a_held_first(
            app, port, request("/json-wait", b"1"), request("/json", b"2"), request("/", b"3")
        )
        exact = b'{"got":"1","path":"/json-wait"}'
        head = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 31"
        assert await reader.readexactly(len(head) + 4 + len(exact)) == head + b"\r\n\r\n" + exact
        assert orjson.loads((await read_answer(reader)).body) == {"got": "2", "path": "/json"}
        assert orjson.loads((await read_answer(reader)).body)["size"] == 1  # through ASGI
        writer.write(request("/json", b"4", b"Connection: close"))
        last = await read_answer(reader)
        assert last.status == 201 and last.headers[b"connection"] == b"close"
        assert await closed(reader)
        writer.close()
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(request("/json-fail"))
        failed = await read_answer(reader)
        assert failed.status == 500 and await closed(reader)
        writer.close()
