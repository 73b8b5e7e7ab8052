"""The agent API: what an agent author writes against.

It knows nothing of the wire protocol: an agent gets a `RolloutContext` whose `chat`
reaches whatever model backend serves it (the v1 trainer today, other protocols
later), so one agent can be served by any of them unchanged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rolloutctl.agent.tools import Tool
from rolloutctl.counters import RolloutMetrics
from rolloutctl.errors import BadModelResponse, TurnLimitReached

__all__ = [
    "Agent",
    "ChatResult",
    "LLMBackend",
    "Message",
    "RolloutContext",
    "RolloutMetrics",
    "RolloutRequest",
    "RolloutResult",
    "ToolHook",
]

log = logging.getLogger("rolloutctl.agent")
Message = dict[str, Any]
LLMBackend = Callable[[list[Message], dict[str, Any]], Awaitable[dict[str, Any]]]
ToolHook = Callable[[dict[str, Any], str, float], None]  # (call, content, seconds)


@dataclass(frozen=True)
class RolloutRequest:
    """What a rollout asks for, independent of the protocol that carried it."""

    rollout_id: str
    messages: list[Message]
    completion_params: dict[str, Any] = field(default_factory=dict)
    max_turns: int = 10
    max_tokens_total: int = 8192
    metadata: dict[str, Any] = field(default_factory=dict)
    tool_server_url: str | None = None


@dataclass
class RolloutResult:
    """What `Agent.run` returns; `messages` defaults to the context's history."""

    finish_reason: str = "stop"
    messages: list[Message] | None = None
    reward: float | None = None
    extra_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatResult:
    """One assistant turn as the model backend returned it."""

    message: Message
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    response: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # as sent

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return self.message.get("tool_calls") or []

    @property
    def content(self) -> str:
        return self.message.get("content") or ""


class Agent:
    """Base class for agents: declare `name`, `tools(request)` and `async run(ctx)`."""

    name: str = "agent"

    def tools(self, request: RolloutRequest) -> Sequence[Tool]:
        return []

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        raise NotImplementedError


class RolloutContext:
    """One rollout as the agent sees it: the request, the model, the tools, the metrics."""

    def __init__(self, request: RolloutRequest, tools: Sequence[Tool], llm: LLMBackend) -> None:
        self.request = request
        self.tools = {t.name: t for t in tools}
        self.messages: list[Message] = list(request.messages)
        self.metrics = RolloutMetrics()
        self._llm = llm
        self.on_tool: ToolHook | None = None
        """Told of each tool call as it ends: how the server's observers see tools."""

    async def chat(self, messages: list[Message] | None = None, **params: Any) -> ChatResult:
        """Ask the model for the next turn of `messages` (default: `self.messages`).

        `params` override the rollout's `completion_params` for this call only. The
        history becomes `messages` plus the assistant message, which is what a failed
        rollout reports as far as it got.
        """
        if self.metrics.num_llm_calls >= self.request.max_turns:
            raise TurnLimitReached(f"max_turns={self.request.max_turns} reached")
        history = list(self.messages if messages is None else messages)
        started = time.perf_counter()
        sampling = self.request.completion_params
        response = await self._llm(history, {**sampling, **params} if params else sampling)
        self.metrics.llm_latency_ms += (time.perf_counter() - started) * 1000
        result = _parse_chat_response(response)
        self.metrics.num_llm_calls += 1
        self.metrics.prompt_tokens += result.prompt_tokens
        self.metrics.response_tokens += result.completion_tokens
        history.append(result.message)
        self.messages = history
        return result

    async def run_tools(self, tool_calls: list[dict[str, Any]]) -> list[Message]:
        """Run `tool_calls` concurrently; return one tool message per call, in call order.

        A failing call yields content starting `Error: ` instead of raising, because the
        protocol wants the rollout to go on. The messages are appended to the history.
        """
        started = time.perf_counter()
        if len(tool_calls) == 1:  # the common case, without a task for gather to wrap
            results = [await self._run_one(tool_calls[0])]
        else:
            results = await asyncio.gather(*(self._run_one(call) for call in tool_calls))
        self.metrics.tool_latency_ms += (time.perf_counter() - started) * 1000
        self.metrics.num_tool_calls += len(tool_calls)
        replies = [
            {"role": "tool", "content": content, "tool_call_id": call.get("id", "")}
            for call, content in zip(tool_calls, results, strict=True)
        ]
        self.messages.extend(replies)
        return replies

    async def _run_one(self, call: dict[str, Any]) -> str:
        if self.on_tool is None:
            return await self._tool_reply(call)
        started = time.perf_counter()
        content = await self._tool_reply(call)
        self.on_tool(call, content, time.perf_counter() - started)
        return content

    async def _tool_reply(self, call: dict[str, Any]) -> str:
        function = call.get("function") or {}
        name = function.get("name")
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            return f"Error: unknown tool {name!r}"
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except (TypeError, ValueError) as exc:
            return f"Error: arguments are not valid JSON ({exc})"
        if not isinstance(arguments, dict):
            return "Error: arguments must be a JSON object"
        try:
            return await tool.call(arguments)
        except Exception as exc:  # a tool's failure is reported to the model, not raised
            log.debug("rollout %s: tool %s raised", self.request.rollout_id, name, exc_info=True)
            return f"Error: {type(exc).__name__}: {exc}"


def _parse_chat_response(response: dict[str, Any]) -> ChatResult:
    """Read the fields docs/protocol.md names from an OpenAI chat completion.

    Whatever does not have the shape the protocol gives it is the model backend's
    fault (BadModelResponse), not the agent's: it must not surface later as an
    AttributeError inside the loop.
    """
    try:
        choice = response["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise BadModelResponse("chat response has no choices[0].message") from exc
    if not isinstance(message, dict):
        raise BadModelResponse("chat response choices[0].message is not an object")
    tool_calls = message.get("tool_calls")
    if tool_calls is not None and not (
        isinstance(tool_calls, list) and all(isinstance(c, dict) for c in tool_calls)
    ):
        raise BadModelResponse("chat response message.tool_calls is not a list of objects")
    finish_reason = choice.get("finish_reason")
    if finish_reason is not None and not isinstance(finish_reason, str):
        raise BadModelResponse("chat response choices[0].finish_reason is not a string")
    usage = response.get("usage") or {}
    if not isinstance(usage, dict):
        raise BadModelResponse("chat response usage is not an object")
    return ChatResult(
        message=message,
        finish_reason=finish_reason or "stop",
        prompt_tokens=_token_count(usage, "prompt_tokens"),
        completion_tokens=_token_count(usage, "completion_tokens"),
        response=response,
    )


def _token_count(usage: dict[str, Any], name: str) -> int:
    value = usage.get(name)
    if value is None:
        return 0
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and value >= 0 and float(value).is_integer():
        return int(value)
    raise BadModelResponse(f"chat response usage.{name} is not a non-negative integer")
