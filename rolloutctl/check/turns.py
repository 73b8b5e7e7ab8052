"""The model's side of `rolloutctl check` rollouts: planned assistant turns and tool calls.

Tool calls name the server's own tools with arguments built from their JSON Schemas,
so a check works the same on a calculator, a search agent or anything else.
"""

from __future__ import annotations

import json
from typing import Any

from rolloutctl.schema.arguments import schema_instance
from rolloutctl.trainer import Reply

__all__ = ["FINAL", "answer", "calling", "tool_answer", "tool_call"]

FINAL = "All done: rolloutctl check needs nothing more."


def answer(text: str = FINAL, **extra: Any) -> Reply:
    """A final assistant turn (no tool calls); `extra` adds fields to the message."""
    return Reply({"role": "assistant", "content": text, **extra})


def calling(calls: list[dict[str, Any]], completion_tokens: int | None = None) -> Reply:
    """An assistant turn asking for `calls`; `completion_tokens` fixes its usage."""
    usage = None
    if completion_tokens is not None:
        usage = {
            "prompt_tokens": 10,
            "completion_tokens": completion_tokens,
            "total_tokens": 10 + completion_tokens,
        }
    return Reply({"role": "assistant", "content": None, "tool_calls": calls}, "tool_calls", usage)


def tool_call(tool: dict[str, Any], call_id: str) -> dict[str, Any]:
    """A call of `tool` (a ToolSchema) with arguments valid for its parameters."""
    function = tool["function"]
    arguments = json.dumps(schema_instance(function["parameters"]))
    call = {"name": function["name"], "arguments": arguments}
    return {"id": call_id, "type": "function", "function": call}


def tool_answer(call_id: str) -> dict[str, Any]:
    """Stands for the tool message of `call_id` in an expected history (content unknown)."""
    return {"role": "tool", "tool_call_id": call_id}
