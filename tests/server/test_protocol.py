"""The RolloutServer against docs/protocol.md, rule by rule, over real HTTP."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import httpx
import pytest

from rolloutctl import Agent, RolloutContext, RolloutResult
from tests.helpers import init_body, post_init
from tests.recording_trainer import assistant, call

KEY = "sk-canary-9f8e7d6c"


def test_init_answers_202_with_the_calculator_tools(trainer, start_server):
    response = post_init(start_server(), init_body(trainer))
    assert response.status_code == 202
    body = response.json()
    assert body["rollout_id"] == "r1"
    names = [t["function"]["name"] for t in body["tools"]]
    assert names == ["add", "subtract", "multiply", "divide"]
    params = body["tools"][0]["function"]["parameters"]
    assert params["required"] == ["a", "b"]
    assert params["properties"]["a"]["type"] == "number"
    trainer.wait("r1")


def test_history_is_append_only_and_verbatim(trainer, start_server):
    first = assistant("", tool_calls=[call("add", {"a": 5, "b": 3}, "c1")])
    first["choices"][0]["message"]["extra_field"] = {"kept": True}
    trainer.script("r1", first, assistant("The answer is 8."))
    post_init(start_server(), init_body(trainer))
    done = trainer.wait("r1")
    one, two = trainer.chats["r1"]
    tool_message = {"role": "tool", "content": "8", "tool_call_id": "c1"}
    assert two["messages"] == [*one["messages"], first["choices"][0]["message"], tool_message]
    assert done["final_messages"] == [
        *two["messages"],
        assistant("The answer is 8.")["choices"][0]["message"],
    ]
    assert done["status"] == "COMPLETED" and done["finish_reason"] == "stop"
    assert done["metrics"]["num_llm_calls"] == 2 and done["metrics"]["num_tool_calls"] == 1
    assert "tools" not in one and one["model"] == "default" and one["rollout_id"] == "r1"


def test_tool_messages_follow_call_order_and_report_errors(trainer, start_server):
    calls = [
        call("divide", {"a": 1, "b": 0}, "c1"),
        call("nope", {}, "c2"),
        call("add", "{not json", "c3"),
        call("multiply", {"a": 2, "b": 2.5}, "c4"),
        call("add", {"a": 1}, "c5"),
    ]
    trainer.script("r1", assistant("", tool_calls=calls), assistant("ok"))
    post_init(start_server(), init_body(trainer))
    done = trainer.wait("r1")
    tools = [m for m in done["final_messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tools] == ["c1", "c2", "c3", "c4", "c5"]
    assert [m["content"].startswith("Error: ") for m in tools] == [True, True, True, False, True]
    assert tools[3]["content"] == "5"
    assert done["status"] == "COMPLETED"


@pytest.mark.parametrize("api_key", [KEY, None, "   "])
def test_bearer_on_both_callbacks_only_with_a_key(trainer, start_server, api_key):
    trainer.script("r1", assistant("", tool_calls=[call("add", {"a": 1, "b": 2})]))
    post_init(start_server(), init_body(trainer, api_key=api_key))
    trainer.wait("r1")
    headers = [*trainer.chat_headers["r1"], *trainer.completion_headers["r1"]]
    assert len(headers) == 3
    expected = f"Bearer {KEY}" if api_key == KEY else None
    assert all(h.get("authorization") == expected for h in headers)


def test_completion_params_copied_verbatim_without_defaults(trainer, start_server):
    params = {
        "temperature": 0.7,
        "stop": ["\n"],
        "logprobs": True,
        "custom": {"x": [1]},
        "model": "other",
        "rollout_id": "evil",
        "messages": [],
    }
    post_init(start_server(), init_body(trainer, completion_params=params))
    trainer.wait("r1")
    request = trainer.chats["r1"][0]
    assert request["model"] == "default" and request["rollout_id"] == "r1"
    assert request["messages"][1]["content"] == "What is 5 + 3?"
    extra = {k: v for k, v in request.items() if k not in ("model", "rollout_id", "messages")}
    assert extra == {"temperature": 0.7, "stop": ["\n"], "logprobs": True, "custom": {"x": [1]}}


def test_idempotent_init_sequential_concurrent_and_after_completion(trainer, start_server):
    server = start_server()
    trainer.script("r1", assistant("", tool_calls=[call("add", {"a": 1, "b": 2})]))
    first = post_init(server, init_body(trainer))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        repeats = list(
            pool.map(lambda _: post_init(server, init_body(trainer, max_turns=3)), range(8))
        )
    trainer.wait("r1")
    after = post_init(server, init_body(trainer, messages=[{"role": "user", "content": "x"}]))
    for response in [*repeats, after]:
        assert response.status_code == 202 and response.json() == first.json()
    assert len(trainer.chats["r1"]) == 2 and len(trainer.completions["r1"]) == 1


def test_concurrent_duplicates_of_a_new_id_start_one_rollout(trainer, start_server):
    server = start_server()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        responses = list(
            pool.map(lambda _: post_init(server, init_body(trainer, "dup")), range(16))
        )
    trainer.wait("dup")
    assert {r.status_code for r in responses} == {202}
    assert len(trainer.chats["dup"]) == 1 and len(trainer.completions["dup"]) == 1


def test_max_tokens_ends_before_running_tools(trainer, start_server):
    crossing = assistant("", tool_calls=[call("add", {"a": 1, "b": 2})], completion_tokens=60)
    trainer.script("r1", crossing)
    post_init(start_server(), init_body(trainer, max_tokens_total=50))
    done = trainer.wait("r1")
    assert done["finish_reason"] == "max_tokens"
    assert done["final_messages"][-1] == crossing["choices"][0]["message"]
    assert done["metrics"]["num_tool_calls"] == 0


def test_max_turns_ends_after_the_tools_of_the_last_call(trainer, start_server):
    looping = [assistant("", tool_calls=[call("add", {"a": i, "b": 1}, f"c{i}")]) for i in range(5)]
    trainer.script("r1", *looping)
    post_init(start_server(), init_body(trainer, max_turns=2))
    done = trainer.wait("r1")
    assert done["finish_reason"] == "max_turns"
    assert len(trainer.chats["r1"]) == 2
    assert done["final_messages"][-1] == {"role": "tool", "content": "2", "tool_call_id": "c1"}


def test_finish_reason_of_the_trainer_is_kept(trainer, start_server):
    trainer.script("r1", assistant("cut", finish_reason="length"))
    post_init(start_server(), init_body(trainer))
    assert trainer.wait("r1")["finish_reason"] == "length"


def test_chat_4xx_ends_as_error_without_retry(trainer, start_server):
    trainer.script("r1", (400, {"error": "bad request"}))
    post_init(start_server(), init_body(trainer, api_key=KEY))
    done = trainer.wait("r1")
    assert done["status"] == "ERROR" and done["finish_reason"] == "error"
    assert done["extra_fields"]["error_category"] == "trainer_client_error"
    assert KEY not in done["error_message"]
    assert len(trainer.chats["r1"]) == 1


def test_chat_5xx_is_retried_then_succeeds(trainer, start_server):
    trainer.script("r1", (503, {}), (500, {}), assistant("fine"))
    post_init(start_server(), init_body(trainer))
    done = trainer.wait("r1")
    assert done["status"] == "COMPLETED" and len(trainer.chats["r1"]) == 3


def test_chat_5xx_exhausted_is_a_trainer_server_error(trainer, start_server):
    trainer.script("r1", *[(502, {})] * 10)
    post_init(start_server(), init_body(trainer))
    done = trainer.wait("r1")
    assert done["extra_fields"]["error_category"] == "trainer_server_error"
    assert len(trainer.chats["r1"]) == 4  # the first try and three retries


def test_completed_503_is_retried_and_delivered_once(trainer, start_server):
    trainer.completed_replies("r1", 503)
    post_init(start_server(), init_body(trainer))
    trainer.wait("r1")
    assert len(trainer.completions["r1"]) == 1


def test_unreachable_trainer_is_a_connection_error(start_server):
    from tests.helpers import free_port

    server = start_server()
    body = {
        "rollout_id": "r1",
        "server_url": f"http://127.0.0.1:{free_port()}",
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert post_init(server, body).status_code == 202
    status = wait_status(server, "r1", {"delivery_failed"})
    completion = status["completion"]
    assert completion["extra_fields"]["error_category"] == "connection_error"
    assert status["delivered"] is False


BAD_BODIES = [
    ({"rollout_id": None}, "rollout_id"),
    ({"rollout_id": ""}, "rollout_id"),
    ({"rollout_id": "   "}, "rollout_id"),
    ({"rollout_id": "x" * 257}, "rollout_id"),
    ({"server_url": "ftp://host/x"}, "server_url"),
    ({"server_url": "http://"}, "server_url"),
    ({"server_url": None}, "server_url"),
    ({"server_url": "http://host:abc/"}, "server_url"),
    ({"server_url": "http://a\x7fb.example/"}, "server_url"),
    ({"messages": "hello"}, "messages"),
    ({"messages": [{"content": "no role"}]}, "messages"),
    ({"max_turns": 0}, "max_turns"),
    ({"max_tokens_total": 0}, "max_tokens_total"),
    ({"completion_params": [1]}, "completion_params"),
    ({"metadata": {"blob": "x" * (1024 * 1024)}}, "metadata"),
    ({"api_key": 12345}, "api_key"),
    ({"api_key": KEY + "\r\nX-Injected: 1"}, "api_key"),
]


@pytest.mark.parametrize(("change", "field"), BAD_BODIES)
def test_bad_init_bodies_get_422_naming_the_field(trainer, start_server, change, field):
    body = {**init_body(trainer, api_key=KEY), **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = post_init(start_server(), body)
    assert response.status_code == 422
    assert field in [loc for d in response.json()["detail"] for loc in d["loc"]]
    assert KEY not in response.text and "12345" not in response.text
    assert not trainer.chats


def test_non_json_init_gets_422(start_server):
    response = httpx.post(f"{start_server()}/v1/rollout/init", content=b"{nope", timeout=30)
    assert response.status_code == 422


def test_unknown_fields_are_ignored(trainer, start_server):
    response = post_init(start_server(), init_body(trainer, future_field={"a": 1}))
    assert response.status_code == 202
    assert trainer.wait("r1")["status"] == "COMPLETED"


class Sleeper(Agent):
    name = "sleeper"

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        await ctx.chat()
        await asyncio.sleep(30)
        return RolloutResult()


class Raiser(Agent):
    name = "raiser"

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        await ctx.chat()
        raise RuntimeError("agent exploded")


def test_rollout_time_limit_ends_as_timeout(trainer, start_server):
    post_init(start_server(Sleeper(), rollout_timeout=0.3), init_body(trainer))
    done = trainer.wait("r1")
    assert done["status"] == "ERROR"
    assert done["extra_fields"]["error_category"] == "timeout"
    assert len(done["final_messages"]) == 3  # as much as was built


def test_agent_exception_ends_as_agent_error(trainer, start_server):
    post_init(start_server(Raiser()), init_body(trainer))
    done = trainer.wait("r1")
    assert done["extra_fields"]["error_category"] == "agent_error"
    assert "agent exploded" in done["error_message"]


def test_shutdown_ends_running_rollouts_with_a_completion(trainer):
    from rolloutctl.server.app import create_app
    from rolloutctl.server.settings import ServerSettings
    from tests.helpers import run_server

    app = create_app(Sleeper(), ServerSettings(shutdown_grace=0.2))
    with run_server(app) as server:
        for rollout_id in ("s1", "s2"):
            assert post_init(server, init_body(trainer, rollout_id)).status_code == 202
        wait_status(server, "s2", {"running"}, min_llm_calls=1)
    for rollout_id in ("s1", "s2"):
        done = trainer.wait(rollout_id)
        assert done["extra_fields"]["error_category"] == "shutdown"


def test_shutdown_also_ends_queued_rollouts_once_each(trainer):
    from rolloutctl.server.app import create_app
    from rolloutctl.server.settings import ServerSettings
    from tests.helpers import run_server

    app = create_app(Sleeper(), ServerSettings(shutdown_grace=0.2, max_concurrent=1))
    with run_server(app) as server:
        for rollout_id in ("q1", "q2"):
            assert post_init(server, init_body(trainer, rollout_id)).status_code == 202
        wait_status(server, "q1", {"running"}, min_llm_calls=1)
        assert httpx.get(f"{server}/v1/rollout/q2").json()["state"] == "queued"
    for rollout_id in ("q1", "q2"):
        done = trainer.wait(rollout_id)
        assert done["extra_fields"]["error_category"] == "shutdown"
        assert len(trainer.completions[rollout_id]) == 1


def test_inbound_key_guards_everything_but_health(trainer, start_server):
    server = start_server(api_key="inbound-secret")
    assert post_init(server, init_body(trainer)).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert post_init(server, init_body(trainer), headers=wrong).status_code == 401
    assert httpx.get(f"{server}/v1/rollout/r1").status_code == 401
    assert httpx.get(f"{server}/health").status_code == 200
    right = {"Authorization": "Bearer inbound-secret"}
    assert post_init(server, init_body(trainer), headers=right).status_code == 202
    trainer.wait("r1")


def test_callback_host_allowlist(trainer, start_server):
    server = start_server(allow_callback_hosts=("trainer.internal",))
    response = post_init(server, init_body(trainer))
    assert response.status_code == 422
    assert "allowlist" in response.text and "server_url" in response.text
    allowed = start_server(allow_callback_hosts=("127.0.0.1",))
    assert post_init(allowed, init_body(trainer)).status_code == 202


def test_status_endpoint_and_health(trainer, start_server):
    server = start_server()
    assert httpx.get(f"{server}/v1/rollout/unknown").status_code == 404
    trainer.script("r1", assistant("", tool_calls=[call("add", {"a": 1, "b": 2})]))
    post_init(server, init_body(trainer, api_key=KEY))
    trainer.wait("r1")
    status = wait_status(server, "r1", {"completed"})
    assert status["num_llm_calls"] == 2 and status["num_tool_calls"] == 1
    assert status["delivered"] is True and status["completion"]["status"] == "COMPLETED"
    assert KEY not in httpx.get(f"{server}/v1/rollout/r1").text
    health = httpx.get(f"{server}/health").json()
    assert health == {
        "status": "healthy",
        "agent": "calculator",
        "active_rollouts": 0,
        "completed_rollouts": 1,
        "store": {"kind": "memory", "state": "up"},
    }


def test_full_queue_answers_503_with_retry_after(trainer, start_server):
    server = start_server(Sleeper(), max_concurrent=1, max_queue=1)
    assert post_init(server, init_body(trainer, "a")).status_code == 202
    assert post_init(server, init_body(trainer, "b")).status_code == 202
    response = post_init(server, init_body(trainer, "c"))
    assert response.status_code == 503 and response.headers["retry-after"]
    assert httpx.get(f"{server}/v1/rollout/b").json()["state"] == "queued"


def test_fifty_rollouts_run_concurrently(start_server):
    from rolloutctl.server.retry import RetryPolicy
    from tests.helpers import run_server
    from tests.recording_trainer import RecordingTrainer

    slow = RecordingTrainer(hold_until=50)
    with run_server(slow.app) as url:
        slow.url = url
        # the held answers come only once all 50 are in flight: on a busy machine that takes
        # seconds, so a chat call must not time out (and be retried) before then
        patient = RetryPolicy(max_retries=1, initial_delay=0.1, window=60.0, call_timeout=60.0)
        server = start_server(retry=patient)
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: post_init(server, init_body(slow, f"c{i}")), range(50)))
        for i in range(50):
            assert slow.wait(f"c{i}", timeout=60)["status"] == "COMPLETED"
    assert slow.max_in_flight == 50


def wait_status(
    server: str, rollout_id: str, states: set[str], min_llm_calls: int = 0, timeout: float = 30.0
) -> dict:
    """Poll the status endpoint until the rollout reaches one of `states`."""
    for _ in range(int(timeout / 0.02)):
        status = httpx.get(f"{server}/v1/rollout/{rollout_id}").json()
        if status.get("state") in states and status["num_llm_calls"] >= min_llm_calls:
            return status
        time.sleep(0.02)
    raise AssertionError(f"{rollout_id} never reached {states}: {status}")


class BrokenTools(Agent):
    name = "broken-tools"

    def tools(self, request):
        raise RuntimeError("no tools today")


def test_agent_tools_failure_is_a_500_and_starts_nothing(trainer, start_server):
    server = start_server(BrokenTools())
    response = post_init(server, init_body(trainer))
    assert response.status_code == 500 and "no tools today" in response.text
    assert httpx.get(f"{server}/v1/rollout/r1").status_code == 404
    assert httpx.get(f"{server}/health").json()["active_rollouts"] == 0


def test_a_string_stop_is_carried_verbatim(trainer, start_server):
    """The spec says verbatim; some trainers want a list, which is the caller's choice."""
    post_init(start_server(), init_body(trainer, completion_params={"stop": "\n\n"}))
    trainer.wait("r1")
    assert trainer.chats["r1"][0]["stop"] == "\n\n"
