"""The mock trainer's HTTP routes and fault injection, on a real uvicorn with real httpx."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from rolloutctl.trainer import MockTrainer, TrainerConfig, make_policy
from tests.helpers import run_trainer
from tests.trainer.serving import USER, chat, completed, serving

KEY = "sk-canary-trainer-routes-5d1"


def test_chat_answer_looks_like_a_real_trainer() -> None:
    with serving(MockTrainer()) as client:
        body = chat(client, "r1", USER, temperature=0.5).json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int) and body["model"]
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "add"
    usage = body["usage"]
    assert usage["completion_tokens"] == len(body["token_ids"]) == len(body["logprobs"])
    assert usage["prompt_tokens"] == len(body["prompt_token_ids"]) > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert all(isinstance(p, float) and p <= 0 for p in body["logprobs"])


def test_token_ids_are_deterministic_across_trainers() -> None:
    keys = ("token_ids", "logprobs", "prompt_token_ids", "choices", "usage", "id")
    answers = []
    for _ in range(2):
        with serving(MockTrainer()) as client:
            body = chat(client, "same", USER).json()
            answers.append({key: body[key] for key in keys})
    assert answers[0] == answers[1]


def test_completed_is_recorded_and_listed_newest_first() -> None:
    trainer = MockTrainer(TrainerConfig(make_policy("echo")))
    with serving(trainer) as client:
        for rollout_id in ("a", "b"):
            reply = chat(client, rollout_id, USER).json()["choices"][0]["message"]
            posted = client.post(
                "/v1/rollout/completed", json=completed(rollout_id, [*USER, reply])
            )
            assert posted.status_code == 200 and posted.json() == {"status": "ok"}
        assert client.get("/v1/rollout/completed/a").json()["final_messages"][-1] == reply | {
            "content": USER[0]["content"]
        }
        unknown = client.get("/v1/rollout/completed/unknown")
        assert unknown.status_code == 404 and "'unknown'" in unknown.json()["detail"]
        listed = client.get("/v1/rollouts").json()
        assert [r["rollout_id"] for r in listed["rollouts"]] == ["b", "a"]
        assert listed["rollouts"][0]["status"] == "COMPLETED" and listed["total"] == 2
        assert [r["rollout_id"] for r in client.get("/v1/rollouts?limit=1").json()["rollouts"]] == [
            "b"
        ]
    assert set(trainer.completions) == {"a", "b"} and trainer.violations() == []


def test_health_and_unknown_routes() -> None:
    with serving(MockTrainer()) as client:
        health = client.get("/health").json()
        assert health["status"] == "healthy" and health["policy"] == "calculator"
        assert client.get("/nowhere").status_code == 404
        assert client.post("/nowhere", json={}).status_code == 404
        assert client.get("/v1/chat/completions").status_code == 405
        assert client.delete("/health").status_code == 405


def test_bad_bodies_get_clear_errors() -> None:
    trainer = MockTrainer()
    with serving(trainer) as client:
        not_json = client.post("/v1/chat/completions", content=b"{nope")
        assert not_json.status_code == 400 and "JSON object" in not_json.json()["detail"]
        no_messages = client.post("/v1/chat/completions", json={"rollout_id": "r"})
        assert no_messages.status_code == 422 and "messages" in no_messages.json()["detail"]
        no_id = client.post("/v1/rollout/completed", json={"status": "COMPLETED"})
        assert no_id.status_code == 422 and "rollout_id" in no_id.json()["detail"]
    rules = {v.rule for v in trainer.violations()}
    assert {"body_not_json", "chat_invalid", "completion_invalid"} <= rules


def test_expect_api_key_refuses_callbacks_without_it() -> None:
    trainer = MockTrainer(TrainerConfig(expect_api_key=KEY))
    with serving(trainer) as client:
        assert chat(client, "r", USER).status_code == 401
        assert chat(client, "r", USER, headers={"Authorization": "Bearer nope"}).status_code == 401
        good = {"Authorization": f"Bearer {KEY}"}
        assert chat(client, "r", USER, headers=good).status_code == 200
        final = completed("r", USER)
        assert client.post("/v1/rollout/completed", json=final).status_code == 401
        assert "r" not in trainer.completions
        assert KEY not in client.get("/health").text


def test_fail_rate_one_answers_503_and_keeps_no_state() -> None:
    trainer = MockTrainer(TrainerConfig(fail_rate=1.0))
    with serving(trainer) as client:
        refused = chat(client, "r", USER)
        assert refused.status_code == 503 and "injected" in refused.json()["detail"]
    assert trainer.records.rollouts["r"].turns == 0


def test_fail_completed_rate_one_answers_503_and_records_nothing() -> None:
    trainer = MockTrainer(TrainerConfig(fail_completed_rate=1.0))
    with serving(trainer) as client:
        assert client.post("/v1/rollout/completed", json=completed("r", USER)).status_code == 503
        assert client.get("/v1/rollout/completed/r").status_code == 404
    assert trainer.completions == {} and trainer.violations() == []


def test_seeded_faults_repeat_and_retries_are_answered_alike() -> None:
    def statuses() -> list[int]:
        trainer = MockTrainer(TrainerConfig(make_policy("echo"), fail_rate=0.5, seed=7))
        with serving(trainer) as client:
            return [chat(client, "r", USER).status_code for _ in range(30)]

    first = statuses()
    assert first == statuses()
    assert set(first) == {200, 503}


def test_latency_is_added_to_each_chat_answer() -> None:
    async def run() -> float:
        trainer = MockTrainer(TrainerConfig(latency_ms=60))
        with run_trainer(trainer.app) as url:
            async with trainer.subscribe() as events, httpx.AsyncClient(base_url=url) as client:
                body = {"rollout_id": "r", "messages": USER}
                assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
                async for event in events:
                    if event.kind == "chat_response":
                        return event.data["latency_ms"]
        raise AssertionError("no chat_response event")

    assert asyncio.run(run()) >= 50  # the injected 60 ms, less the event loop's timer slack


def test_latency_is_added_to_a_chat_call_without_a_rollout_id_too() -> None:
    """As the upstream of another trainer's proxy policy, the mock trainer still plays a
    model that takes --latency-ms to answer (a lower bound: a busy machine only adds)."""
    with serving(MockTrainer(TrainerConfig(latency_ms=300))) as client:
        started = time.perf_counter()
        response = client.post("/v1/chat/completions", json={"messages": USER})
        took = time.perf_counter() - started
    assert response.status_code == 200 and took >= 0.29


@pytest.mark.parametrize("name, value", [("fail_rate", 1.5), ("fail_completed_rate", -0.1),
                                         ("latency_ms", -1)])  # fmt: skip
def test_config_refuses_bad_values(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        TrainerConfig(**{name: value})  # type: ignore[arg-type]  # one field at a time


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"role": "assistant", "content": None, "tool_calls": "junk"}, "messages[1].tool_calls"),
        ({"role": "assistant", "tool_calls": [1, 2]}, "messages[1].tool_calls"),
        ({"role": "assistant", "tool_calls": [{"id": "c"}]}, "messages[1].tool_calls"),
        ({"role": 7, "content": "x"}, "messages[1].role"),
        ({"role": "user", "content": {"a": 1}}, "messages[1].content"),
    ],
)
def test_malformed_messages_get_400_naming_the_field(message: dict, field: str) -> None:
    trainer = MockTrainer()
    with serving(trainer) as client:
        answer = chat(client, "r-malformed", [*USER, message])
        assert answer.status_code == 400, answer.text
        assert answer.json()["detail"].startswith(field)
        plain = client.post("/v1/chat/completions", json={"messages": [*USER, message]})
        assert plain.status_code == 400, plain.text
