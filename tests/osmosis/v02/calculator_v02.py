"""A calculator agent written for the Osmosis SDK 0.2 agent API.

It follows the outline of the remote-rollout example repository's calculator loop
(shared/OSMOSIS_0_2_AGENT_API.md). The only line that differs from a module written
for `osmosis_ai.rollout` is the import of the 0.2 names from rolloutctl's compat layer.
"""

import asyncio
import json
import random
import time

from rolloutctl.osmosis.v02 import (
    OpenAIFunctionParametersSchema,
    OpenAIFunctionPropertySchema,
    OpenAIFunctionSchema,
    OpenAIFunctionToolSchema,
    RolloutAgentLoop,
    RolloutContext,
    RolloutRequest,
    RolloutResult,
    create_app,
)


def _binary_tool(name: str, description: str) -> OpenAIFunctionToolSchema:
    return OpenAIFunctionToolSchema(
        type="function",
        function=OpenAIFunctionSchema(
            name=name,
            description=description,
            parameters=OpenAIFunctionParametersSchema(
                type="object",
                properties={
                    "a": OpenAIFunctionPropertySchema(type="number", description="First number"),
                    "b": OpenAIFunctionPropertySchema(type="number", description="Second number"),
                },
                required=["a", "b"],
            ),
        ),
    )


CALCULATOR_TOOLS = [
    _binary_tool("add", "Add two numbers"),
    _binary_tool("subtract", "Subtract the second number from the first"),
    _binary_tool("multiply", "Multiply two numbers"),
    _binary_tool("divide", "Divide the first number by the second"),
]


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


async def execute_tool(name: str, arguments: dict) -> str:
    """Run one calculator tool, as slowly as a real backend would be."""
    await asyncio.sleep(random.uniform(0.1, 0.5))
    a, b = float(arguments["a"]), float(arguments["b"])
    if name == "add":
        return _format(a + b)
    if name == "subtract":
        return _format(a - b)
    if name == "multiply":
        return _format(a * b)
    if name == "divide":
        if b == 0:
            return "Error: Division by zero"
        return _format(a / b)
    return f"Error: unknown tool {name}"


class CalculatorAgentLoop(RolloutAgentLoop):
    name = "calculator"

    def get_tools(self, request: RolloutRequest) -> list:
        return CALCULATOR_TOOLS

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        messages = list(ctx.request.messages)
        finish_reason = "max_turns"
        total_tokens = 0
        for _turn in range(ctx.request.max_turns):
            result = await ctx.chat(messages, **ctx.request.completion_params)
            messages.append(result.message)
            total_tokens += result.usage.get("completion_tokens", 0)
            if total_tokens >= ctx.request.max_tokens_total:
                finish_reason = "max_tokens"
                break
            if not result.has_tool_calls:
                finish_reason = result.finish_reason
                break
            for call in result.tool_calls:
                started = time.monotonic()
                try:
                    arguments = json.loads(call["function"]["arguments"])
                    content = await execute_tool(call["function"]["name"], arguments)
                except (KeyError, TypeError, ValueError) as exc:
                    content = f"Error: {exc}"
                ctx.record_tool_call(latency_ms=(time.monotonic() - started) * 1000)
                messages.append({"role": "tool", "content": content, "tool_call_id": call["id"]})
        return ctx.complete(messages, finish_reason=finish_reason)


app = create_app(CalculatorAgentLoop())

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="0.0.0.0", port=9000)
