"""A calculator rollout server written on the Osmosis SDK 0.3 alone (no rolloutctl).

It is the other side of rolloutctl's interop tests and benchmarks: an `AgentWorkflow`
that calls `{chat_completions_url}/chat/completions` with httpx, runs the calculator
tools itself, and a `Grader` that rewards a final answer containing the label.

    python examples/osmosis/sdk_calculator.py --port 9100 [--api-key KEY]
"""

from __future__ import annotations

import argparse
import json
import operator
from typing import Any

import httpx
import uvicorn
from osmosis_ai.rollout import (
    AgentWorkflow,
    AgentWorkflowConfig,
    AgentWorkflowContext,
    AgentWorkflowOutput,
    ConcurrencyConfig,
    Grader,
    GraderContext,
    LocalBackend,
    get_rollout_context,
)
from osmosis_ai.rollout.server import create_rollout_server

OPERATIONS = {
    "add": operator.add,
    "subtract": operator.sub,
    "multiply": operator.mul,
    "divide": operator.truediv,
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"Apply {name} to the numbers a and b.",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        },
    }
    for name in OPERATIONS
]
MAX_TURNS = 10
_clients: dict[int, httpx.AsyncClient] = {}


def http_client() -> httpx.AsyncClient:
    """One client per process (its connection pool serves every rollout). Idle connections
    are dropped after 2 s, before a uvicorn model server (5 s keep-alive) closes them:
    reusing one it has just closed is a ReadError."""
    if 0 not in _clients:
        limits = httpx.Limits(max_connections=None, keepalive_expiry=2.0)
        _clients[0] = httpx.AsyncClient(timeout=60.0, limits=limits)
    return _clients[0]


def run_tool(call: dict[str, Any]) -> str:
    function = call.get("function") or {}
    try:
        args = json.loads(function.get("arguments") or "{}")
        value = OPERATIONS[function["name"]](float(args["a"]), float(args["b"]))
    except Exception as exc:
        return f"Error: {exc}"
    return str(int(value)) if float(value).is_integer() else str(value)


class CalculatorWorkflow(AgentWorkflow):
    async def run(self, ctx: AgentWorkflowContext) -> AgentWorkflowOutput:
        rollout = get_rollout_context()
        assert rollout is not None
        url = rollout.chat_completions_url.rstrip("/") + "/chat/completions"
        headers = self.chat_headers(rollout.api_key)
        messages = list(ctx.prompt)
        turns = 0
        while turns < MAX_TURNS:
            body = {"model": "osmosis-rollout", "messages": self.sent(messages), "tools": TOOLS}
            response = await http_client().post(url, json=body, headers=headers)
            response.raise_for_status()
            message = response.json()["choices"][0]["message"]
            messages.append(message)
            turns += 1
            calls = message.get("tool_calls") or []
            if not calls:
                break
            for call in calls:
                messages.append(
                    {"role": "tool", "tool_call_id": call["id"], "content": run_tool(call)}
                )
        return AgentWorkflowOutput(messages=messages, metrics={"turns": float(turns)})

    def chat_headers(self, api_key: str | None) -> dict[str, str]:
        """Bearer llm_api_key on every chat call, when the rollout has one."""
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def sent(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What a chat request carries: the whole history so far."""
        return messages


class LabelGrader(Grader):
    """1.0 when the last assistant message contains the label (0.0 without a label)."""

    async def grade(self, ctx: GraderContext) -> None:
        assert ctx.sample is not None
        answers = [m for m in ctx.sample.messages if m.get("role") == "assistant"]
        text = str((answers[-1].get("content") or "") if answers else "")
        ctx.set_reward(1.0 if ctx.label and ctx.label in text else 0.0)


def make_app(
    api_key: str | None = None,
    max_concurrent: int = 256,
    workflow: type[CalculatorWorkflow] = CalculatorWorkflow,
) -> Any:
    config = AgentWorkflowConfig(
        name="sdk-calculator", concurrency=ConcurrencyConfig(max_concurrent=max_concurrent)
    )
    backend = LocalBackend(workflow=workflow, workflow_config=config, grader=LabelGrader)
    return create_rollout_server(backend=backend, configure_logging=False, api_key=api_key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--max-concurrent", type=int, default=256)
    args = parser.parse_args()
    app = make_app(args.api_key, args.max_concurrent)
    # keep-alive as in the SDK's own server template (its client long-polls)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=2160)


if __name__ == "__main__":
    main()
