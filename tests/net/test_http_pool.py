"""HttpPool against real servers on 127.0.0.1: uvicorn for well-formed HTTP, and a raw
peer (tests/net/peer.py) for what servers rarely do. Keep-alive reuse is read from the
server's side: the connection each request arrived on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from rolloutctl.net.http_pool import HttpPool
from rolloutctl.net.pool_messages import encode_headers
from tests.helpers import in_loop, refused_url, run_server
from tests.net.peer import Peer, Request, answer_ok, response

# A bound for waits that should end at once; a busy machine never comes near it.
WAIT = 60.0


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers every request with its method, path, client port, Host and body as JSON."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    answer = httpx.Response(200, json={
        "method": scope["method"], "path": scope["path"], "query": scope["query_string"].decode(),
        "port": scope["client"][1], "host": headers.get("host"), "body": body.decode(),
        "headers": headers,
    })  # fmt: skip
    raw = [(b"content-type", b"application/json"), (b"x-answer", b"yes")]
    await send({"type": "http.response.start", "status": 200, "headers": raw})
    await send({"type": "http.response.body", "body": answer.content})


@pytest.fixture(scope="module")
def uvicorn_url() -> Iterator[str]:
    with run_server(echo_app) as url:
        yield url


def test_post_sends_host_length_and_headers_and_reads_the_answer(uvicorn_url: str) -> None:
    async def main() -> None:
        pool = HttpPool()
        url = httpx.URL(f"{uvicorn_url}/v1/x")
        headers = [(b"authorization", b"Bearer k"), (b"content-length", b"999")]
        answer = await pool.post(url, b'{"a": 1}', headers, timeout=WAIT)
        await pool.aclose()
        assert answer.status_code == 200 and answer.is_success
        assert answer.headers["x-answer"] == "yes"
        seen = answer.json()
        assert (seen["method"], seen["path"], seen["body"]) == ("POST", "/v1/x", '{"a": 1}')
        assert seen["host"] == url.netloc.decode()
        assert seen["headers"]["authorization"] == "Bearer k"
        assert seen["headers"]["content-length"] == "8"  # the pool frames the body itself
        assert '"method"' in answer.text

    asyncio.run(main())


def test_requests_in_turn_reuse_one_connection(uvicorn_url: str) -> None:
    async def main() -> set[int]:
        pool = HttpPool()
        url = httpx.URL(f"{uvicorn_url}/")
        ports = {(await pool.post(url, b"", timeout=WAIT)).json()["port"] for _ in range(5)}
        await pool.aclose()
        return ports

    assert len(asyncio.run(main())) == 1


def test_requests_at_once_open_one_connection_each_and_keep_them(uvicorn_url: str) -> None:
    async def main() -> tuple[set[int], set[int]]:
        pool = HttpPool()
        url = httpx.URL(f"{uvicorn_url}/")
        first = await asyncio.gather(*(pool.post(url, b"", timeout=WAIT) for _ in range(3)))
        again = await asyncio.gather(*(pool.post(url, b"", timeout=WAIT) for _ in range(3)))
        await pool.aclose()
        return {a.json()["port"] for a in first}, {a.json()["port"] for a in again}

    first, again = asyncio.run(main())
    assert len(first) == 3 and again == first


def test_an_expired_idle_connection_is_not_reused(uvicorn_url: str) -> None:
    async def main() -> set[int]:
        pool = HttpPool(keepalive_expiry=0.0)  # every idle connection is already too old
        url = httpx.URL(f"{uvicorn_url}/")
        ports = {(await pool.post(url, b"", timeout=WAIT)).json()["port"] for _ in range(3)}
        await pool.aclose()
        return ports

    assert len(asyncio.run(main())) == 3


def test_an_httpx_client_over_the_pool_gets_httpx_responses(uvicorn_url: str) -> None:
    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=HttpPool(), timeout=WAIT) as client:
            return await client.get(f"{uvicorn_url}/items", params={"page": "2"})

    answer = asyncio.run(main())
    assert answer.status_code == 200 and answer.headers["x-answer"] == "yes"
    assert answer.json()["method"] == "GET" and answer.json()["query"] == "page=2"


def test_a_pool_follows_the_running_loop(uvicorn_url: str) -> None:
    """Connections belong to the loop that opened them; a new loop opens its own."""
    pool = HttpPool()
    url = httpx.URL(f"{uvicorn_url}/")

    async def port() -> int:
        return int((await pool.post(url, b"", timeout=WAIT)).json()["port"])

    assert asyncio.run(port()) != asyncio.run(port())


@in_loop
async def test_connection_close_from_the_server_is_honoured() -> None:
    async def close_each(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(response(200, b"ok", b"Connection: close"))

    async with Peer(close_each) as peer:
        pool = HttpPool()
        for _ in range(2):
            assert (await pool.post(peer.url, b"", timeout=WAIT)).content == b"ok"
        assert [r.connection for r in peer.requests] == [1, 2]


@in_loop
async def test_an_idle_connection_the_server_closed_is_replaced_without_resending() -> None:
    async def answer_then_close(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(response())  # keep-alive by the headers, but the server hangs up
        await writer.drain()
        writer.close()

    async with Peer(answer_then_close) as peer:
        pool = HttpPool()
        await pool.post(peer.url, b"one", timeout=WAIT)
        await asyncio.wait_for(peer.wait_for(lambda: peer.ended == 1), WAIT)
        assert (await pool.post(peer.url, b"two", timeout=WAIT)).status_code == 200
        assert [(r.connection, r.body) for r in peer.requests] == [(1, b"one"), (2, b"two")]


@in_loop
async def test_interim_1xx_answers_are_skipped() -> None:
    async def continue_first(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + response(201, b"made"))

    async with Peer(continue_first) as peer:
        answer = await HttpPool().post(peer.url, b"", timeout=WAIT)
        assert (answer.status_code, answer.content) == (201, b"made")


@in_loop
async def test_chunked_and_close_delimited_bodies_are_read_whole() -> None:
    async def chunked(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.body == b"chunked":
            writer.write(b"HTTP/1.1 200 X\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")  # fmt: skip
        else:  # no length at all: the body runs until the server closes
            writer.write(b"HTTP/1.1 200 X\r\nConnection: close\r\n\r\nuntil the end")
            await writer.drain()
            writer.close()

    async with Peer(chunked) as peer:
        pool = HttpPool()
        assert (await pool.post(peer.url, b"chunked", timeout=WAIT)).content == b"abcde"
        assert (await pool.post(peer.url, b"close", timeout=WAIT)).content == b"until the end"


@in_loop
async def test_a_close_mid_response_is_a_protocol_error_and_not_retried() -> None:
    async def half(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 X\r\nContent-Length: 100\r\n\r\nonly a part")
        await writer.drain()
        writer.close()

    async with Peer(half) as peer:
        with pytest.raises(httpx.RemoteProtocolError):
            await HttpPool().post(peer.url, b"", timeout=WAIT)
        assert len(peer.requests) == 1


@in_loop
async def test_garbage_is_a_protocol_error() -> None:
    async def garbage(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")

    async with Peer(garbage) as peer:
        with pytest.raises(httpx.RemoteProtocolError, match="invalid HTTP response"):
            await HttpPool().post(peer.url, b"", timeout=WAIT)


@in_loop
async def test_bytes_nobody_asked_for_make_a_connection_unusable() -> None:
    answered = asyncio.Event()

    async def then_more(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(response())
        if request.connection == 1:
            await writer.drain()
            await answered.wait()  # the pool holds the connection idle now
            writer.write(response())  # answers no request

    async with Peer(then_more) as peer:
        pool = HttpPool()
        await pool.post(peer.url, b"", timeout=WAIT)
        answered.set()
        await asyncio.wait_for(peer.wait_for(lambda: peer.ended == 1), WAIT)  # pool hung up
        await pool.post(peer.url, b"", timeout=WAIT)
        assert [r.connection for r in peer.requests] == [1, 2]


@in_loop
async def test_no_answer_within_the_timeout_is_a_read_timeout() -> None:
    never = asyncio.Event()

    async def silent(request: Request, writer: asyncio.StreamWriter) -> None:
        await never.wait()

    async with Peer(silent) as peer:
        pool = HttpPool()
        with pytest.raises(httpx.ReadTimeout):
            await pool.post(peer.url, b"", timeout=0.05)
        never.set()
        await asyncio.wait_for(peer.wait_for(lambda: peer.ended == 1), WAIT)  # closed


@in_loop
async def test_an_unreachable_server_and_a_foreign_scheme_are_transport_errors() -> None:
    pool = HttpPool()
    with refused_url() as url, pytest.raises(httpx.ConnectError, match="cannot connect"):
        await pool.post(httpx.URL(url), b"", timeout=WAIT)
    with pytest.raises(httpx.UnsupportedProtocol):
        await pool.post(httpx.URL("ftp://127.0.0.1/x"), b"", timeout=WAIT)


@in_loop
async def test_aclose_closes_idle_connections_and_busy_ones_when_they_end() -> None:
    release = asyncio.Event()

    async def slow_second(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.body == b"slow":
            await release.wait()
        writer.write(response())

    async with Peer(slow_second) as peer:
        pool = HttpPool()
        slow = asyncio.create_task(pool.post(peer.url, b"slow", timeout=WAIT))
        await asyncio.wait_for(peer.wait_for(lambda: len(peer.requests) == 1), WAIT)
        await pool.post(peer.url, b"fast", timeout=WAIT)  # a second connection, now idle
        await pool.aclose()
        await asyncio.wait_for(peer.wait_for(lambda: peer.ended == 1), WAIT)  # the idle one
        release.set()
        assert (await slow).status_code == 200
        await asyncio.wait_for(peer.wait_for(lambda: peer.ended == 2), WAIT)  # then the busy one


@in_loop
async def test_headers_encoded_once_are_sent_as_given() -> None:
    async with Peer(answer_ok) as peer:
        pool = HttpPool()
        lines = encode_headers([(b"x-key", b"v"), (b"host", b"elsewhere")])
        await pool.post(peer.url, b"body", lines, timeout=WAIT)
        (request,) = peer.requests
        assert request.request_line == b"POST /path?q=1 HTTP/1.1"
        assert request.header(b"x-key") == [b"v"]
        assert request.header(b"host") == [peer.url.netloc]  # the pool's own, once
        assert request.header(b"content-length") == [b"4"]
