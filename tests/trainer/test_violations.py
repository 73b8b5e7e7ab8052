"""Each protocol check of the mock trainer, triggered by posting deliberately broken sequences."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rolloutctl.trainer import MockTrainer, TrainerConfig, make_policy
from tests.helpers import CALCULATOR_TOOLS, run_trainer

SYSTEM = {"role": "system", "content": "Use the tools."}
USER = {"role": "user", "content": "What is (5 + 3) * 2?"}


class Side:
    """A hand-driven RolloutServer: posts callbacks to a served MockTrainer."""

    def __init__(self, client: httpx.Client, trainer: MockTrainer) -> None:
        self.client, self.trainer = client, trainer

    def chat(self, rollout_id: str, messages: list) -> dict:
        body = {"model": "default", "rollout_id": rollout_id, "messages": messages,
                "tools": CALCULATOR_TOOLS}  # fmt: skip
        response = self.client.post("/v1/chat/completions", json=body)
        assert response.status_code == 200, response.text
        return response.json()["choices"][0]["message"]

    def complete(self, rollout_id: str, final: list, **fields) -> None:
        body = {"rollout_id": rollout_id, "status": "COMPLETED", "final_messages": final,
                "finish_reason": "stop", "metrics": {}, **fields}  # fmt: skip
        assert self.client.post("/v1/rollout/completed", json=body).status_code == 200

    def rules(self, rollout_id: str) -> list[str]:
        return [v.rule for v in self.trainer.violations(rollout_id)]


@contextlib.contextmanager
def side_for(trainer: MockTrainer) -> Iterator[Side]:
    with run_trainer(trainer.app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Side(client, trainer)


@pytest.fixture
def side() -> Iterator[Side]:
    with side_for(MockTrainer()) as side:
        yield side


def tool(call: dict, content: str = "8", call_id: str | None = None) -> dict:
    return {"role": "tool", "content": content, "tool_call_id": call_id or call["id"]}


def first_turn(side: Side, rollout_id: str) -> tuple[list, dict]:
    """The first request and the assistant's tool call it got back."""
    messages = [SYSTEM, USER]
    return messages, side.chat(rollout_id, messages)


def test_a_correct_sequence_has_no_violation(side: Side) -> None:
    messages, reply = first_turn(side, "ok")
    messages = [*messages, reply, tool(reply["tool_calls"][0])]
    second = side.chat("ok", messages)
    side.chat("ok", messages)  # a retry of the same request is allowed
    messages = [*messages, second, tool(second["tool_calls"][0], "16")]
    final = side.chat("ok", messages)
    side.complete("ok", [*messages, final])
    assert side.rules("ok") == []


def test_rewritten_earlier_message(side: Side) -> None:
    _, reply = first_turn(side, "rw")
    edited = [
        SYSTEM,
        {"role": "user", "content": "What is 1 + 1?"},
        reply,
        tool(reply["tool_calls"][0]),
    ]
    side.chat("rw", edited)
    assert side.rules("rw") == ["history_not_append_only"]
    assert "message 1 (user) was changed" in side.trainer.violations("rw")[0].message


def test_assistant_message_not_echoed_verbatim(side: Side) -> None:
    messages, reply = first_turn(side, "verb")
    altered = {**reply, "content": "I will add."}
    side.chat("verb", [*messages, altered, tool(reply["tool_calls"][0])])
    assert side.rules("verb") == ["history_not_append_only"]


def test_dropping_a_null_field_is_not_a_rewrite(side: Side) -> None:
    messages, reply = first_turn(side, "null")
    compact = {k: v for k, v in reply.items() if v is not None}
    side.chat("null", [*messages, compact, tool(reply["tool_calls"][0])])
    assert side.rules("null") == []


def test_truncated_history(side: Side) -> None:
    first_turn(side, "short")
    side.chat("short", [USER])
    assert side.rules("short") == ["history_not_append_only"]


def test_tool_message_with_unknown_call_id(side: Side) -> None:
    messages, reply = first_turn(side, "unknown")
    side.chat("unknown", [*messages, reply, tool(reply["tool_calls"][0], call_id="call_nope")])
    assert side.rules("unknown") == ["tool_call_id_unknown", "tool_message_missing"]


def test_missing_tool_message(side: Side) -> None:
    messages, reply = first_turn(side, "missing")
    side.chat("missing", [*messages, reply, {"role": "user", "content": "go on"}])
    assert side.rules("missing") == ["tool_message_missing"]


def test_tool_messages_out_of_call_order(tmp_path: Path) -> None:
    calls = [
        {"id": f"c{i}", "function": {"name": "add", "arguments": {"a": i, "b": 1}}} for i in (1, 2)
    ]
    script = tmp_path / "two_calls.json"
    script.write_text(json.dumps([{"content": None, "tool_calls": calls}, {"content": "done"}]))
    with side_for(MockTrainer(TrainerConfig(make_policy("script", path=script)))) as side:
        messages, reply = first_turn(side, "order")
        first, second = reply["tool_calls"]
        side.chat("order", [*messages, reply, tool(second), tool(first)])
        assert side.rules("order") == ["tool_message_order"]


def test_second_completion(side: Side) -> None:
    messages = [SYSTEM, {"role": "user", "content": "hello"}]
    final = [*messages, side.chat("twice", messages)]
    side.complete("twice", final)
    side.complete("twice", final, status="ERROR", finish_reason="error")
    assert side.rules("twice") == ["completion_duplicate"]
    assert side.trainer.completions["twice"]["status"] == "COMPLETED"  # the first one is kept


def test_final_messages_that_do_not_extend_the_last_request(side: Side) -> None:
    messages, _ = first_turn(side, "final")
    side.complete("final", messages)  # the returned assistant message is missing
    assert side.rules("final") == ["final_messages_not_extending"]


def test_error_completion_may_lack_the_last_answer(side: Side) -> None:
    messages, _ = first_turn(side, "lost")
    side.complete("lost", messages, status="ERROR", finish_reason="error", error_message="gave up")
    assert side.rules("lost") == []


def test_max_tokens_ending_on_unanswered_tool_calls_is_fine(side: Side) -> None:
    messages, reply = first_turn(side, "budget")
    side.complete("budget", [*messages, reply], finish_reason="max_tokens")
    assert side.rules("budget") == []


def test_completed_payload_checked_against_the_schema(side: Side) -> None:
    side.complete("schema", [USER], status="DONE")
    assert side.rules("schema") == ["completion_invalid"]
    assert "status" in side.trainer.violations("schema")[0].message


def test_chat_after_completion(side: Side) -> None:
    messages = [{"role": "user", "content": "hello"}]
    reply = side.chat("late", messages)
    side.complete("late", [*messages, reply])
    side.chat("late", [*messages, reply, {"role": "user", "content": "again"}])
    assert side.rules("late") == ["chat_after_completion"]


def test_violations_are_logged_and_published(side: Side, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="rolloutctl.trainer")
    first_turn(side, "logged")
    side.chat("logged", [USER])
    assert "history_not_append_only" in caplog.text and "logged" in caplog.text
    listed = side.client.get("/v1/rollouts").json()["rollouts"][0]
    assert listed["rollout_id"] == "logged" and listed["violations"] == 1


def test_a_copied_nan_param_is_copied_and_a_changed_one_is_not() -> None:
    from rolloutctl.trainer.violations import params_finding

    params = {"temperature": float("nan"), "top_p": 0.9}
    assert params_finding(params, {"temperature": float("nan"), "top_p": 0.9}) is None
    finding = params_finding(params, {"temperature": 0.5, "top_p": 0.9})
    assert finding is not None
    rule, message = finding
    assert rule == "completion_params_missing" and message.endswith(": temperature")
