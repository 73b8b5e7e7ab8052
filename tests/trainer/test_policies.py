"""The echo and script policies over real HTTP, and make_policy's errors."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from rolloutctl.errors import PolicyError
from rolloutctl.trainer import MockTrainer, TrainerConfig, make_policy
from tests.helpers import run_trainer

USER = {"role": "user", "content": "repeat after me"}
SCRIPT = [
    {"role": "assistant", "content": None, "finish_reason": "tool_calls",
     "tool_calls": [{"id": "call_x", "type": "function",
                     "function": {"name": "add", "arguments": "{\"a\": 1, \"b\": 2}"}}]},
    {"content": "three", "usage": {"prompt_tokens": 7, "completion_tokens": 900}},
    {"message": {"content": "wrapped"}, "finish_reason": "length"},
]  # fmt: skip


def answers(policy_name: str, rollouts: list[str], turns: int, **options) -> dict[str, list]:
    """Each rollout's chat answers (the full bodies), posting `turns` calls per rollout."""
    trainer = MockTrainer(TrainerConfig(make_policy(policy_name, **options)))
    seen: dict[str, list] = {r: [] for r in rollouts}
    with run_trainer(trainer.app) as url, httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(turns):
            for rollout_id in rollouts:
                history = [USER, *(b["choices"][0]["message"] for b in seen[rollout_id])]
                body = {"rollout_id": rollout_id, "messages": history}
                seen[rollout_id].append(client.post("/v1/chat/completions", json=body).json())
    return seen


def test_echo_answers_with_the_last_user_message() -> None:
    body = answers("echo", ["e"], 1)["e"][0]
    assert body["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "repeat after me"},
        "finish_reason": "stop",
    }


@pytest.mark.parametrize("form", ["json", "jsonl"])
def test_script_serves_entries_in_order_per_rollout(tmp_path: Path, form: str) -> None:
    path = tmp_path / f"script.{form}"
    text = json.dumps(SCRIPT) if form == "json" else "\n".join(json.dumps(e) for e in SCRIPT)
    path.write_text(text + "\n")
    seen = answers("script", ["s1", "s2"], 4, path=path)
    same = ("choices", "usage", "token_ids", "prompt_token_ids")
    assert [[b[k] for k in same] for b in seen["s1"]] == [[b[k] for k in same] for b in seen["s2"]]
    first, second, third, fourth = seen["s1"]
    assert first["choices"][0]["message"]["tool_calls"][0]["id"] == "call_x"
    assert first["choices"][0]["finish_reason"] == "tool_calls"
    assert second["choices"][0]["message"] == {"role": "assistant", "content": "three"}
    assert second["usage"] == {"prompt_tokens": 7, "completion_tokens": 900, "total_tokens": 907}
    assert third["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "wrapped"},
        "finish_reason": "length",
    }
    assert fourth["choices"][0]["message"]["content"] == "(end of script)"


def test_script_fills_in_call_ids_and_string_arguments(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps([{"tool_calls": [{"function": {"name": "add", "arguments": {"a": 1}}}]}])
    )
    call = answers("script", ["f"], 1, path=path)["f"][0]["choices"][0]["message"]["tool_calls"][0]
    assert call["id"] and call["type"] == "function"
    assert json.loads(call["function"]["arguments"]) == {"a": 1}


@pytest.mark.parametrize(
    "content, error",
    [
        (None, "cannot read script"),
        ("{not json", "not JSON or JSONL"),
        ("[]", "non-empty list"),
        ("[1]", "entry 1 is not an object"),
        ('[{"content": "x", "usage": "lots"}]', "entry 1 has malformed"),
        ('[{"tool_calls": ["nope"]}]', "entry 1 has malformed"),
    ],
)
def test_bad_scripts_are_refused_with_a_clear_error(tmp_path: Path, content, error) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PolicyError, match=error):
        make_policy("script", path=path)


def test_a_jsonl_error_names_the_line_it_is_on(tmp_path: Path) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_text('{"content": "one"}\n\n{bad\n')
    with pytest.raises(PolicyError, match="line 3 column 2"):
        make_policy("script", path=path)


def test_make_policy_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUTCTL_TEST_UPSTREAM_KEY", raising=False)
    with pytest.raises(PolicyError, match="unknown policy 'oracle'"):
        make_policy("oracle")
    with pytest.raises(PolicyError, match="needs a file"):
        make_policy("script")
    with pytest.raises(PolicyError, match="needs an upstream"):
        make_policy("proxy")
    with pytest.raises(PolicyError, match="http"):
        make_policy("proxy", upstream="localhost:8000")
    with pytest.raises(PolicyError, match="ROLLOUTCTL_TEST_UPSTREAM_KEY"):
        make_policy("proxy", upstream="http://h", upstream_key_env="ROLLOUTCTL_TEST_UPSTREAM_KEY")


def test_policies_describe_themselves() -> None:
    assert "calculator" in make_policy().describe()
    proxy = make_policy("proxy", upstream="http://127.0.0.1:1/v1", model="m")
    assert "http://127.0.0.1:1/v1/chat/completions" in proxy.describe()
