"""`rolloutctl export`: OpenAI fine-tuning lines, ATIF that replay reads, completions."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import pytest
from osmosis_ai.rollout.trajectory import save_trajectory as osmosis_save_trajectory
from osmosis_ai.rollout.trajectory.atif import Trajectory as SdkAtif
from osmosis_ai.rollout.types import ExecutionResult, RolloutSample, RolloutStatus

from rolloutctl.trajectory.document import conversation, load_trajectory, save_trajectory
from tests.helpers import rolloutctl_bin, run_cli, run_cli_batch
from tests.trajectory.openai_format import problems

KEY = "sk-canary-export-77a1"


@pytest.fixture(scope="module")
def tried(tmp_path_factory) -> object:
    """A calculator rollout saved by `try`, with a callback key that must never leak."""
    path = tmp_path_factory.mktemp("export") / "try.json"
    result = run_cli(
        "try", "--example", "calculator", "--callback-key", KEY, "--save", str(path), "--json"
    )
    assert result.returncode == 0, result.stderr
    return path


def _same_messages(a: list[dict], b: list[dict]) -> bool:
    """Equal up to null fields, a null content read back as '' and the spacing of arguments
    (ATIF holds them as an object)."""

    def norm(message: dict) -> dict:
        kept = {k: v for k, v in message.items() if v is not None}
        if kept.get("content") == "":
            del kept["content"]
        for call in kept.get("tool_calls") or []:
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
        return kept

    return [norm(m) for m in a] == [norm(m) for m in b]


def test_openai_lines_pass_the_format_checks_and_keep_tool_calls(tried):
    result = run_cli("export", str(tried), "--format", "openai")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert problems(line) == []
    example = json.loads(line)
    roles = [m["role"] for m in example["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert example["messages"][2]["tool_calls"][0]["function"]["name"] == "add"
    assert {t["function"]["name"] for t in example["tools"]} == {
        "add",
        "subtract",
        "multiply",
        "divide",
    }
    assert KEY not in result.stdout


def test_the_checker_catches_what_fine_tuning_refuses():
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
    tools = [{"type": "function", "function": {"name": "add", "parameters": {}}}]
    good: list[dict[str, Any]] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "2"},
        {"role": "assistant", "content": "2"},
    ]
    assert problems(json.dumps({"messages": good, "tools": tools})) == []
    unanswered = good[:2] + good[3:]
    bad_args = [
        good[0],
        {
            "role": "assistant",
            "tool_calls": [{**call, "function": {"name": "add", "arguments": "[1]"}}],
        },
        good[2],
    ]
    wrong_id = [*good[:2], {**good[2], "tool_call_id": "c9"}, good[3]]
    for messages, fragment in [
        (unanswered, "never answered"),
        (bad_args, "arguments must be a JSON object"),
        (wrong_id, "answers no pending call"),
        ([{"role": "robot", "content": "x"}], "role 'robot'"),
        ([good[0]], "no assistant message"),
    ]:
        found = problems(json.dumps({"messages": messages, "tools": tools}))
        assert any(fragment in p for p in found), (fragment, found)
    other_tool = [{"type": "function", "function": {"name": "mul"}}]
    assert any(
        "not in 'tools'" in p for p in problems(json.dumps({"messages": good, "tools": other_tool}))
    )


def test_atif_is_valid_for_the_sdk_and_round_trips_through_replay(tried, tmp_path):
    atif = tmp_path / "trajectory.json"
    result = run_cli("export", str(tried), "--format", "atif")
    assert result.returncode == 0, result.stderr
    atif.write_text(result.stdout)
    doc = json.loads(result.stdout)
    SdkAtif.model_validate(doc)  # the Osmosis SDK's own copy of Harbor's models
    assert doc["schema_version"].startswith("ATIF-v1.") and KEY not in result.stdout
    replayed = run_cli("replay", str(atif), "--json")
    assert replayed.returncode == 0, replayed.stderr
    original, back = load_trajectory(tried), json.loads(replayed.stdout)
    assert _same_messages(conversation(back), conversation(original))
    assert [t.get("usage") for t in back["turns"]] == [t.get("usage") for t in original["turns"]]
    assert back["turns"][0]["token_ids"] == original["turns"][0]["token_ids"]
    assert back["rollout_id"] == original["rollout_id"]


def test_atif_keeps_an_orphan_tool_result_and_odd_arguments(tmp_path):
    traj = load_trajectory_from_messages(
        [
            {"role": "user", "content": "x"},
            {"role": "tool", "tool_call_id": "lost", "content": "late"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": "not json"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ],
        tmp_path,
    )
    result = run_cli("export", str(traj), "--format", "atif")
    SdkAtif.model_validate(json.loads(result.stdout))
    (tmp_path / "a.json").write_text(result.stdout)
    back = json.loads(run_cli("replay", str(tmp_path / "a.json"), "--json").stdout)
    messages = conversation(back)
    assert messages[1] == {"role": "tool", "content": "late", "tool_call_id": "lost"}
    assert messages[2]["tool_calls"][0]["function"]["arguments"] == "not json"


def load_trajectory_from_messages(messages: list[dict], tmp_path) -> object:
    """A trajectory file holding `messages` as a bare completion payload, re-saved natively."""
    payload = tmp_path / "completion.json"
    payload.write_text(
        json.dumps(
            {
                "rollout_id": "r1",
                "status": "COMPLETED",
                "final_messages": messages,
                "finish_reason": "stop",
                "metrics": {},
            }
        )
    )
    path = tmp_path / "t.json"
    save_trajectory(path, load_trajectory(payload))
    return path


def test_filters_jsonl_and_bad_input(tried, tmp_path):
    jsonl, none, missing = run_cli_batch(
        ["export", str(tried), "--format", "jsonl"],
        ["export", str(tried), "--min-reward", "0.5"],  # try's calculator has no reward
        ["export", str(tmp_path / "nope.json")],
    )
    assert json.loads(jsonl.stdout)["status"] == "COMPLETED"
    assert none.returncode == 1 and none.stdout == ""
    assert "exported 0 of 1" in none.stderr
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1


def test_a_reader_that_stops_early_is_not_an_error(tried, tmp_path):
    """`export RUN | head -1` exits 0, as `try | head -1` does."""
    record = {"row": 0, "epoch": 0, "status": "COMPLETED", "reward": 1.0,
              "trajectory": load_trajectory(tried)}  # fmt: skip
    results = tmp_path / "results.jsonl"
    with results.open("w") as out:  # far more than a pipe buffer holds
        for row in range(2000):
            out.write(json.dumps(record | {"row": row}) + "\n")
    process = subprocess.Popen(
        [rolloutctl_bin(), "export", str(results)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().startswith('{"messages"')
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def missing_from(original: Any, again: Any, where: str = "") -> list[str]:
    """Where `again` lacks or changes a value `original` holds (keys `again` adds are fine)."""
    if isinstance(original, dict) and isinstance(again, dict):
        return [p for k, v in original.items()
                for p in (missing_from(v, again[k], f"{where}/{k}") if k in again
                          else [f"{where}/{k}"])]  # fmt: skip
    if isinstance(original, list) and isinstance(again, list) and len(original) == len(again):
        return [p for i, pair in enumerate(zip(original, again, strict=True))
                for p in missing_from(*pair, f"{where}[{i}]")]  # fmt: skip
    return [] if original == again else [where]


def test_an_sdk_atif_file_exported_again_keeps_every_field(tmp_path):
    """Every field the SDK wrote comes back: trajectory_id, agent, every extra.osmosis
    field, and on the steps their model_name, llm_call_count and metrics."""
    call = {"id": "c1", "type": "function",
            "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}  # fmt: skip
    messages: list[dict[str, Any]] = [
        {"role": "developer", "content": "Be terse."},
        {"role": "user", "content": "What is 2 + 3?"},
        {"role": "assistant", "content": "", "tool_calls": [call], "model": "m-1",
         "usage": {"prompt_tokens": 9, "completion_tokens": 4}},
        {"role": "tool", "content": "5", "tool_call_id": "c1"},
        {"role": "assistant", "content": "The answer is 5.", "reasoning_content": "easy",
         "model": "m-1"},
    ]  # fmt: skip
    sample = RolloutSample(messages=messages, reward=1.0, label="5",
                           metrics={"prompt_tokens": 20.0, "completion_tokens": 10.0},
                           extra_fields={"finish_reason": "stop"})  # fmt: skip
    result = ExecutionResult(status=RolloutStatus.SUCCESS, sample=sample)
    save = osmosis_save_trajectory(
        rollout_id="sdk-1", result=result, request_label="5", request_metadata={"row": 3},
        request_extra_fields={"trace": "t-1"}, artifact_root=tmp_path,
    )  # fmt: skip
    asyncio.run(save)
    original = json.loads((tmp_path / "sdk-1" / "trajectory.json").read_text())
    assert original["steps"][2]["model_name"] == "m-1"  # what the test is about
    exported = run_cli("export", str(tmp_path / "sdk-1" / "trajectory.json"), "--format", "atif")
    assert exported.returncode == 0, exported.stderr
    again = json.loads(exported.stdout)
    SdkAtif.model_validate(again)
    assert missing_from(original, again) == []


def test_a_run_exports_in_row_order_whatever_order_its_rollouts_finished(tried, tmp_path):
    traj = load_trajectory(tried)
    results = tmp_path / "results.jsonl"
    finished = [(2, 0), (0, 1), (1, 0), (0, 0), (2, 1)]  # as concurrent rollouts may end
    results.write_text("".join(
        json.dumps({"row": row, "epoch": epoch, "status": "COMPLETED", "reward": 1.0,
                    "trajectory": traj | {"completion": traj["completion"]
                                          | {"rollout_id": f"r{row}-{epoch}"}}}) + "\n"
        for row, epoch in finished
    ) + '{"row": 9, "torn')  # fmt: skip
    exported = run_cli("export", str(results), "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    ids = [json.loads(line)["rollout_id"] for line in exported.stdout.splitlines()]
    assert ids == ["r0-0", "r0-1", "r1-0", "r2-0", "r2-1"]
