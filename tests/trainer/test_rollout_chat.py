"""The mock trainer's 0.3 chat route: per-rollout path, tools from the request, checks."""

from __future__ import annotations

from typing import Any

import httpx

from rolloutctl.osmosis.trainer_records import expect_rollout, record_result
from rolloutctl.trainer import MockTrainer, TrainerConfig
from rolloutctl.trainer.rollout_chat import chat_base_url
from tests.helpers import run_trainer

ADD: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "add",
        "parameters": {"type": "object", "properties": {"a": {"type": "number"}}},
    },
}
OTHER = {**ADD, "function": {**ADD["function"], "name": "other"}}
QUESTION = [{"role": "user", "content": "What is 2 + 3?"}]


def chat(url: str, rollout_id: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    target = chat_base_url(url, rollout_id) + "/chat/completions"
    return httpx.post(target, json=body, headers=headers, timeout=30)


def rules(trainer: MockTrainer, rollout_id: str) -> list[str]:
    return [v.rule for v in trainer.violations(rollout_id)]


def test_the_calculator_policy_takes_the_tools_from_the_request() -> None:
    trainer = MockTrainer()
    with run_trainer(trainer.app) as url:
        answer = chat(url, "r-1", {"model": "m", "messages": QUESTION, "tools": [ADD]})
    assert answer.status_code == 200
    call = answer.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "add"
    assert trainer.records.state("r-1").request_tools == [ADD]  # the id came from the path


def test_tools_must_come_with_every_request_unchanged() -> None:
    trainer = MockTrainer()
    with run_trainer(trainer.app) as url:
        first = chat(url, "r1", {"messages": QUESTION, "tools": [ADD]}).json()
        history = [*QUESTION, first["choices"][0]["message"]]
        history.append({"role": "tool", "content": "5", "tool_call_id": "x"})
        chat(url, "r1", {"messages": history, "tools": [OTHER]})
        chat(url, "r1", {"messages": history})
    assert {"tools_changed", "tools_missing"} <= set(rules(trainer, "r1"))


def test_bearer_llm_api_key_and_append_only_history_are_checked() -> None:
    trainer = MockTrainer()
    with run_trainer(trainer.app) as url:
        expect_rollout(trainer.records, "r2", {"llm_api_key": "k-1", "rollout_id": "r2"})
        chat(url, "r2", {"messages": QUESTION, "tools": [ADD]}, key="k-1")
        chat(url, "r2", {"messages": [{"role": "user", "content": "else"}], "tools": [ADD]})
    assert rules(trainer, "r2") == ["bearer_missing", "history_not_append_only"]


def test_faults_and_the_expected_key_apply_to_the_route() -> None:
    trainer = MockTrainer(TrainerConfig(fail_rate=1.0, expect_api_key="tk"))
    with run_trainer(trainer.app) as url:
        assert chat(url, "r3", {"messages": QUESTION}).status_code == 401
        assert chat(url, "r3", {"messages": QUESTION}, key="tk").status_code == 503
        assert httpx.post(url + "/v1/rollouts//chat/completions", json={}).status_code == 404


def test_a_result_that_does_not_extend_the_last_request_is_a_violation() -> None:
    trainer = MockTrainer()
    with run_trainer(trainer.app) as url:
        chat(url, "r4", {"messages": QUESTION, "tools": [ADD]})
    record_result(trainer.records, "r4", {"status": "success", "final_messages": QUESTION})
    assert rules(trainer, "r4") == ["final_messages_not_extending"]
    assert trainer.completions["r4"]["status"] == "success"
