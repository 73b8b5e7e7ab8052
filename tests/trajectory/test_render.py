"""Rendering of the live view, replay filters, the summary, and literal message content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rolloutctl.events import Event, EventKind
from rolloutctl.trajectory.builder import TrajectoryBuilder
from rolloutctl.trajectory.document import load_trajectory
from tests.trajectory.samples import (
    ASSISTANT_3,
    HISTORY,
    ROLLOUT,
    SYSTEM,
    USER,
    build,
    calculator_events,
    plain_renderer,
    rich_renderer,
    write_atif,
)

MARKUP = "[bold red]not markup[/] :smile: [link=http://x]y[/link]"


def replay(traj: dict, **filters: Any) -> str:
    renderer, out = plain_renderer()
    renderer.render_trajectory(traj, **filters)
    return out.getvalue()


def assert_in_order(text: str, *parts: str) -> None:
    position = 0
    for part in parts:
        found = text.find(part, position)
        assert found >= 0, f"{part!r} missing after position {position} in:\n{text}"
        position = found + len(part)


CALCULATOR_VIEW = (
    "tools add, multiply",
    "--- turn 1 ---",
    "system     You are a calculator. Use the tools.",
    "user       What is (5 + 3) * 2?",
    "assistant  model 12 ms | 30 prompt + 8 completion tokens | finish: tool_calls",
    "call       -> add(a=5, b=3)",
    "tool       8",
    "--- turn 2 ---",
    "call       -> multiply(a=8, b=2)",
    "tool       16",
    "--- turn 3 ---",
    "assistant  The answer is 16.",
    "           model 12 ms | 30 prompt + 8 completion tokens | finish: stop",
)


def test_live_view_shows_the_rollout_in_order_and_replay_matches_it() -> None:
    traj, items = build(calculator_events())
    renderer, out = plain_renderer()
    renderer.render_items(items)
    live = out.getvalue()
    assert_in_order(live, *CALCULATOR_VIEW)
    assert "\x1b" not in live and all(line == line.rstrip() for line in live.splitlines())
    assert replay(traj) == live


def test_live_view_prints_items_as_events_arrive() -> None:
    builder, (renderer, out) = TrajectoryBuilder(), plain_renderer()
    seen = []
    for event in calculator_events():
        renderer.render_items(builder.add(event))
        seen.append(out.getvalue())
    assert "What is (5 + 3) * 2?" in seen[2] and "add(" not in seen[2]
    # the call prints with its result, which comes with the next chat request
    assert "finish: tool_calls" in seen[3] and "add(" not in seen[3]
    assert "-> add(a=5, b=3)\ntool       8" in seen[4]


def test_summary_reports_status_metrics_and_times() -> None:
    traj, _ = build(calculator_events())
    renderer, out = plain_renderer()
    renderer.render_summary(traj)
    assert_in_order(
        out.getvalue(),
        "--- summary ---",
        "status       COMPLETED",
        "finish       stop",
        "calls        3 LLM, 2 tool",
        "tokens       90 prompt + 24 completion",
        # 9 events one second apart: init sent at +1, completion at +9
        "time         8.00 s from init to completion, model 38 ms",
        "violations   none",
    )
    assert "tool errors" not in out.getvalue()


def test_violations_show_in_red_in_the_summary() -> None:
    events = calculator_events()
    violation = {"rule": "rewrite", "message": MARKUP}
    events.append(Event(EventKind.VIOLATION, ROLLOUT, violation, events[-1].ts + 1))
    traj, _ = build(events)
    renderer, out = rich_renderer()
    renderer.render_summary(traj)
    text = out.getvalue()
    assert "\x1b[1;31m[rewrite] " + MARKUP in text
    assert "8.00 s" in text  # a violation after the completion does not stretch the time


def test_message_content_is_printed_literally() -> None:
    events = calculator_events()
    events[2].data["body"]["messages"][1] = {"role": "user", "content": MARKUP}
    arguments = json.dumps({"text": "[red]x[/red]"})
    call = {"id": "c1", "type": "function", "function": {"name": "echo", "arguments": arguments}}
    events[3].data["body"]["choices"][0]["message"] = {"role": "assistant", "tool_calls": [call]}
    events.append(Event(EventKind.VIOLATION, ROLLOUT, {"rule": "r", "message": MARKUP}))
    _, items = build(events)
    for renderer, out in (plain_renderer(), rich_renderer()):
        renderer.render_items(items)
        renderer.flush()
        text = out.getvalue()
        assert text.count(MARKUP) == 2 and "[red]x[/red]" in text


def test_replay_filters() -> None:
    traj, _ = build(calculator_events())
    step_two = replay(traj, step=2)
    assert_in_order(step_two, "--- turn 2 ---", "-> multiply(a=8, b=2)", "tool       16")
    assert "What is" not in step_two and "turn 1" not in step_two and "turn 3" not in step_two
    last = replay(traj, last=1)
    assert "The answer is 16." in last and "tool       16" not in last
    assert replay(traj, role="user").splitlines() == [
        "--- turn 1 ---",
        f"user       {USER['content']}",
    ]
    no_tools = replay(traj, show_tools=False)
    assert "-> add(a=5, b=3)" in no_tools and "tool " not in no_tools
    with pytest.raises(ValueError, match="no turn 4"):
        replay(traj, step=4)


def test_live_view_can_hide_tool_results() -> None:
    _, items = build(calculator_events())
    renderer, out = plain_renderer(show_tools=False)
    renderer.render_items(items)
    assert "-> multiply(a=8, b=2)" in out.getvalue() and "tool " not in out.getvalue()


def test_failed_calls_and_refused_init_are_shown() -> None:
    builder, (renderer, out) = TrajectoryBuilder(), plain_renderer()
    events = calculator_events()[:3]
    events[1].data.update(status_code=422, body={"detail": "server_url: bad"})
    events.append(Event(EventKind.CHAT_RESPONSE, ROLLOUT, {"status_code": 503, "latency_ms": 4}))
    for event in events:
        renderer.render_items(builder.add(event))
    renderer.render_summary(builder.trajectory())
    assert_in_order(
        out.getvalue(),
        'init refused: HTTP 422: {"detail": "server_url: bad"}',
        "chat call failed: HTTP 503 after 4.0 ms",
        "status      init refused (HTTP 422)",
    )


def test_an_init_that_never_reached_the_server() -> None:
    builder, (renderer, out) = TrajectoryBuilder(), plain_renderer()
    events = calculator_events()[:2]
    events[1].data.update(status_code=0, body="ConnectError('refused')")
    for event in events:
        renderer.render_items(builder.add(event))
    renderer.render_summary(builder.trajectory())
    assert_in_order(
        out.getvalue(), "init failed: ConnectError('refused')", "status      init failed"
    )


def test_atif_from_the_osmosis_sdk_renders(tmp_path: Path) -> None:
    traj = load_trajectory(write_atif(tmp_path, HISTORY, reward=0.5))
    renderer, out = plain_renderer()
    renderer.render_trajectory(traj)
    renderer.render_summary(traj)
    view = [line for line in CALCULATOR_VIEW[1:] if "model" not in line]
    assert_in_order(out.getvalue(), *view)
    assert_in_order(
        out.getvalue(), "status      not recorded", "reward      0.5", "source      ATIF"
    )


def test_completion_payload_renders_its_messages(tmp_path: Path) -> None:
    traj, _ = build(calculator_events())
    path = tmp_path / "completed.json"
    path.write_text(json.dumps(traj["completion"]))
    text = replay(load_trajectory(path))
    assert_in_order(
        text, SYSTEM["content"], "tool       8", "tool       16", ASSISTANT_3["content"]
    )
    assert " ms" not in text and "tokens" not in text


def test_summary_of_an_error_completion() -> None:
    events = calculator_events()
    body = events[-1].data["body"]
    body.update(status="ERROR", finish_reason="error", error_message="agent raised [boom]")
    body["extra_fields"] = {"error_category": "agent_error"}
    traj, _ = build(events)
    renderer, out = plain_renderer()
    renderer.render_summary(traj)
    assert_in_order(
        out.getvalue(),
        "status       ERROR",
        "finish       error",
        "error        agent_error: agent raised [boom]",
    )
