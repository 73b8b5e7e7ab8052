"""Starting rollouts from the mock trainer, against a small fake RolloutServer on real HTTP.

The fake server answers the init with 202 and runs the calculator loop in the
background; switches make it break one rule at a time. (The end-to-end runs through
rolloutctl's own server live with that server's tests.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import operator
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rolloutctl.errors import InitError, InitRefused
from rolloutctl.events import Event, EventKind
from rolloutctl.trainer import MockTrainer, TrainerConfig, make_policy
from tests.helpers import refused_url, run_server, run_trainer

KEY = "sk-canary-rollouts-93ab"
OPS = {"add": operator.add, "plus": operator.add, "multiply": operator.mul, "times": operator.mul}
QUESTION = [{"role": "user", "content": "What is (5 + 3) * 2?"}]


def schema(name: str, a: str = "a", b: str = "b") -> dict[str, Any]:
    params = {"type": "object", "properties": {a: {"type": "number"}, b: {"type": "number"}}}
    return {
        "type": "function",
        "function": {"name": name, "description": name, "parameters": params},
    }


CALCULATOR = [schema("add"), schema("multiply")]
ALIASED = [schema("plus", "x", "y"), schema("times", "x", "y")]


class FakeRolloutServer:
    """202 on init, then the tool loop in the background; `breach` names the rule it breaks."""

    def __init__(self, tools: list = CALCULATOR, breach: str | None = None, refuse: int = 0):
        self.tools, self.breach, self.refuse = tools, breach, refuse
        self.init_headers: list[str | None] = []
        self.tasks: set[asyncio.Task] = set()
        self.app = Starlette(routes=[Route("/v1/rollout/init", self.init, methods=["POST"])])

    async def init(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.init_headers.append(request.headers.get("authorization"))
        if self.refuse:
            return JSONResponse({"detail": "messages: field required"}, status_code=self.refuse)
        task = asyncio.create_task(self.run(body))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return JSONResponse(
            {"rollout_id": body["rollout_id"], "tools": self.tools}, status_code=202
        )

    def headers(self, key: str | None) -> dict[str, str]:
        if self.breach == "no_bearer":
            return {}
        if self.breach in ("wrong_bearer", "bearer_without_key"):
            return {"Authorization": "Bearer not-the-key"}
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def run(self, init: dict[str, Any]) -> None:
        base, messages = init["server_url"].rstrip("/"), list(init["messages"])
        params = {} if self.breach == "drop_params" else init.get("completion_params", {})
        turns = init.get("max_turns", 10) + (self.breach == "extra_turn")
        async with httpx.AsyncClient(
            timeout=30, headers=self.headers(init.get("api_key"))
        ) as client:
            for _ in range(turns):
                body = {"model": "default", "rollout_id": init["rollout_id"], "messages": messages}
                reply = await client.post(f"{base}/v1/chat/completions", json={**params, **body})
                message = reply.json()["choices"][0]["message"]
                messages = [*messages, message, *map(run_tool, message.get("tool_calls") or [])]
                if not message.get("tool_calls"):
                    break
            payload = {"rollout_id": init["rollout_id"], "status": "COMPLETED", "metrics": {},
                       "final_messages": messages, "finish_reason": "stop"}  # fmt: skip
            for _ in range(2 if self.breach == "double_completion" else 1):
                await client.post(f"{base}/v1/rollout/completed", json=payload)


def run_tool(call: dict[str, Any]) -> dict[str, Any]:
    a, b = json.loads(call["function"]["arguments"]).values()
    value = OPS[call["function"]["name"]](a, b)
    return {"role": "tool", "content": f"{value:g}", "tool_call_id": call["id"]}


@contextlib.asynccontextmanager
async def stack(server: FakeRolloutServer, trainer: MockTrainer) -> AsyncIterator[str]:
    """Serve both; yield the RolloutServer's URL; close the trainer afterwards."""
    with run_trainer(trainer.app) as trainer_url, run_server(server.app) as server_url:
        trainer.url = trainer_url
        try:
            yield server_url
        finally:
            await trainer.aclose()


def init(rollout_id: str, **fields: Any) -> dict[str, Any]:
    return {"rollout_id": rollout_id, "messages": QUESTION, **fields}


async def finish(trainer: MockTrainer, server_url: str, body: dict, **kwargs: Any) -> dict:
    handle = await trainer.start_rollout(server_url, body, **kwargs)
    completion = await handle.wait(timeout=60)
    assert completion is not None, "no completion"
    return completion


def test_start_rollout_learns_tools_and_awaits_the_completion() -> None:
    async def run() -> None:
        server, trainer = FakeRolloutServer(), MockTrainer()
        async with stack(server, trainer) as url:
            handle = await trainer.start_rollout(url, init("r1"), server_key="inbound-key")
            assert handle.rollout_id == "r1" and handle.init_status == 202
            assert handle.tools == CALCULATOR
            completion = await handle.wait(timeout=60)
        assert completion is trainer.completions["r1"] and completion["status"] == "COMPLETED"
        assert completion["final_messages"][-1]["content"] == "The answer is 16."
        assert server.init_headers == ["Bearer inbound-key"]
        assert trainer.violations() == []

    asyncio.run(run())


class LateReader(httpx.AsyncHTTPTransport):
    """Hands the trainer its init's 202 only once the server's first chat call has reached
    the trainer, so that call certainly comes before the trainer knows the tools."""

    def __init__(self, chat_arrived: threading.Event) -> None:
        super().__init__()
        self.chat_arrived = chat_arrived

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path.endswith("/v1/rollout/init"):
            assert await asyncio.to_thread(self.chat_arrived.wait, 60), "no chat call came"
        return response


def test_declared_tool_names_are_used_even_when_chat_beats_the_202() -> None:
    async def run() -> None:
        chat_arrived = threading.Event()
        trainer = MockTrainer(client=httpx.AsyncClient(transport=LateReader(chat_arrived)))

        def on_event(event: Event) -> None:
            if event.kind == EventKind.CHAT_REQUEST:
                chat_arrived.set()

        trainer.bus.listen(on_event)
        async with stack(FakeRolloutServer(tools=ALIASED), trainer) as url:
            completion = await finish(trainer, url, init("alias"))
        calls = [m["tool_calls"][0] for m in completion["final_messages"] if m.get("tool_calls")]
        assert [c["function"]["name"] for c in calls] == ["plus", "times"]
        assert json.loads(calls[1]["function"]["arguments"]) == {"x": 8, "y": 2}

    asyncio.run(run())


def test_events_cover_every_exchange_and_hide_the_api_key() -> None:
    async def run() -> list[Event]:
        trainer = MockTrainer()
        async with stack(FakeRolloutServer(), trainer) as url:
            subscription = trainer.subscribe()
            await finish(trainer, url, init("ev", api_key=KEY))
            await trainer.aclose()  # ends the subscription after the queued events
            return [event async for event in subscription]

    events = asyncio.run(run())
    kinds = [e.kind for e in events]
    assert kinds[0] == EventKind.INIT_SENT and kinds[-1] == EventKind.COMPLETION
    assert kinds.count(EventKind.CHAT_REQUEST) == kinds.count(EventKind.CHAT_RESPONSE) == 3
    assert EventKind.INIT_RESPONSE in kinds and EventKind.VIOLATION not in kinds
    assert events[0].data["request"]["api_key"] == "***"
    assert KEY not in json.dumps([e.to_dict() for e in events])


def test_sse_stream_delivers_the_events_of_a_rollout() -> None:
    async def run() -> list[dict]:
        trainer = MockTrainer()
        async with stack(FakeRolloutServer(), trainer) as url, httpx.AsyncClient() as client:
            stream_url = f"{trainer.url}/v1/events?rollout_id=sse"
            async with client.stream("GET", stream_url, timeout=60) as stream:
                lines = stream.aiter_lines()
                assert await anext(lines) == ": subscribed"
                await finish(trainer, url, init("sse", api_key=KEY))
                await trainer.aclose()  # ends the stream
                return [json.loads(line[6:]) async for line in lines if line.startswith("data: ")]

    received = asyncio.run(run())
    events = [Event.from_dict(raw) for raw in received]
    assert {e.rollout_id for e in events} == {"sse"}
    assert events[-1].kind == EventKind.COMPLETION and events[0].kind == EventKind.INIT_SENT
    assert KEY not in json.dumps(received)


@pytest.mark.parametrize(
    "breach, key, rule",
    [
        ("no_bearer", KEY, "bearer_missing"),
        ("wrong_bearer", KEY, "bearer_wrong"),
        ("bearer_without_key", None, "bearer_unexpected"),
        ("drop_params", None, "completion_params_missing"),
        ("extra_turn", None, "max_turns_exceeded"),
        ("double_completion", None, "completion_duplicate"),
    ],
)
def test_a_server_breaking_a_rule_is_reported(breach: str, key: str | None, rule: str) -> None:
    async def run() -> MockTrainer:
        trainer, server = MockTrainer(), FakeRolloutServer(breach=breach)
        async with stack(server, trainer) as url:
            body = init("bad", api_key=key, completion_params={"temperature": 0.3}, max_turns=2)
            await finish(trainer, url, body)
            for _ in range(1000):  # until the server's loop has posted everything
                if not server.tasks:
                    break
                await asyncio.sleep(0.01)
        return trainer

    violations = asyncio.run(run()).violations("bad")
    assert rule in {v.rule for v in violations}
    assert all(KEY not in v.message for v in violations)


def test_refused_and_undeliverable_inits_raise_clear_errors() -> None:
    async def run() -> None:
        trainer = MockTrainer()
        async with stack(FakeRolloutServer(refuse=422), trainer) as url:
            with pytest.raises(InitRefused) as refused:
                await trainer.start_rollout(url, init("no"))
            with (
                refused_url() as nowhere,
                pytest.raises(InitError, match="cannot reach the RolloutServer"),
            ):
                await trainer.start_rollout(nowhere, init("gone"))
            with pytest.raises(ValueError, match="rollout_id"):
                await trainer.start_rollout(url, {"messages": QUESTION})
        assert refused.value.status_code == 422 and "messages" in str(refused.value.detail)

    asyncio.run(run())


def test_each_202_is_checked_though_a_valid_one_repeated_is_not_validated_again() -> None:
    """The starter skips pydantic for a 202 equal to the last valid one but for its id;
    every rule still applies to each answer, whatever came before it."""
    good, bad = json.dumps(CALCULATOR).encode(), json.dumps([schema("bad name!")]).encode()
    answers = [  # rollout_id, the 202 body sent, the violation expected
        ("a", b'{"rollout_id": "a", "tools": %s}' % good, None),
        ("b", b'{"rollout_id": "not-b", "tools": %s}' % good, "init_response_mismatch"),
        ("c", b'{"rollout_id": "c", "tools": %s}' % good, None),
        ("d", b'{"rollout_id": "d", "tools": %s, "x": NaN}' % good, None),  # json reads NaN
        ("e", b'{"tools": %s}' % good, "init_response_invalid"),
        ("f", b'{"rollout_id": 7, "tools": %s}' % good, "init_response_invalid"),
        ("g", b'{"rollout_id": "g", "tools": %s}' % bad, "init_response_invalid"),  # the name
        ("h", b'{"rollout_id": "h", "tools": %s}' % good, None),
    ]
    bodies = iter(body for _, body, _ in answers)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 202, "headers": headers})
        await send({"type": "http.response.body", "body": next(bodies)})

    async def run() -> MockTrainer:
        trainer = MockTrainer()
        trainer.url = "http://127.0.0.1:9"
        with run_server(app) as url:
            for rollout_id, body, _ in answers:
                handle = await trainer.start_rollout(url, init(rollout_id))
                tools = json.loads(bad if body.endswith(b"%s}" % bad) else good)
                assert handle.tools == tools and handle.init_status == 202
        await trainer.aclose()
        return trainer

    trainer = asyncio.run(run())
    for rollout_id, _, rule in answers:
        assert [v.rule for v in trainer.violations(rollout_id)] == ([rule] if rule else [])


def test_wait_returns_none_when_no_completion_comes() -> None:
    async def run() -> None:
        trainer = MockTrainer(TrainerConfig(fail_completed_rate=1.0))
        async with stack(FakeRolloutServer(), trainer) as url:
            handle = await trainer.start_rollout(url, init("never"))
            assert await handle.wait(timeout=0.3) is None

    asyncio.run(run())


def test_proxy_policy_forwards_to_an_upstream_with_tools_model_and_key(monkeypatch) -> None:
    monkeypatch.setenv("ROLLOUTCTL_TEST_UPSTREAM", "sk-upstream-canary")
    upstream = MockTrainer(TrainerConfig(expect_api_key="sk-upstream-canary"))

    async def run() -> tuple[dict, list[Event]]:
        with run_server(upstream.app) as upstream_url:
            policy = make_policy("proxy", upstream=f"{upstream_url}/v1", model="up-model",
                                 upstream_key_env="ROLLOUTCTL_TEST_UPSTREAM")  # fmt: skip
            trainer = MockTrainer(TrainerConfig(policy))
            async with stack(FakeRolloutServer(tools=ALIASED), trainer) as url:
                subscription = trainer.subscribe()
                body = init("px", completion_params={"temperature": 0.2})
                completion = await finish(trainer, url, body)
                await trainer.aclose()
                return completion, [event async for event in subscription]

    completion, events = asyncio.run(run())
    final = completion["final_messages"]
    assert final[-1]["content"] == "The answer is 16."
    names = [m["tool_calls"][0]["function"]["name"] for m in final if m.get("tool_calls")]
    assert names == ["plus", "times"]  # only possible when the upstream got the rollout's tools
    answers = [e.data["body"] for e in events if e.kind == EventKind.CHAT_RESPONSE]
    assert {a["model"] for a in answers} == {"up-model"}
    assert all(a["token_ids"] and a["prompt_token_ids"] for a in answers)
