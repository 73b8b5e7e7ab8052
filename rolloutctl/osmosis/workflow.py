"""A rolloutctl `Agent` as an Osmosis SDK 0.3 `AgentWorkflow`.

The SDK's `LocalBackend` builds a new workflow instance for every rollout from a
class, so `adapter_workflow(agent, ...)` returns a subclass that carries the agent.
Each run gets a `RolloutContext` whose `chat` POSTs `{chat_completions_url}/chat/completions`
with Bearer `llm_api_key` and the rollout's tools in every request: in this protocol the
model side learns the tools only from the request, as any OpenAI-compatible server does.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from osmosis_ai.rollout import (
    AgentWorkflow,
    AgentWorkflowContext,
    get_rollout_context,
)
from osmosis_ai.rollout.context import RolloutContext as SdkRolloutContext
from osmosis_ai.rollout.context import SampleSource
from osmosis_ai.rollout.types import RolloutSample

from rolloutctl.agent.context import (
    Agent,
    LLMBackend,
    RolloutContext,
    RolloutRequest,
    RolloutResult,
)
from rolloutctl.agent.tools import Tool
from rolloutctl.errors import RolloutFailed, RolloutFailure, RolloutTimedOut
from rolloutctl.observe.observer import Observer
from rolloutctl.osmosis.observing import init_trace
from rolloutctl.protocol import ErrorCategory
from rolloutctl.server.callbacks import CallWatch, RetryPolicy, TrainerClient
from rolloutctl.server.rollout import execute

__all__ = [
    "AdaptedSample",
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
    observer: Observer | None = None  # counts for /metrics (serve's default)


class _Seen:
    """One 0.3 rollout as the observer sees it (the SDK's server owns the rest)."""

    def __init__(self, rollout_id: str) -> None:
        self.rollout_id = rollout_id
        self.trace = init_trace()  # the init's, when it sent one
        self.watch: CallWatch | None = None


class AgentAdapterWorkflow(AgentWorkflow[Any]):
    """Runs `agent` (set on the subclass `adapter_workflow` makes) for one 0.3 rollout."""

    agent: ClassVar[Agent]
    options: ClassVar[AdapterOptions]

    async def run(self, ctx: AgentWorkflowContext[Any]) -> None:
        rollout = get_rollout_context()
        if rollout is None or not rollout.chat_completions_url:
            raise RolloutFailed("internal_error: no rollout context with a chat_completions_url")
        request = RolloutRequest(
            rollout_id=rollout.rollout_id, messages=list(ctx.prompt), metadata=ctx.metadata or {}
        )
        tools = list(self.agent.tools(request))
        observer, seen = self.options.observer, _Seen(rollout.rollout_id)
        if observer is not None:
            observer.accepted(seen)
            observer.started(seen)  # the SDK's slot is taken: the workflow runs in it
        started = time.perf_counter()
        try:
            agent_ctx, result = await self._execute(rollout, request, tools, seen)
        finally:
            if observer is not None:  # the SDK hands the result over (or the rollout was cancelled)
                observer.left(seen)
        agent_ctx.metrics.total_latency_ms = (time.perf_counter() - started) * 1000
        metrics = {name: float(value) for name, value in asdict(agent_ctx.metrics).items()}
        if result.reward is not None:
            metrics[REWARD_METRIC] = float(result.reward)
        messages = agent_ctx.messages if result.messages is None else result.messages
        extra = {**result.extra_fields, "finish_reason": result.finish_reason}
        rollout.set_sample_source(AdaptedSample(messages, metrics, extra))
        return None  # the SDK then takes the sample from the source: extra_fields included

    async def _execute(
        self, rollout: SdkRolloutContext, request: RolloutRequest, tools: list[Tool], seen: _Seen
    ) -> tuple[RolloutContext, RolloutResult]:
        """Run the agent against the trainer named by the SDK's rollout context."""
        observer = self.options.observer
        client = TrainerClient(
            rollout.chat_completions_url,
            rollout.api_key,
            self.options.retry,
            chat_path=CHAT_SUFFIX,  # the process-wide connection pool, shared by all rollouts
            watch=seen.watch,
        )
        llm = chat_backend(client, [t.schema() for t in tools])
        if observer is not None:
            llm = _timed(llm, functools.partial(observer.llm_call, seen))
        agent_ctx = RolloutContext(request, tools, llm)
        if observer is not None:
            agent_ctx.on_tool = functools.partial(observer.tool_call, seen)
        try:
            result = await execute(agent_ctx, self.agent, self.options.rollout_timeout)
        except RolloutFailure as failure:
            if observer is not None:
                category = {"error_category": failure.category.value}
                observer.finished(seen, {"status": "ERROR", "extra_fields": category})
            raise _as_sdk_error(failure) from failure
        if observer is not None:
            observer.finished(seen, {"status": "COMPLETED"})
        return agent_ctx, result


class AdaptedSample(SampleSource):
    """The rollout's sample with the agent's `extra_fields` and `finish_reason`, which a
    workflow's output has no field for (the sample's label is set by the grader)."""

    def __init__(
        self, messages: list[dict[str, Any]], metrics: dict[str, float], extra: dict[str, Any]
    ) -> None:
        self.messages, self.metrics, self.extra = messages, metrics, extra

    async def get_sample(self) -> RolloutSample:
        return RolloutSample(messages=self.messages, metrics=self.metrics, extra_fields=self.extra)


def chat_backend(client: TrainerClient, tools: list[dict[str, Any]]) -> LLMBackend:
    """An OpenAI chat body per turn: params, then the fixed fields, tools when there are any."""

    async def chat(messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {**params, "model": MODEL, "messages": messages}
        if tools:
            body["tools"] = tools
        return await client.chat(body)

    return chat


def _timed(llm: LLMBackend, ended: Callable[[float, BaseException | None], None]) -> LLMBackend:
    """`llm`, telling `ended` how long each call took and how it failed, if it did."""

    async def chat(messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            response = await llm(messages, params)
        except BaseException as exc:
            ended(time.perf_counter() - started, exc)
            raise
        ended(time.perf_counter() - started, None)
        return response

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
