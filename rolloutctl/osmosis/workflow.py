"""A rolloutctl `Agent` as an Osmosis SDK 0.3 `AgentWorkflow`.

The SDK's `LocalBackend` builds a new workflow instance for every rollout from a
class, so `adapter_workflow(agent, ...)` returns a subclass that carries the agent.
Each run gets a `RolloutContext` whose `chat` POSTs `{chat_completions_url}/chat/completions`
with Bearer `llm_api_key` and the rollout's tools in every request: in this protocol the
model side learns the tools only from the request, as any OpenAI-compatible server does.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from osmosis_ai.rollout import (
    AgentWorkflow,
    AgentWorkflowContext,
    AgentWorkflowOutput,
    get_rollout_context,
)

from rolloutctl.agent.context import Agent, LLMBackend, RolloutContext, RolloutRequest
from rolloutctl.errors import RolloutFailed, RolloutFailure, RolloutTimedOut
from rolloutctl.protocol import ErrorCategory
from rolloutctl.server.callbacks import RetryPolicy, TrainerClient
from rolloutctl.server.rollout import execute

__all__ = [
    "AdapterOptions",
    "AgentAdapterWorkflow",
    "adapter_workflow",
    "chat_backend",
]

CHAT_SUFFIX = "/chat/completions"
MODEL = "osmosis-rollout"  # the model name the SDK's own integrations send
REWARD_METRIC = "agent_reward"  # how the agent's reward reaches the grader (graders see metrics)


@dataclass(frozen=True)
class AdapterOptions:
    """What `serve`'s settings become for the adapter (the SDK knows none of them)."""

    rollout_timeout: float = 600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class AgentAdapterWorkflow(AgentWorkflow[Any]):
    """Runs `agent` (set on the subclass `adapter_workflow` makes) for one 0.3 rollout."""

    agent: ClassVar[Agent]
    options: ClassVar[AdapterOptions]

    async def run(self, ctx: AgentWorkflowContext[Any]) -> AgentWorkflowOutput:
        rollout = get_rollout_context()
        if rollout is None or not rollout.chat_completions_url:
            raise RolloutFailed("internal_error: no rollout context with a chat_completions_url")
        request = RolloutRequest(
            rollout_id=rollout.rollout_id, messages=list(ctx.prompt), metadata=ctx.metadata or {}
        )
        tools = list(self.agent.tools(request))
        client = TrainerClient(
            rollout.chat_completions_url,
            rollout.api_key,
            self.options.retry,
            chat_path=CHAT_SUFFIX,  # the process-wide connection pool, shared by all rollouts
        )
        llm = chat_backend(client, [t.schema() for t in tools])
        agent_ctx = RolloutContext(request, tools, llm)
        started = time.perf_counter()
        try:
            result = await execute(agent_ctx, self.agent, self.options.rollout_timeout)
        except RolloutFailure as failure:
            raise _as_sdk_error(failure) from failure
        agent_ctx.metrics.total_latency_ms = (time.perf_counter() - started) * 1000
        metrics = {name: float(value) for name, value in asdict(agent_ctx.metrics).items()}
        if result.reward is not None:
            metrics[REWARD_METRIC] = float(result.reward)
        messages = agent_ctx.messages if result.messages is None else result.messages
        return AgentWorkflowOutput(messages=messages, metrics=metrics)


def chat_backend(client: TrainerClient, tools: list[dict[str, Any]]) -> LLMBackend:
    """An OpenAI chat body per turn: params, then the fixed fields, tools when there are any."""

    async def chat(messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {**params, "model": MODEL, "messages": messages}
        if tools:
            body["tools"] = tools
        return await client.chat(body)

    return chat


def _as_sdk_error(failure: RolloutFailure) -> RolloutFailed:
    """The SDK maps exception types to err_category: TimeoutError is its `timeout`."""
    message = f"{failure.category.value}: {failure}"
    if failure.category is ErrorCategory.TIMEOUT:
        return RolloutTimedOut(message)
    return RolloutFailed(message)


def adapter_workflow(
    agent: Agent, options: AdapterOptions | None = None
) -> type[AgentAdapterWorkflow]:
    """A workflow class for `agent`: what `LocalBackend(workflow=...)` takes."""
    attrs = {"agent": agent, "options": options or AdapterOptions()}
    return type(f"{type(agent).__name__}Workflow", (AgentAdapterWorkflow,), attrs)
