"""The attributes and fixed parts of a rollout's spans, encoded once where they can be.

What every span of a kind shares (name, kind, constant attributes) is encoded when
this module loads or, per agent and tool name, the first time; a rollout's spans
(`spans`) add only the bytes that are their own.
"""

from __future__ import annotations

import functools
from typing import Any

from rolloutctl.observe.otlp_wire import (
    UNSET_STATUS,
    Key,
    encode_attributes,
    encode_status,
    span_head,
    span_tail,
)
from rolloutctl.observe.tracing import CLIENT, INTERNAL, SERVER

__all__ = [
    "ATTEMPTS",
    "CALL_ID",
    "CATEGORY",
    "CHAT",
    "CHAT_ATTRIBUTES",
    "DELIVERED",
    "DELIVERY",
    "ENDED",
    "ERROR_TYPE",
    "ROLLOUT_ID",
    "STATUS",
    "UNDELIVERED",
    "cached",
    "failure",
    "rollout_span",
    "tool_span",
    "usage",
]

_INPUT, _OUTPUT = Key("gen_ai.usage.input_tokens"), Key("gen_ai.usage.output_tokens")
_MODEL, ERROR_TYPE = Key("gen_ai.response.model"), Key("error.type")
_TOOL, CALL_ID = Key("gen_ai.tool.name"), Key("gen_ai.tool.call.id")
ROLLOUT_ID, STATUS = Key("rollout_id"), Key("rolloutctl.status")
CATEGORY = Key("rolloutctl.error_category")
ATTEMPTS, DELIVERED = Key("rolloutctl.delivery.attempts"), Key("rolloutctl.delivery.delivered")
CHAT = span_head("chat default", CLIENT)
CHAT_ATTRIBUTES = encode_attributes(
    {"gen_ai.operation.name": "chat", "gen_ai.request.model": "default"}
)
DELIVERY = span_head("deliver completion", CLIENT)
UNDELIVERED = encode_status(2, "completion not delivered")
ENDED = span_tail(b"", UNSET_STATUS, False)  # a local child's tail without events or error
_CACHED = 1024  # tool names, models and statuses whose encoded attributes are kept


@functools.cache  # one agent per server
def rollout_span(agent: str) -> tuple[bytes, bytes]:
    """The head and constant attributes of a rollout's span."""
    attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent}
    return span_head(f"invoke_agent {agent}", SERVER), encode_attributes(attributes)


@functools.lru_cache(_CACHED)
def tool_span(name: str) -> tuple[bytes, bytes]:
    """The head and the name attributes of a tool's span."""
    operation = encode_attributes({"gen_ai.operation.name": "execute_tool"})
    return span_head(f"execute_tool {name}", INTERNAL), operation + _TOOL(name)


@functools.lru_cache(_CACHED)
def cached(key: Key, value: str | bool) -> bytes:
    """An attribute whose values repeat (a model, a status), encoded once per value."""
    return key(value)


def failure(kind: str, message: str) -> tuple[bytes, bytes]:
    """The `error.type` attribute and the ERROR status of a span that failed."""
    return ERROR_TYPE(kind), encode_status(2, message[:200])


def usage(response: dict[str, Any]) -> bytes:
    """GenAI usage attributes from what the trainer answered, when it said."""
    attributes = b""
    found = response.get("usage")
    if isinstance(found, dict):
        tokens = found.get("prompt_tokens")
        if isinstance(tokens, int):
            attributes += _INPUT(tokens)
        tokens = found.get("completion_tokens")
        if isinstance(tokens, int):
            attributes += _OUTPUT(tokens)
    model = response.get("model")
    return attributes + cached(_MODEL, model) if isinstance(model, str) else attributes
