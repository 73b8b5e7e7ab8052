"""A rollout server built as the SDK's own `osmosis rollout init` template builds one.

Same imports, same `main()`: `LocalBackend(workflow=..., grader=...)` and
`create_rollout_server(backend=backend)` with every SDK default untouched (no inbound
key, FastAPI's own 422, the SDK's logging), the port from `_OSMOSIS_ROLLOUT_PORT`. Only
the two methods the template leaves to its user are filled in: the workflow drives the
model with raw HTTP against `chat_completions_url` (the calculator tools) and registers
a `SampleSource`; the grader rewards a final answer containing `ctx.label`. It listens
on 127.0.0.1 where the template says 0.0.0.0 (tests stay on loopback).

    _OSMOSIS_ROLLOUT_PORT=9100 python tests/osmosis/template_server.py
"""

from __future__ import annotations

import json
import operator
import os
from typing import Any

import httpx
import uvicorn
from osmosis_ai.rollout.agent_workflow import AgentWorkflow
from osmosis_ai.rollout.backend.local import LocalBackend
from osmosis_ai.rollout.context import (
    AgentWorkflowContext,
    GraderContext,
    SampleSource,
    get_rollout_context,
)
from osmosis_ai.rollout.grader import Grader
from osmosis_ai.rollout.server import create_rollout_server
from osmosis_ai.rollout.types import RolloutSample

OPERATIONS = {"add": operator.add, "multiply": operator.mul}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} a and b",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        },
    }
    for name in OPERATIONS
]


class Conversation(SampleSource):
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages

    async def get_sample(self) -> RolloutSample:
        return RolloutSample(messages=self.messages)


def tool_message(call: dict[str, Any]) -> dict[str, Any]:
    function = call["function"]
    args = json.loads(function.get("arguments") or "{}")
    value = OPERATIONS[function["name"]](float(args["a"]), float(args["b"]))
    shown = str(int(value)) if float(value).is_integer() else str(value)
    return {"role": "tool", "tool_call_id": call["id"], "content": shown}


class MyAgentWorkflow(AgentWorkflow):
    async def run(self, ctx: AgentWorkflowContext) -> None:
        rollout = get_rollout_context()
        assert rollout is not None
        messages = list(ctx.prompt)
        rollout.set_sample_source(Conversation(messages))
        url = rollout.chat_completions_url.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {rollout.api_key}"} if rollout.api_key else {}
        async with httpx.AsyncClient(timeout=60.0) as http:
            for _ in range(10):
                body = {"model": "osmosis-rollout", "messages": messages, "tools": TOOLS}
                response = await http.post(url, json=body, headers=headers)
                response.raise_for_status()
                message = response.json()["choices"][0]["message"]
                messages.append(message)
                if not message.get("tool_calls"):
                    return
                messages += [tool_message(call) for call in message["tool_calls"]]


class MyGrader(Grader):
    async def grade(self, ctx: GraderContext) -> None:
        assert ctx.sample is not None
        answers = [m for m in ctx.sample.messages if m.get("role") == "assistant"]
        text = str(answers[-1].get("content") or "") if answers else ""
        ctx.set_reward(1.0 if ctx.label and ctx.label in text else 0.0)


def main() -> None:
    backend = LocalBackend(workflow=MyAgentWorkflow, grader=MyGrader)
    app = create_rollout_server(backend=backend)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ.get("_OSMOSIS_ROLLOUT_PORT", "8000")),
        timeout_keep_alive=2160,
    )


if __name__ == "__main__":
    main()
