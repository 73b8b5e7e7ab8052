"""The calculator policy: a deterministic model that solves arithmetic with tools.

It re-derives everything from the conversation on each call (the latest user
message gives the plan, the tool messages after it give the results so far), so it
keeps no state and answers a retried or replayed request the same way.
"""

from __future__ import annotations

from typing import Any

import orjson

from rolloutctl.trainer.fake_tokens import content_text
from rolloutctl.trainer.policies.arithmetic import Number
from rolloutctl.trainer.policies.base import Policy, Reply, Turn, assistant, last_user_index
from rolloutctl.trainer.policies.calculation import (
    Ref,
    Step,
    apply,
    format_number,
    plan,
    read_number,
)

__all__ = [
    "DEFAULT_TOOLS",
    "NOTHING_TO_COMPUTE",
    "OPERATIONS",
    "CalculatorPolicy",
    "ToolMap",
    "tool_map",
]

OPERATIONS = ("add", "subtract", "multiply", "divide")
_ALIASES = {
    "add": ("add", "plus", "sum", "addition"),
    "subtract": ("subtract", "minus", "sub", "subtraction"),
    "multiply": ("multiply", "times", "mul", "product", "multiplication"),
    "divide": ("divide", "div", "quotient", "division"),
}
DEFAULT_TOOLS = {op: (op, ("a", "b")) for op in OPERATIONS}
NOTHING_TO_COMPUTE = "I found no arithmetic to compute in your message."
_MAX_MAPS = 1024

ToolMap = dict[str, tuple[str, tuple[str, str]]]


def tool_map(tools: list[dict[str, Any]] | None) -> ToolMap:
    """Operation -> (declared tool name, its two argument names); the fixed names if unknown."""
    if tools is None:
        return DEFAULT_TOOLS
    declared = {}
    for tool in tools:
        function = tool.get("function") or {}
        props = list((function.get("parameters") or {}).get("properties") or {})
        declared[str(function.get("name", "")).lower()] = (function.get("name"), props)
    found: ToolMap = {}
    for op, aliases in _ALIASES.items():
        match = next((declared[a] for a in aliases if a in declared), None)
        if match:
            name, props = match
            found[op] = (str(name), (props[0], props[1]) if len(props) >= 2 else ("a", "b"))
    return found


class CalculatorPolicy(Policy):
    name = "calculator"

    def __init__(self) -> None:
        self._maps: dict[int, tuple[list[dict[str, Any]], ToolMap]] = {}

    def _tool_map(self, tools: list[dict[str, Any]] | None) -> ToolMap:
        """`tool_map`, kept per tools list: a rollout's calls share its 202's list, and the
        trainer's starter hands one list to every rollout that got the same tools."""
        if tools is None:
            return DEFAULT_TOOLS
        known = self._maps.get(id(tools))
        if known is not None and known[0] is tools:  # holding the list keeps its id unique
            return known[1]
        if len(self._maps) >= _MAX_MAPS:
            self._maps.clear()
        found = self._maps[id(tools)] = (tools, tool_map(tools))
        return found[1]

    def describe(self) -> str:
        return "calculator (solves arithmetic with the rollout's calculator tools)"

    async def reply(self, turn: Turn) -> Reply:
        user = last_user_index(turn.messages)
        if user is None:
            return Reply(assistant(NOTHING_TO_COMPUTE))
        steps = plan(content_text(turn.messages[user].get("content")))
        if not steps:
            return Reply(assistant(NOTHING_TO_COMPUTE))
        results = [m for m in turn.messages[user + 1 :] if m.get("role") == "tool"]
        return _next_move(steps, results, self._tool_map(turn.tools), len(turn.messages))


def _next_move(
    steps: tuple[Step, ...], results: list[dict[str, Any]], tools: ToolMap, n: int
) -> Reply:
    """Walk the plan: a tool call for the first step without a result, else the answer."""
    values: list[Number] = []
    pending = iter(results)
    for index, step in enumerate(steps):
        a, b = _value(step.a, values), _value(step.b, values)
        if step.op not in tools:
            try:
                values.append(apply(step.op, a, b))
            except ZeroDivisionError:
                return Reply(assistant(f"I cannot divide {format_number(a)} by zero."))
            continue
        result = next(pending, None)
        if result is None:
            return Reply(_tool_call(tools[step.op], a, b, f"call_{n}_{index}"), "tool_calls")
        text = content_text(result.get("content"))
        number = read_number(text)
        if number is None:
            return Reply(assistant(f"I could not finish the calculation: the tool said {text!r}."))
        values.append(number)
    return Reply(assistant(f"The answer is {format_number(values[-1])}."))


def _value(operand: Ref | Number, values: list[Number]) -> Number:
    return values[operand.step] if isinstance(operand, Ref) else operand


def _tool_call(
    tool: tuple[str, tuple[str, str]], a: Number, b: Number, call_id: str
) -> dict[str, Any]:
    name, (first, second) = tool
    arguments = orjson.dumps({first: a, second: b}).decode()
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    return assistant(None, [call])
