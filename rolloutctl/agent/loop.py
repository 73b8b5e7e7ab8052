"""The standard tool loop of docs/protocol.md ("Loop ending"), reusable by any agent."""

from __future__ import annotations

from collections.abc import Sequence

from rolloutctl.agent.context import Agent, RolloutContext, RolloutRequest, RolloutResult
from rolloutctl.agent.tools import Tool

__all__ = ["ToolLoopAgent", "run_tool_loop"]


async def run_tool_loop(ctx: RolloutContext) -> RolloutResult:
    """Chat, run the requested tools, repeat; stop by the protocol's rules, in their order.

    1. `max_tokens` once the summed completion tokens reach the budget (tools not run);
    2. the model's finish_reason when it asks for no tools;
    3. `max_turns` after the tools of the last allowed LLM call ran.
    """
    request = ctx.request
    while True:
        reply = await ctx.chat()
        if ctx.metrics.response_tokens >= request.max_tokens_total:
            return RolloutResult(finish_reason="max_tokens")
        if not reply.tool_calls:
            return RolloutResult(finish_reason=reply.finish_reason)
        await ctx.run_tools(reply.tool_calls)
        if ctx.metrics.num_llm_calls >= request.max_turns:
            return RolloutResult(finish_reason="max_turns")


class ToolLoopAgent(Agent):
    """An agent that is just tools plus the standard loop: set `name` and `tool_list`."""

    tool_list: Sequence[Tool] = ()

    def tools(self, request: RolloutRequest) -> Sequence[Tool]:
        return self.tool_list

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        return await run_tool_loop(ctx)
