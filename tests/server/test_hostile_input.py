"""Odd and hostile init bodies and trainer replies: 4xx, never 5xx or a stall."""

from __future__ import annotations

import json
import logging
import socket
import time

import httpx
import pytest

from rolloutctl import Agent, RolloutContext, RolloutResult
from tests.helpers import init_body, post_init
from tests.recording_trainer import assistant


def raw_post(server: str, body: bytes, headers: dict | None = None) -> httpx.Response:
    headers = {"content-type": "application/json", **(headers or {})}
    return httpx.post(f"{server}/v1/rollout/init", content=body, headers=headers, timeout=30)


def test_a_body_over_max_init_bytes_is_413_and_nothing_starts(trainer, start_server):
    server = start_server(max_init_bytes=2000)
    big = init_body(trainer, "big", metadata={"blob": "x" * 3000})
    assert post_init(server, big).status_code == 413
    assert httpx.get(f"{server}/v1/rollout/big").status_code == 404

    def chunks():  # no Content-Length: the limit holds while reading
        data = json.dumps(big).encode()
        for start in range(0, len(data), 500):
            yield data[start : start + 500]

    response = httpx.post(f"{server}/v1/rollout/init", content=chunks(), timeout=30)
    assert response.status_code == 413 and "max-init-bytes" in response.json()["detail"]
    assert post_init(server, init_body(trainer, "small")).status_code == 202


def test_an_over_long_content_length_is_refused_before_the_body_is_sent(start_server):
    server = start_server(max_init_bytes=1000)
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/rollout/init HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 100000000\r\n\r\n{"
        )
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(
    "raw, field",
    [
        (b'"messages": [{"role": "user", "content": NaN}]', None),
        (b'"messages": [{"role": "user", "content": "x"}], "metadata": {"a": Infinity}', None),
        (b'"messages": [{"role": "user", "content": "x"}], "metadata": {"a": 1e400}', None),
        (b'"messages": [], "max_turns": "5"', "max_turns"),
        (b'"messages": [], "max_turns": true', "max_turns"),
        (b'"messages": [], "max_tokens_total": 5.0', "max_tokens_total"),
    ],
    ids=["nan", "infinity", "1e400", "turns-string", "turns-bool", "tokens-float"],
)
def test_non_json_numbers_and_loose_types_are_422(trainer, start_server, raw, field):
    server = start_server()
    head = b'{"rollout_id": "r1", "server_url": "%s", ' % trainer.url.encode()
    response = raw_post(server, head + raw + b"}")
    assert response.status_code == 422
    detail = response.json()["detail"]
    if field:
        assert detail[0]["loc"] == ["body", field]
    assert httpx.get(f"{server}/v1/rollout/r1").status_code == 404


@pytest.mark.parametrize("suffix", ["?token=1", "#frag", "/base?x=1"])
def test_server_url_with_query_or_fragment_is_422_naming_it(trainer, start_server, suffix):
    response = post_init(start_server(), {**init_body(trainer), "server_url": trainer.url + suffix})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "server_url"]


def test_ids_with_a_slash_are_reachable_on_the_status_route(trainer, start_server):
    server = start_server()
    assert post_init(server, init_body(trainer, "job/7/try 1")).status_code == 202
    trainer.wait("job/7/try 1")
    response = httpx.get(f"{server}/v1/rollout/job/7/try%201")
    assert response.status_code == 200 and response.json()["rollout_id"] == "job/7/try 1"


def test_the_bearer_scheme_is_case_insensitive(trainer, start_server):
    server = start_server(api_key="inbound-key")
    for scheme in ("bearer", "BEARER", "Bearer"):
        headers = {"authorization": f"{scheme} inbound-key"}
        response = post_init(server, init_body(trainer, f"r-{scheme}"), headers=headers)
        assert response.status_code == 202, scheme
    basic = {"authorization": "Basic inbound-key"}
    assert post_init(server, init_body(trainer, "r2"), headers=basic).status_code == 401


def test_openapi_lists_the_init_error_responses(start_server):
    spec = httpx.get(f"{start_server()}/openapi.json").json()
    responses = spec["paths"]["/v1/rollout/init"]["post"]["responses"]
    assert {"202", "401", "413", "422", "503"} <= set(responses)


class NotANumber(Agent):
    name = "nan"

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        await ctx.chat()
        return RolloutResult(reward=float("nan"), extra_fields={"score": float("inf")})


def test_the_status_endpoint_never_500s_on_what_an_agent_returned(trainer, start_server):
    server = start_server(NotANumber())
    post_init(server, init_body(trainer))
    trainer.wait("r1")
    response = httpx.get(f"{server}/v1/rollout/r1")
    assert response.status_code == 200
    assert response.json()["completion"]["reward"] is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda r: r["choices"][0]["message"].update(tool_calls="add(1, 2)"),
        lambda r: r["choices"][0]["message"].update(tool_calls={"id": "c1"}),
        lambda r: r.update(usage="lots"),
        lambda r: r["usage"].update(completion_tokens="5"),
        lambda r: r["choices"][0].update(finish_reason=123),
    ],
    ids=["tool_calls-string", "tool_calls-dict", "usage-string", "tokens-string", "finish-int"],
)
def test_a_malformed_trainer_reply_is_a_trainer_server_error(trainer, start_server, mangle):
    reply = assistant("hi")
    mangle(reply)
    trainer.script("r1", reply)
    post_init(start_server(), init_body(trainer))
    done = trainer.wait("r1")
    assert done["status"] == "ERROR"
    assert done["extra_fields"]["error_category"] == "trainer_server_error"


class LongHistory(Agent):
    name = "long"

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        await ctx.chat()
        ctx.messages.extend({"role": "user", "content": "x" * 1000} for _ in range(200))
        return RolloutResult()


def test_the_kept_copy_is_capped_and_says_so_while_the_trainer_gets_it_whole(trainer, start_server):
    server = start_server(LongHistory(), max_record_bytes=20_000)
    post_init(server, init_body(trainer))
    delivered = trainer.wait("r1")
    assert len(delivered["final_messages"]) == 203
    response = httpx.get(f"{server}/v1/rollout/r1")
    kept = response.json()["completion"]
    assert len(response.content) < 25_000
    assert kept["truncated"]["messages"] == 203
    assert kept["truncated"]["kept"] == len(kept["final_messages"]) < 203
    assert kept["final_messages"] == delivered["final_messages"][: kept["truncated"]["kept"]]


def test_an_old_id_run_again_past_the_record_limit_is_a_warning(trainer, start_server, caplog):
    server = start_server(max_records=2)
    for index in range(4):
        post_init(server, init_body(trainer, f"r{index}"))
        trainer.wait(f"r{index}")
    deadline = time.monotonic() + 60
    while httpx.get(f"{server}/v1/rollout/r0").status_code != 404:
        assert time.monotonic() < deadline
        post_init(server, init_body(trainer, f"more{time.monotonic()}"))
    with caplog.at_level(logging.WARNING, logger="rolloutctl.server"):
        assert post_init(server, init_body(trainer, "r0")).status_code == 202
    assert any("r0 was forgotten" in r.getMessage() for r in caplog.records)
    while len(trainer.completions["r0"]) < 2:  # documented: it runs again
        assert time.monotonic() < deadline
        time.sleep(0.05)
