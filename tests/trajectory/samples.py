"""The calculator rollout the trajectory tests share: its messages, its events as the mock
trainer publishes them, and renderers writing to a string."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from osmosis_ai.rollout.trajectory import save_trajectory as osmosis_save_trajectory
from osmosis_ai.rollout.types import ExecutionResult, RolloutSample, RolloutStatus
from rich.console import Console

from rolloutctl.events import Event, EventKind
from rolloutctl.trajectory.builder import TrajectoryBuilder
from rolloutctl.trajectory.render import Renderer, make_console

ROLLOUT = "calc-1"
Message = dict[str, Any]
CANARY = "sk-canary-7d1e0c"
SYSTEM: Message = {"role": "system", "content": "You are a calculator. Use the tools."}
USER: Message = {"role": "user", "content": "What is (5 + 3) * 2?"}
TOOLS: list[Message] = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} two numbers",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        },
    }
    for name in ("add", "multiply")
]


def tool_call(call_id: str, name: str, a: int, b: int) -> Message:
    arguments = json.dumps({"a": a, "b": b})
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


ASSISTANT_1: Message = {
    "role": "assistant",
    "content": None,
    "tool_calls": [tool_call("c1", "add", 5, 3)],
}
TOOL_1: Message = {"role": "tool", "content": "8", "tool_call_id": "c1"}
ASSISTANT_2: Message = {
    "role": "assistant",
    "content": None,
    "tool_calls": [tool_call("c2", "multiply", 8, 2)],
}
TOOL_2: Message = {"role": "tool", "content": "16", "tool_call_id": "c2"}
ASSISTANT_3: Message = {"role": "assistant", "content": "The answer is 16."}
HISTORY: list[Message] = [SYSTEM, USER, ASSISTANT_1, TOOL_1, ASSISTANT_2, TOOL_2, ASSISTANT_3]
STEPS: list[tuple[Message, list[Message], str]] = [
    (ASSISTANT_1, [TOOL_1], "tool_calls"),
    (ASSISTANT_2, [TOOL_2], "tool_calls"),
]
STEPS.append((ASSISTANT_3, [], "stop"))


def completion_payload(messages: list[Message]) -> dict[str, Any]:
    metrics = {
        "num_llm_calls": 3,
        "num_tool_calls": 2,
        "prompt_tokens": 90,
        "response_tokens": 24,
        "total_latency_ms": 52.0,
        "llm_latency_ms": 37.5,
        "tool_latency_ms": 0.4,
    }
    return {
        "rollout_id": ROLLOUT,
        "status": "COMPLETED",
        "final_messages": messages,
        "finish_reason": "stop",
        "reward": None,
        "metrics": metrics,
        "extra_fields": {},
    }


def chat_body(message: Message, finish_reason: str, n: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "model": "mock",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38},
        "token_ids": [101 + n, 102, 103],
        "logprobs": [-0.25, -0.5, -0.125],
        "prompt_token_ids": [1, 2, 3, 4],
    }


class Clock:
    """Event timestamps one second apart, so the recorded times are predictable."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def event(self, kind: EventKind, data: dict[str, Any], rollout_id: str = ROLLOUT) -> Event:
        self.now += 1
        return Event(kind, rollout_id, data, self.now)


def calculator_events(api_key: str = "***", tail: list[Message] | None = None) -> list[Event]:
    """The events the mock trainer publishes for a two-tool calculator rollout."""
    clock = Clock()
    init = {
        "rollout_id": ROLLOUT,
        "server_url": "http://127.0.0.1:9001",
        "messages": [SYSTEM, USER],
        "completion_params": {"temperature": 0},
        "api_key": api_key,
        "max_turns": 10,
    }
    events = [clock.event(EventKind.INIT_SENT, {"request": init})]
    response = {"status_code": 202, "body": {"rollout_id": ROLLOUT, "tools": TOOLS}}
    events.append(clock.event(EventKind.INIT_RESPONSE, response))
    history = [SYSTEM, USER]
    for n, (assistant, tools, finish) in enumerate(STEPS):
        request = {"model": "default", "rollout_id": ROLLOUT, "messages": list(history)}
        events.append(clock.event(EventKind.CHAT_REQUEST, {"index": n, "body": request}))
        answer = {"index": n, "status_code": 200, "body": chat_body(assistant, finish, n)}
        events.append(clock.event(EventKind.CHAT_RESPONSE, answer | {"latency_ms": 12.5}))
        history += [assistant, *tools]
    body = completion_payload(history + (tail or []))
    events.append(clock.event(EventKind.COMPLETION, {"status_code": 200, "body": body}))
    return events


def build(events: list[Event]) -> tuple[dict[str, Any], list[Any]]:
    builder = TrajectoryBuilder()
    items = [item for event in events for item in builder.add(event)]
    return builder.trajectory(), items


def write_atif(directory: Path, messages: list[Message], reward: float | None = 1.0) -> Path:
    """An ATIF trajectory.json written by the installed osmosis-ai SDK itself."""
    sample = RolloutSample(messages=messages, reward=reward)
    result = ExecutionResult(status=RolloutStatus.SUCCESS, sample=sample)
    save = osmosis_save_trajectory(rollout_id=ROLLOUT, result=result, artifact_root=directory)
    asyncio.run(save)
    return directory / ROLLOUT / "trajectory.json"


def plain_renderer(show_tools: bool = True) -> tuple[Renderer, io.StringIO]:
    out = io.StringIO()
    return Renderer(make_console(True, file=out, width=100), True, show_tools), out


def rich_renderer() -> tuple[Renderer, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system="truecolor")
    return Renderer(console), out
