"""The live view's text rules: visible control characters, clipping, compact calls,
error results in red and counted, parallel calls each above its own result."""

from __future__ import annotations

import json

import pytest

from rolloutctl.events import Event, EventKind
from rolloutctl.trajectory.document import load_trajectory, save_trajectory
from rolloutctl.trajectory.text import clip, compact_call, visible
from tests.trajectory.samples import (
    ROLLOUT,
    build,
    calculator_events,
    plain_renderer,
    rich_renderer,
)


def with_assistant(message: dict, results: list[dict]) -> list[Event]:
    """Calculator events whose first reply is `message`, answered by `results`."""
    events = calculator_events()
    events[3].data["body"]["choices"][0]["message"] = message
    history = events[4].data["body"]["messages"]
    history[2:] = [message, *results]
    return [
        *events[:5],
        Event(EventKind.COMPLETION, ROLLOUT, {"status_code": 200, "body": _done(history)}),
    ]


def _done(history: list[dict]) -> dict:
    return {
        "rollout_id": ROLLOUT,
        "status": "COMPLETED",
        "finish_reason": "stop",
        "final_messages": history,
        "metrics": {},
    }


def call(call_id: str, name: str, arguments: dict | str) -> dict:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def test_control_characters_become_visible_escapes() -> None:
    assert visible("a\x1b[31mred\x1b[0m\x07\r\n\tz\x9b") == "a\\e[31mred\\e[0m\\x07\\r\n\tz\\x9b"
    title = "\x1b]0;owned\x07"
    assert visible(title) == "\\e]0;owned\\x07"


def test_escape_sequences_from_the_model_never_reach_the_output() -> None:
    content = "plain \x1b[31mred\x1b[0m then \x1b]0;title\x07 rest"
    message = {"role": "assistant", "content": content, "tool_calls": [call("c1", "add", {})]}
    _, items = build(
        with_assistant(message, [{"role": "tool", "tool_call_id": "c1", "content": "\x1b[2J8"}])
    )
    for renderer, out in (plain_renderer(), rich_renderer()):
        renderer.render_items(items)
        text = out.getvalue()
        assert "\\e[31mred\\e[0m then \\e]0;title\\x07 rest" in text
        assert "\\e[2J8" in text and "\x1b[31m" not in text and "\x1b]" not in text
        assert "-> add()" in text or "→ add()" in text


def test_long_texts_are_clipped_with_a_marker_unless_full() -> None:
    assert clip("x" * 10, 4) == "xxxx… [6 more characters; --full shows all]"
    assert clip("x" * 10, None) == "x" * 10
    events = calculator_events()
    events[2].data["body"]["messages"][1] = {"role": "user", "content": "y" * 120_000}
    _, items = build(events)
    renderer, out = plain_renderer()
    renderer.max_chars = 2000
    renderer.render_items(items)
    assert len(out.getvalue()) < 6000 and "118,000 more characters" in out.getvalue()


def test_compact_calls_and_when_they_fall_back_to_json() -> None:
    assert compact_call("add", '{"a": 5, "b": 3}') == "add(a=5, b=3)"
    assert compact_call("say", '{"text": "hi"}') == 'say(text="hi")'
    assert compact_call("nest", '{"a": {"b": 1}}') is None
    assert compact_call("long", json.dumps({"text": "z" * 200})) is None
    assert compact_call("bad", "{not json") is None
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("c1", "nest", {"a": {"b": 1}})],
    }
    _, items = build(
        with_assistant(message, [{"role": "tool", "tool_call_id": "c1", "content": "ok"}])
    )
    renderer, out = plain_renderer()
    renderer.render_items(items)
    assert_lines = out.getvalue()
    assert "call       -> nest\n" in assert_lines and '"b": 1' in assert_lines
    verbose, out = plain_renderer()
    verbose.verbose = True
    _, items = build(calculator_events())
    verbose.render_items(items)
    assert "-> add\n" in out.getvalue() and '"a": 5,' in out.getvalue()


def test_parallel_calls_each_sit_above_their_own_result_and_errors_are_red() -> None:
    calls = [call("c1", "divide", {"a": 1, "b": 0}), call("c2", "add", {"a": 1, "b": 2})]
    message = {"role": "assistant", "content": None, "tool_calls": calls}
    results = [
        {"role": "tool", "tool_call_id": "c1", "content": "Error: division by zero"},
        {"role": "tool", "tool_call_id": "c2", "content": "3"},
    ]
    traj, items = build(with_assistant(message, results))
    renderer, out = plain_renderer()
    renderer.render_items(items)
    renderer.render_summary(traj)
    text = out.getvalue()
    assert (
        "call       -> divide(a=1, b=0)\ntool       Error: division by zero\n"
        "call       -> add(a=1, b=2)\ntool       3\n"
    ) in text
    assert "tool errors  1 of 2 tool calls failed" in text
    colour, out = rich_renderer()
    colour.render_items(items)
    colour.render_summary(traj)
    assert "\x1b[1;31mError: division by zero" in out.getvalue()
    assert "\x1b[1;31m1 of 2 tool calls failed" in out.getvalue()


def test_a_trajectory_with_a_non_numeric_latency_is_an_input_error(tmp_path) -> None:
    from rolloutctl.errors import TrajectoryFormatError

    traj, _ = build(calculator_events())
    traj["turns"][0]["latency_ms"] = "slow"
    path = tmp_path / "t.json"
    save_trajectory(path, traj)
    with pytest.raises(TrajectoryFormatError, match="latency_ms"):
        load_trajectory(path)
