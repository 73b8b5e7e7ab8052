"""The Osmosis SDK 0.2 agent loop API, run by rolloutctl's server.

A 0.2 agent is a `RolloutAgentLoop`: `get_tools(request)` returns tool *schemas* and
`run(ctx)` does everything else (chat calls with the whole history, running its own
tools, counting them with `ctx.record_tool_call`) and returns `ctx.complete(...)` or
`ctx.error(...)`. `LoopAgent` adapts one onto rolloutctl's `Agent`, so the server,
the loader and every command take it as they take any agent.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel

from rolloutctl.agent import context as agent_api
from rolloutctl.agent.context import RolloutMetrics
from rolloutctl.agent.tools import Tool
from rolloutctl.errors import AgentError, RolloutAborted
from rolloutctl.osmosis.v02.models import CompletionsResult, RolloutRequest
from rolloutctl.server.app import create_app as create_server_app
from rolloutctl.server.settings import ServerSettings

__all__ = [
    "DeclaredTool",
    "LoopAgent",
    "RolloutAgentLoop",
    "RolloutContext",
    "RolloutResult",
    "create_app",
    "wire_schema",
]

Message = dict[str, Any]


@dataclass
class RolloutResult:
    status: Literal["COMPLETED", "ERROR"]
    final_messages: list[Message]
    finish_reason: str
    error_message: str | None = None
    metrics: RolloutMetrics | None = None


class RolloutContext:
    """What `run(ctx)` gets: the request, the tool schemas, and the chat call."""

    def __init__(self, inner: agent_api.RolloutContext, request: RolloutRequest) -> None:
        self.request = request
        self.tools: list[Any] = [
            tool.declared if isinstance(tool, DeclaredTool) else tool.schema()
            for tool in inner.tools.values()
        ]
        self._inner = inner

    async def chat(self, messages: list[Message], **kwargs: Any) -> CompletionsResult:
        """One chat call with the whole `messages`; `kwargs` are this call's sampling
        parameters, over the rollout's `completion_params`."""
        return CompletionsResult.from_chat(await self._inner.chat(list(messages), **kwargs))

    def complete(self, final_messages: list[Message], finish_reason: str = "stop") -> RolloutResult:
        return RolloutResult("COMPLETED", list(final_messages), finish_reason, None, self.metrics)

    def error(
        self, error_message: str, final_messages: list[Message] | None = None
    ) -> RolloutResult:
        messages = list(final_messages) if final_messages is not None else []
        return RolloutResult("ERROR", messages, "error", error_message, self.metrics)

    def record_tool_call(self, latency_ms: float = 0.0) -> None:
        self._inner.metrics.num_tool_calls += 1
        self._inner.metrics.tool_latency_ms += latency_ms

    @property
    def metrics(self) -> RolloutMetrics:
        return replace(self._inner.metrics)  # a snapshot


class RolloutAgentLoop(abc.ABC):
    """Base class of a 0.2 agent: set `name`, write `get_tools` and `async run`."""

    name: str = "agent_loop"

    @abc.abstractmethod
    def get_tools(self, request: RolloutRequest) -> list[Any]:
        """The tool schemas of this rollout (OpenAIFunctionToolSchema models or dicts)."""

    @abc.abstractmethod
    async def run(self, ctx: RolloutContext) -> RolloutResult:
        """The whole rollout; return `ctx.complete(...)` or `ctx.error(...)`."""

    def __rolloutctl_agent__(self) -> agent_api.Agent:
        return LoopAgent(self)


class DeclaredTool(Tool):
    """A tool the agent only declares: its schema goes into the 202, the agent runs it."""

    runs_on_server = False

    def __init__(self, declared: Any) -> None:  # no function to inspect: not Tool's init
        self.declared = declared
        self._schema = wire_schema(declared)
        function = self._schema.get("function") or {}
        self.name = str(function.get("name"))
        self.description = str(function.get("description") or "")
        self.parameters = function.get("parameters") or {}

    def schema(self) -> dict[str, Any]:
        return self._schema

    async def call(self, arguments: dict[str, Any]) -> str:
        raise AgentError(f"tool {self.name!r} is run by the agent's own loop")


def wire_schema(declared: Any) -> dict[str, Any]:
    """A ToolSchema as the protocol sends it: models without their null fields, and without
    0.2's `strict: false` (a default the protocol's ToolSchema does not have)."""
    if isinstance(declared, BaseModel):
        declared = declared.model_dump(mode="json", exclude_none=True)
    if not isinstance(declared, dict):
        raise TypeError(
            f"a tool schema must be a dict or a pydantic model, not {type(declared).__name__}"
        )
    function = declared.get("function")
    if isinstance(function, dict) and function.get("strict") is False:
        declared = {**declared, "function": {k: v for k, v in function.items() if k != "strict"}}
    return declared


class LoopAgent(agent_api.Agent):
    """A `RolloutAgentLoop` as a rolloutctl Agent."""

    def __init__(self, loop: RolloutAgentLoop) -> None:
        self.loop = loop
        self.name = getattr(loop, "name", None) or type(loop).__name__

    def tools(self, request: agent_api.RolloutRequest) -> Sequence[Tool]:
        declared = self.loop.get_tools(RolloutRequest.from_agent_request(request))
        return [DeclaredTool(schema) for schema in declared or ()]

    async def run(self, ctx: agent_api.RolloutContext) -> agent_api.RolloutResult:
        """`ctx.error(...)` ends the rollout as ERROR `agent_error` with its message and
        messages (the history the chat calls built, when it gave none)."""
        result = await self.loop.run(
            RolloutContext(ctx, RolloutRequest.from_agent_request(ctx.request))
        )
        if not isinstance(result, RolloutResult):
            raise AgentError(f"run() returned {type(result).__name__}, not RolloutResult")
        if result.status == "ERROR":
            if result.final_messages:
                ctx.messages = list(result.final_messages)
            raise RolloutAborted(result.error_message or "the agent reported an error")
        return agent_api.RolloutResult(result.finish_reason, list(result.final_messages))


def create_app(loop: RolloutAgentLoop, settings: ServerSettings | None = None) -> FastAPI:
    """rolloutctl's own server for `loop`: the app `rolloutctl serve` runs."""
    return create_server_app(LoopAgent(loop), settings)
