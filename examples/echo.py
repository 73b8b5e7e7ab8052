"""The echo agent: one LLM call, no tools; the smallest possible agent."""

from rolloutctl import Agent, RolloutContext, RolloutResult


class Echo(Agent):
    name = "echo"

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        reply = await ctx.chat()
        return RolloutResult(finish_reason=reply.finish_reason)


agent = Echo()
