"""The calculator agent: four arithmetic tools and the standard tool loop.

The tools are `async def` because they never block: they run on the event loop
without a hop to a worker thread (a plain `def` tool would run in one).

When the rollout's metadata carries a `ground_truth` (as `rolloutctl eval` sends a
dataset row's), the reward is 1.0 if the final answer equals it and 0.0 otherwise;
without one there is nothing to score and the reward stays unset.
"""

import math
import re

from rolloutctl import RolloutContext, RolloutResult, ToolLoopAgent, tool
from rolloutctl.agent.loop import run_tool_loop

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _number(value: float) -> str:
    """Integral results print without a trailing `.0`, as docs/protocol.md fixes."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@tool
async def add(a: float, b: float) -> str:
    """Add two numbers and return a + b."""
    return _number(a + b)


@tool
async def subtract(a: float, b: float) -> str:
    """Subtract b from a and return a - b."""
    return _number(a - b)


@tool
async def multiply(a: float, b: float) -> str:
    """Multiply two numbers and return a * b."""
    return _number(a * b)


@tool
async def divide(a: float, b: float) -> str:
    """Divide a by b and return a / b; b must not be zero."""
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return _number(a / b)


def final_answer(messages: list[dict]) -> str:
    """The text of the last assistant message (what the model finally said)."""
    for message in reversed(messages):
        if message.get("role") == "assistant" and isinstance(message.get("content"), str):
            return message["content"]
    return ""


def matches(answer: str, truth: object) -> bool:
    """Numbers compare by value (the last number in the answer), anything else as text."""
    try:
        expected = float(str(truth).strip())
    except ValueError:
        return answer.strip().rstrip(".") == str(truth).strip()
    numbers = _NUMBER.findall(answer)
    return bool(numbers) and math.isclose(float(numbers[-1]), expected, rel_tol=1e-9, abs_tol=1e-9)


class Calculator(ToolLoopAgent):
    name = "calculator"
    tool_list = (add, subtract, multiply, divide)

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        result = await run_tool_loop(ctx)
        truth = ctx.request.metadata.get("ground_truth")
        if truth is not None:
            result.reward = 1.0 if matches(final_answer(ctx.messages), truth) else 0.0
        return result


agent = Calculator()
