"""The trainer callbacks client against real uvicorn trainers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from rolloutctl.errors import TrainerError
from rolloutctl.net.pool_messages import PoolResponse
from rolloutctl.protocol import ErrorCategory
from rolloutctl.server.callbacks import Delivery, HttpPool, RetryPolicy, TrainerClient
from rolloutctl.server.retry import parse_retry_after
from tests.helpers import refused_url, run_server, self_signed_cert

KEY = "sk-canary-client-7f3e91"
FAST = RetryPolicy(max_retries=3, initial_delay=0.001, window=30.0, call_timeout=30.0)
CHAT_BODY = {
    "model": "default",
    "rollout_id": "r1",
    "messages": [{"role": "user", "content": "hi"}],
}
ANSWER = {"choices": [{"message": {"role": "assistant", "content": "8"}}]}
HANG = "hang"  # a reply that never comes: the trainer waits until the client gives up


@dataclass
class Seen:
    path: str
    query: bytes
    headers: dict[str, str]
    body: bytes
    client_port: int
    at: float


def reply(status: int = 200, body: Any = ANSWER, **headers: str) -> tuple:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return (
        status,
        [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()],
        content,
    )


class ScriptedTrainer:
    """Raw ASGI trainer: answers each request with the next scripted reply, records it."""

    def __init__(self, *replies: Any) -> None:
        self.replies = deque(replies)
        self.seen: list[Seen] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        self.seen.append(Seen(scope["path"], scope["query_string"], headers, body,
                              scope["client"][1], time.monotonic()))  # fmt: skip
        answer = self.replies.popleft() if self.replies else reply()
        if answer == HANG:
            await receive()  # returns once the client hangs up
            return
        status, headers_out, content = answer
        await send({"type": "http.response.start", "status": status, "headers": headers_out})
        await send({"type": "http.response.body", "body": content})

    @property
    def paths(self) -> list[str]:
        return [seen.path for seen in self.seen]


def serve(trainer: ScriptedTrainer, **config: Any):
    return run_server(trainer, lifespan="off", **config)


def chat(url: str, key: str | None = None, policy: RetryPolicy = FAST, **kwargs: Any) -> Any:
    async def main() -> Any:
        async with HttpPool() as pool:
            return await TrainerClient(url, key, policy, pool).chat(kwargs or CHAT_BODY)

    return asyncio.run(main())


def complete(url: str, key: str | None = None, policy: RetryPolicy = FAST) -> Delivery:
    async def main() -> Delivery:
        async with HttpPool() as pool:
            return await TrainerClient(url, key, policy, pool).complete({"rollout_id": "r1"})

    return asyncio.run(main())


def chat_error(url: str, key: str | None = None, policy: RetryPolicy = FAST) -> TrainerError:
    with pytest.raises(TrainerError) as caught:
        chat(url, key, policy)
    return caught.value


def test_bearer_header_and_json_body_with_a_key():
    trainer = ScriptedTrainer()
    with serve(trainer) as url:
        assert chat(url, KEY) == ANSWER
    (seen,) = trainer.seen
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.headers["content-type"] == "application/json"
    assert json.loads(seen.body) == CHAT_BODY


@pytest.mark.parametrize("key", [None, "", "   "])
def test_no_authorization_header_without_a_key(key):
    trainer = ScriptedTrainer()
    with serve(trainer) as url:
        chat(url, key)
        assert complete(url, key).delivered
    assert all("authorization" not in seen.headers for seen in trainer.seen)


def test_url_keeps_the_path_prefix_and_drops_a_trailing_slash():
    trainer = ScriptedTrainer()
    with serve(trainer) as url:
        chat(f"{url}/trainer/v2/")
        complete(f"{url}/trainer/v2")
    assert trainer.paths == ["/trainer/v2/v1/chat/completions", "/trainer/v2/v1/rollout/completed"]


@pytest.mark.parametrize("statuses", [(500, 502), (408, 429), (503,)])
def test_retryable_statuses_are_retried_until_a_2xx(statuses):
    trainer = ScriptedTrainer(*(reply(status, {"error": "busy"}) for status in statuses))
    with serve(trainer) as url:
        assert chat(url) == ANSWER
    assert len(trainer.seen) == len(statuses) + 1


def test_retry_after_is_honoured():
    """The retry waits the trainer's Retry-After (1 s), not FAST's backoff of about 1 ms:
    the second request arrives at least that long after the first. A busy machine can only
    make the gap longer, so the bound holds there too."""
    trainer = ScriptedTrainer(reply(503, {"error": "later"}, retry_after="1"))
    with serve(trainer) as url:
        assert chat(url) == ANSWER
    first, second = trainer.seen
    assert second.at - first.at >= 1.0
    assert FAST.next_delay(1, elapsed=0.0, retry_after=1.0) == 1.0


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_other_4xx_is_a_client_error_without_retry(status):
    trainer = ScriptedTrainer(reply(status, {"detail": "bad body"}))
    with serve(trainer) as url:
        error = chat_error(url)
    assert error.category is ErrorCategory.TRAINER_CLIENT_ERROR
    assert error.status_code == status and error.attempts == 1
    assert len(trainer.seen) == 1
    assert str(status) in str(error) and "bad body" in str(error)


def test_exhausted_5xx_is_a_server_error():
    trainer = ScriptedTrainer(*[reply(500, b"boom\nline two")] * 4)
    with serve(trainer) as url:
        error = chat_error(url)
    assert error.category is ErrorCategory.TRAINER_SERVER_ERROR
    assert error.status_code == 500 and error.attempts == 4 and len(trainer.seen) == 4
    assert "\n" not in str(error) and "4 tries" in str(error)


def test_the_window_ends_retries_before_max_retries():
    # A window of 3 s holds about 15 retries 0.2 s apart, and at least one on a busy machine.
    policy = RetryPolicy(max_retries=1000, initial_delay=0.2, multiplier=1.0, window=3.0)
    trainer = ScriptedTrainer(*[reply(503)] * 1000)
    with serve(trainer) as url:
        error = chat_error(url, policy=policy)
    assert error.category is ErrorCategory.TRAINER_SERVER_ERROR
    assert 2 <= len(trainer.seen) < 20


def test_connection_refused_is_a_connection_error():
    with refused_url() as url:
        error = chat_error(url)
    assert error.category is ErrorCategory.CONNECTION_ERROR
    assert error.status_code is None and error.attempts == 4


def test_timeout_on_every_try_is_a_timeout():
    policy = RetryPolicy(max_retries=1, initial_delay=0.001, call_timeout=0.2)
    trainer = ScriptedTrainer(HANG, HANG)
    with serve(trainer) as url:
        error = chat_error(url, policy=policy)
    assert error.category is ErrorCategory.TIMEOUT and error.attempts == 2
    assert len(trainer.seen) == 2


def test_timeout_then_answer_succeeds_on_a_new_connection():
    policy = RetryPolicy(max_retries=1, initial_delay=0.001, call_timeout=3.0)
    trainer = ScriptedTrainer(HANG)
    with serve(trainer) as url:
        assert chat(url, policy=policy) == ANSWER
    assert trainer.seen[0].client_port != trainer.seen[1].client_port


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b""])
def test_2xx_without_a_json_object_is_a_server_error_not_retried(body):
    trainer = ScriptedTrainer(reply(200, body))
    with serve(trainer) as url:
        error = chat_error(url)
    assert error.category is ErrorCategory.TRAINER_SERVER_ERROR and len(trainer.seen) == 1


def test_any_2xx_is_success():
    trainer = ScriptedTrainer(reply(201, b'{"logprobs": [-0.5]}'), reply(204, b""))
    with serve(trainer) as url:
        assert chat(url)["logprobs"] == [-0.5]
        assert complete(url) == Delivery(True, 1, None)


@pytest.mark.parametrize(
    "body",
    [
        b'{"logprobs": [NaN]}',
        b'{"logprobs": [-Infinity]}',
        b'{"usage": {"completion_tokens": 1e400}}',
        b'{"x": ' + b"[" * 2000 + b"]" * 2000 + b"}",
    ],
    ids=["nan", "infinity", "1e400", "depth-2000"],
)
def test_a_reply_that_cannot_be_sent_on_is_a_trainer_server_error(body: bytes):
    """History must not turn NaN into null, nor break the next request."""
    trainer = ScriptedTrainer(reply(200, body))
    with serve(trainer) as url:
        error = chat_error(url)
    assert error.category is ErrorCategory.TRAINER_SERVER_ERROR
    assert len(trainer.seen) == 1  # a 2xx is not asked again


def test_completion_is_delivered_once_after_a_503():
    trainer = ScriptedTrainer(reply(503, b"restarting"))
    with serve(trainer) as url:
        delivery = complete(url, KEY)
    assert delivery == Delivery(True, 2, None)
    assert trainer.paths == ["/v1/rollout/completed"] * 2


def test_completion_refused_with_a_4xx_is_not_delivered():
    trainer = ScriptedTrainer(reply(422, {"detail": "unknown rollout"}))
    with serve(trainer) as url:
        delivery = complete(url)
    assert not delivery.delivered and delivery.attempts == 1 and len(trainer.seen) == 1
    assert "422" in str(delivery.error) and "unknown rollout" in str(delivery.error)


def test_completion_to_a_dead_trainer_is_not_delivered():
    with refused_url() as url:
        delivery = complete(url)
    assert (
        not delivery.delivered and delivery.attempts == 4 and "cannot reach" in str(delivery.error)
    )


def test_api_key_never_appears_in_errors_or_repr():
    echo = reply(401, f"bad token: Bearer {KEY}".encode())
    cut = reply(500, b"x" * 195 + KEY.encode())  # the excerpt ends inside the key
    trainer = ScriptedTrainer(echo, echo, *[cut] * 4)
    with serve(trainer) as url, refused_url() as dead:
        texts = [
            str(chat_error(url, KEY)),
            str(complete(url, KEY).error),
            str(chat_error(url, KEY)),
        ]
        texts += [str(chat_error(dead, KEY)), repr(TrainerClient(url, KEY))]
        texts.append(repr(chat_error(f"http://user:{KEY}@127.0.0.1:1", KEY)))
    assert all(KEY not in text for text in texts), texts
    assert "***" in texts[0] and "***" in texts[4]


def test_api_key_with_a_line_break_is_refused_without_echo():
    with pytest.raises(ValueError) as caught:
        TrainerClient("http://127.0.0.1:1", f"{KEY}\r\nX-Evil: 1")
    assert KEY not in str(caught.value)


def test_bodies_beyond_orjson_still_encode():
    trainer = ScriptedTrainer()
    with serve(trainer) as url:
        chat(url, big=2**70, text="héllo")
    assert json.loads(trainer.seen[0].body) == {"big": 2**70, "text": "héllo"}


def test_connections_are_reused_and_many_calls_run_at_once():
    trainer = ScriptedTrainer()

    async def main(url: str) -> list[Any]:
        async with HttpPool() as pool:
            client = TrainerClient(url, None, FAST, pool)
            await client.chat(CHAT_BODY)
            await client.chat(CHAT_BODY)
            return await asyncio.gather(*(client.chat(CHAT_BODY) for _ in range(300)))

    with serve(trainer) as url:
        answers = asyncio.run(main(url))
    assert answers == [ANSWER] * 300
    assert trainer.seen[0].client_port == trainer.seen[1].client_port


def test_a_connection_the_trainer_closed_while_idle_is_not_reused():
    trainer = ScriptedTrainer()

    async def main(url: str) -> Delivery:
        async with HttpPool() as pool:
            client = TrainerClient(url, None, FAST, pool)
            await client.chat(CHAT_BODY)
            await closed_by_the_server(pool)
            return await client.complete({"rollout_id": "r1"})

    with serve(trainer, timeout_keep_alive=0.05) as url:
        assert asyncio.run(main(url)) == Delivery(True, 1, None)
    assert trainer.seen[0].client_port != trainer.seen[1].client_port


async def closed_by_the_server(pool: HttpPool, bound: float = 30.0) -> None:
    """Wait until every idle connection of `pool` has seen the server close it."""
    deadline = time.monotonic() + bound
    while not all(c.closed for idle in pool._idle.values() for c in idle):
        assert time.monotonic() < deadline, f"the server kept the connection over {bound} s"
        await asyncio.sleep(0.01)


async def one_answer_per_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    """Answers the first request of a connection, then drops the connection on the next."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    await reader.readexactly(length)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    await reader.readuntil(b"\r\n\r\n")
    writer.close()


def test_a_request_the_trainer_dropped_unanswered_on_a_reused_connection_is_resent():
    async def main() -> list[Delivery]:
        server = await asyncio.start_server(one_answer_per_connection, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with server, HttpPool() as pool:
            client = TrainerClient(url, None, RetryPolicy(max_retries=0), pool)
            return [await client.complete({"n": n}) for n in range(3)]

    assert asyncio.run(main()) == [Delivery(True, 1, None)] * 3


def test_default_pool_follows_the_running_event_loop():
    trainer = ScriptedTrainer()

    async def main(url: str) -> dict:
        return await TrainerClient(url, None, FAST).chat(CHAT_BODY)

    with serve(trainer) as url:
        assert asyncio.run(main(url)) == asyncio.run(main(url)) == ANSWER


async def chunked_app(scope: dict, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for part in (b"one ", b"two ", scope["query_string"]):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def test_pool_is_an_httpx_transport_and_reads_chunked_bodies():
    async def main(url: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=HttpPool()) as client:
            return await client.get(f"{url}/any", params={"q": "three"})

    with run_server(chunked_app, lifespan="off") as url:
        response = asyncio.run(main(url))
    assert response.status_code == 200 and response.text == "one two q=three"


def test_pool_reads_a_body_that_ends_with_the_connection():
    async def http10(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
        writer.close()

    async def main() -> PoolResponse:
        server = await asyncio.start_server(http10, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, HttpPool() as pool:
            return await pool.post(httpx.URL(f"http://127.0.0.1:{port}/"), b"{}")

    assert asyncio.run(main()).text == "until the end"


def test_https_with_a_trusted_and_an_untrusted_certificate(tmp_path):
    cert, key = self_signed_cert(tmp_path)
    trusted = ssl.create_default_context(cafile=str(cert))

    async def main(url: str) -> tuple[dict, TrainerError]:
        async with HttpPool(ssl_context=trusted) as pool:
            answer = await TrainerClient(url, KEY, FAST, pool).chat(CHAT_BODY)
        with pytest.raises(TrainerError) as caught:
            await TrainerClient(url, KEY, RetryPolicy(max_retries=0)).chat(CHAT_BODY)
        return answer, caught.value

    trainer = ScriptedTrainer()
    with serve(trainer, ssl_certfile=str(cert), ssl_keyfile=str(key)) as url:
        answer, error = asyncio.run(main(url))
    assert url.startswith("https://") and answer == ANSWER
    assert trainer.seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert error.category is ErrorCategory.CONNECTION_ERROR and "certificate" in str(error)


def test_backoff_doubles_from_half_a_second():
    policy = RetryPolicy()
    for retry, low in [(1, 0.5), (2, 1.0), (3, 2.0)]:
        delay = policy.next_delay(retry, 0.0)
        assert delay is not None and low <= delay <= 2 * low
    assert policy.next_delay(4, 0.0) is None


def test_retry_after_is_honoured_only_within_the_window():
    policy = RetryPolicy(window=30.0)
    assert policy.next_delay(1, 0.0, retry_after=7.0) == 7.0
    assert policy.next_delay(1, 25.0, retry_after=60.0) == 5.0
    assert policy.next_delay(1, 30.0, retry_after=1.0) is None


def test_retry_after_reads_seconds_and_http_dates():
    now = 1_700_000_000.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:40 GMT", now) == 20.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now) == 0.0
    assert all(parse_retry_after(bad, now) is None for bad in (None, "", "soon", "-1", "nan"))
