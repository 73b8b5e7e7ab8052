"""Trajectory building from events, file round trips, foreign formats and bad files."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import pytest
from osmosis_ai.rollout.trajectory import save_trajectory as osmosis_save_trajectory
from osmosis_ai.rollout.types import ExecutionResult, RolloutSample, RolloutStatus

from rolloutctl import __version__
from rolloutctl.errors import TrajectoryFormatError
from rolloutctl.events import Event, EventKind
from rolloutctl.trajectory.builder import ItemKind, TrajectoryBuilder, trajectory_items
from rolloutctl.trajectory.document import load_trajectory, save_trajectory, scrub
from rolloutctl.trajectory.summary import summarize, summary_rows
from tests.trajectory.samples import (
    ASSISTANT_1,
    ASSISTANT_2,
    ASSISTANT_3,
    CANARY,
    HISTORY,
    ROLLOUT,
    SYSTEM,
    TOOL_1,
    TOOL_2,
    TOOLS,
    USER,
    Clock,
    build,
    calculator_events,
    completion_payload,
    write_atif,
)


def test_builder_records_every_turn() -> None:
    traj, _ = build(calculator_events())
    assert (traj["format"], traj["version"]) == ("rolloutctl.trajectory", 1)
    assert traj["rolloutctl_version"] == __version__
    assert traj["init"]["api_key"] == "***" and traj["tools"] == TOOLS
    assert [turn["added"] for turn in traj["turns"]] == [[SYSTEM, USER], [TOOL_1], [TOOL_2]]
    assert [turn["assistant"] for turn in traj["turns"]] == [ASSISTANT_1, ASSISTANT_2, ASSISTANT_3]
    last = traj["turns"][-1]
    assert (last["index"], last["finish_reason"], last["latency_ms"]) == (3, "stop", 12.5)
    assert last["usage"]["completion_tokens"] == 8 and last["logprobs"] == [-0.25, -0.5, -0.125]
    assert last["token_ids"] == [103, 102, 103] and last["prompt_token_ids"] == [1, 2, 3, 4]
    assert traj["final_added"] == [] and traj["completion"]["status"] == "COMPLETED"
    started, finished = (datetime.fromisoformat(traj[k]) for k in ("started_at", "finished_at"))
    assert (finished - started).total_seconds() == 8


def test_items_show_each_message_once_in_order() -> None:
    traj, items = build(calculator_events())
    messages = [item.data for item in items if item.kind is ItemKind.MESSAGE]
    assert messages == HISTORY
    tool_items = [item for item in items if item.data.get("role") == "tool"]
    assert [item.call["function"]["name"] for item in tool_items] == ["add", "multiply"]
    assert items == trajectory_items(traj)


def test_events_of_other_rollouts_are_ignored() -> None:
    builder = TrajectoryBuilder(ROLLOUT)
    stranger = Clock().event(EventKind.VIOLATION, {"rule": "x", "message": "y"}, "other")
    assert builder.add(stranger) == []
    assert builder.trajectory()["violations"] == []


def test_failed_chat_call_is_kept_with_the_turn_it_retried() -> None:
    events = calculator_events()
    request, response = events[2], events[3]
    failure = Event(EventKind.CHAT_RESPONSE, ROLLOUT, {"status_code": 503, "latency_ms": 3.0})
    traj, items = build([*events[:3], failure, request, response, *events[4:]])
    assert traj["turns"][0]["failed_attempts"] == [{"status_code": 503, "latency_ms": 3.0}]
    assert len(traj["turns"]) == 3
    assert [i.data for i in items if i.kind is ItemKind.MESSAGE] == HISTORY


def test_a_call_retried_after_its_answer_was_lost_is_one_turn() -> None:
    events = calculator_events()
    traj, items = build([*events[:4], events[2], events[3], *events[4:]])
    assert len(traj["turns"]) == 3
    assert [i.data for i in items if i.kind is ItemKind.MESSAGE] == HISTORY


def test_messages_after_the_last_turn_and_violations() -> None:
    extra = {"role": "user", "content": "appended after the end"}
    events = calculator_events(tail=[extra])
    violation = {"rule": "double_completion", "message": "a second completion arrived"}
    events.append(Event(EventKind.VIOLATION, ROLLOUT, violation))
    traj, items = build(events)
    assert traj["final_added"] == [extra] and traj["violations"] == [violation]
    assert (items[-2].data, items[-2].step) == (extra, None)
    assert items[-1].kind is ItemKind.VIOLATION


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    traj, _ = build(calculator_events())
    path = tmp_path / "t.json"
    save_trajectory(path, traj)
    assert load_trajectory(path) == traj
    assert '"logprobs": [-0.25, -0.5, -0.125]' in path.read_text()


def test_no_secret_reaches_the_file(tmp_path: Path) -> None:
    events = calculator_events(api_key=CANARY)
    headers = {"Authorization": f"Bearer {CANARY}", "Accept": "application/json"}
    events[2].data["headers"] = headers
    traj, _ = build(events)
    path = tmp_path / "t.json"
    save_trajectory(path, traj | {"stray": {"api_key": CANARY}})
    assert CANARY not in path.read_text() and CANARY not in json.dumps(traj)
    assert traj["init"]["api_key"] == "***"


def test_scrub_keeps_absent_keys_and_other_fields() -> None:
    data = {"api_key": None, "nested": [{"authorization": "Bearer k", "accept": "json"}]}
    assert scrub(data) == {"api_key": None, "nested": [{"authorization": "***", "accept": "json"}]}


def test_bare_completion_payload_loads(tmp_path: Path) -> None:
    path = tmp_path / "completed.json"
    path.write_text(json.dumps(completion_payload(HISTORY)))
    traj = load_trajectory(path)
    assert traj["imported_from"] == {"format": "completion"}
    assert [turn["added"] for turn in traj["turns"]] == [[SYSTEM, USER], [TOOL_1], [TOOL_2]]
    assert traj["turns"][-1]["assistant"] == ASSISTANT_3 and traj["final_added"] == []
    items = trajectory_items(traj)
    assert [item.data for item in items if item.kind is ItemKind.MESSAGE] == HISTORY


def test_atif_written_by_the_osmosis_sdk_loads(tmp_path: Path) -> None:
    usage = {"usage": {"prompt_tokens": 30, "completion_tokens": 8}}
    messages = [SYSTEM, USER, ASSISTANT_1 | usage, TOOL_1, ASSISTANT_2, TOOL_2, ASSISTANT_3]
    traj = load_trajectory(write_atif(tmp_path, messages))
    assert traj["rollout_id"] == ROLLOUT and traj["imported_from"]["format"] == "atif"
    assert traj["imported_from"]["reward"] == 1.0
    assert [turn["added"] for turn in traj["turns"]] == [[SYSTEM, USER], [TOOL_1], [TOOL_2]]
    first = traj["turns"][0]
    assert first["assistant"]["tool_calls"][0]["function"]["name"] == "add"
    assert json.loads(first["assistant"]["tool_calls"][0]["function"]["arguments"]) == {
        "a": 5,
        "b": 3,
    }
    assert first["usage"]["completion_tokens"] == 8
    assert traj["turns"][-1]["assistant"]["content"] == "The answer is 16."


def test_the_tokens_of_sdk_atif_come_from_its_sample_metrics(tmp_path: Path) -> None:
    """The SDK keeps token counts in `extra.osmosis.sample_metrics`, not on its steps."""
    messages = [SYSTEM, USER, ASSISTANT_1, TOOL_1, ASSISTANT_2, TOOL_2, ASSISTANT_3]
    sample = RolloutSample(messages=messages, reward=1.0,
                           metrics={"prompt_tokens": 20.0, "completion_tokens": 10.0})  # fmt: skip
    result = ExecutionResult(status=RolloutStatus.SUCCESS, sample=sample)
    asyncio.run(osmosis_save_trajectory(rollout_id=ROLLOUT, result=result, artifact_root=tmp_path))
    summary = summarize(load_trajectory(tmp_path / ROLLOUT / "trajectory.json"))
    assert (summary.metrics["prompt_tokens"], summary.metrics["response_tokens"]) == (20, 10)
    assert (
        "20 prompt + 10 completion" in dict((k, v) for k, v, _ in summary_rows(summary))["tokens"]
    )


BAD_FILES = {
    "not json": ("{oops", "not JSON"),
    "list": ("[1, 2]", "expected a JSON object, got list"),
    "empty object": ("{}", "empty JSON object"),
    "other shape": ('{"hello": 1}', "keys: hello"),
    "other format": ('{"format": "x"}', "unknown format 'x'"),
    "version": (
        '{"format": "rolloutctl.trajectory", "version": 2}',
        "unsupported version 2",
    ),
    "turns": (
        '{"format": "rolloutctl.trajectory", "version": 1, "turns": {}}',
        "field 'turns' must be a list of objects",
    ),
    "turn": (
        '{"format": "rolloutctl.trajectory", "version": 1, "tools": [], "violations": [],'
        ' "final_added": [], "turns": [{"index": 1, "added": [1]}]}',
        "turn 1: needs an 'added' list of messages",
    ),
    "completion": ('{"status": "COMPLETED", "final_messages": []}', "rollout_id"),
    "atif": ('{"schema_version": "ATIF-v1.7", "steps": 3}', "'steps' must be a list"),
    "atif source": (
        '{"schema_version": "ATIF-v1.7", "steps": [{"source": "robot"}]}',
        "unknown source 'robot'",
    ),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_files_give_one_readable_line(tmp_path: Path, name: str) -> None:
    text, expected = BAD_FILES[name]
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(TrajectoryFormatError) as caught:
        load_trajectory(path)
    message = str(caught.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_missing_file_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(TrajectoryFormatError, match="cannot read"):
        load_trajectory(tmp_path / "absent.json")
