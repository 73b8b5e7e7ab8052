"""The store's options and edges, on in-process servers against a real Redis."""

from __future__ import annotations

import time

import httpx
import pytest
import redis

from rolloutctl.server.store import shown_store
from tests.helpers import RedisServer, require_redis_server
from tests.server.store.replicas import serve_usage_errors


def init_body(trainer, rollout_id: str) -> dict:
    return {
        "rollout_id": rollout_id,
        "server_url": trainer.url,
        "messages": [{"role": "user", "content": "What is 5 + 3?"}],
    }


def wait_store_state(server: str, state: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        store = httpx.get(f"{server}/health").json()["store"]
        if store["state"] == state or time.monotonic() > deadline:
            assert store["state"] == state, store
            return store
        time.sleep(0.05)


def test_prefixes_keep_two_agents_apart_in_one_redis(redis_server, trainer, start_server):
    first = start_server(store=redis_server.url, store_prefix="agent-a")
    second = start_server(store=redis_server.url, store_prefix="agent-b")
    assert httpx.post(f"{first}/v1/rollout/init", json=init_body(trainer, "x1")).status_code == 202
    trainer.wait("x1")
    assert httpx.get(f"{second}/v1/rollout/x1").status_code == 404
    keys: list[bytes] = redis.Redis.from_url(redis_server.url).keys("*")  # type: ignore[assignment]
    assert b"agent-a:rollout:x1" in keys
    assert {key.split(b":")[0] for key in keys} == {b"agent-a", b"agent-b"}
    assert not [key for key in keys if key.startswith(b"agent-b:") and b"x1" in key]


def test_a_server_started_while_redis_is_down_refuses_inits_then_recovers(
    tmp_path, trainer, start_server
):
    require_redis_server()
    later = RedisServer(tmp_path)
    server = start_server(store=later.url)
    store = wait_store_state(server, "unavailable")
    assert store["kind"] == "redis" and store["error"]
    health = httpx.get(f"{server}/health")  # 200: the process is alive, but inits get 503
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["reason"].startswith("record store unavailable")
    refused = httpx.post(f"{server}/v1/rollout/init", json=init_body(trainer, "early"))
    assert refused.status_code == 503 and refused.headers["retry-after"]
    assert "record store unavailable" in refused.json()["detail"]
    later.start()
    try:
        wait_store_state(server, "up")
        assert httpx.get(f"{server}/health").json()["status"] == "healthy"
        accepted = httpx.post(f"{server}/v1/rollout/init", json=init_body(trainer, "early"))
        assert accepted.status_code == 202
        assert trainer.wait("early")["status"] == "COMPLETED"
    finally:
        later.stop()


BAD_STORE_URLS = {
    "http://:pw@host/0": "--store", "redis:/oops": "'redis:/oops' names no host",
    "redis://:pw@/0": "names no host", "unix://": "names no socket path",
}  # fmt: skip


@pytest.fixture(scope="module")
def bad_store_errors() -> dict[str, str]:
    """`serve --store URL`'s stderr for every bad URL, from one process."""
    urls = list(BAD_STORE_URLS)
    return dict(zip(urls, serve_usage_errors(*(["--store", url] for url in urls)), strict=True))


@pytest.mark.parametrize(("url", "words"), list(BAD_STORE_URLS.items()))
def test_a_bad_store_url_is_one_line_and_exit_2(url, words, bad_store_errors):
    stderr = bad_store_errors[url]
    assert words in stderr and "pw" not in stderr


def test_a_password_in_the_store_url_is_never_shown():
    assert shown_store("redis://user:s3cret@db:6379/0") == "redis://user:***@db:6379/0"
    assert shown_store("redis://:s3cret@db:6379/0") == "redis://:***@db:6379/0"
    assert shown_store("redis://db:6379/0") == "redis://db:6379/0"
    assert shown_store(None) == "memory"
