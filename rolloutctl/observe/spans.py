"""The spans of one sampled rollout: the rollout's own, and one child per call it makes.

Every chat call is its own span, opened as the call starts (so its `traceparent` goes
with it) and ended, closed, when the call returns or fails. Calls an agent makes at
once (`asyncio.gather`) each run in a task of their own, so the open calls are kept by
task and never share a span. A tool's span is made when the tool ends, with the start
it had; the rollout's span ends after its delivery. Each span is encoded once, when it
ends (see `tracing`); the attributes every span of a kind has are encoded once here.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import TYPE_CHECKING, Any

from rolloutctl.observe.otlp_wire import (
    UNSET_STATUS,
    Key,
    encode_attributes,
    encode_event,
    encode_status,
)
from rolloutctl.observe.tracing import CLIENT, INTERNAL, SERVER, Span
from rolloutctl.observe.watch import RolloutWatch

if TYPE_CHECKING:
    from rolloutctl.observe.observer import Observer
    from rolloutctl.observe.tracing import Tracing

__all__ = ["TracedWatch"]

_USAGE = (
    (Key("gen_ai.usage.input_tokens"), "prompt_tokens"),
    (Key("gen_ai.usage.output_tokens"), "completion_tokens"),
)
_MODEL, _ERROR_TYPE = Key("gen_ai.response.model"), Key("error.type")
_TOOL, _CALL_ID = Key("gen_ai.tool.name"), Key("gen_ai.tool.call.id")
_ROLLOUT_ID, _STATUS = Key("rollout_id"), Key("rolloutctl.status")
_CATEGORY = Key("rolloutctl.error_category")
_ATTEMPTS, _DELIVERED = Key("rolloutctl.delivery.attempts"), Key("rolloutctl.delivery.delivered")
_CHAT = "chat default"
_CHAT_ATTRIBUTES = encode_attributes(
    {"gen_ai.operation.name": "chat", "gen_ai.request.model": "default"}
)
_TOOL_ATTRIBUTES = encode_attributes({"gen_ai.operation.name": "execute_tool"})
_UNDELIVERED = encode_status(2, "completion not delivered")


@functools.cache  # one agent per server
def _agent_attributes(agent: str) -> bytes:
    return encode_attributes({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent})


def _error(kind: str, message: str) -> tuple[bytes, bytes]:
    """The `error.type` attribute and the ERROR status of a span that failed."""
    return _ERROR_TYPE(kind), encode_status(2, message[:200])


class _Call:
    """A callback's span while it is open: its ids, start, attributes, retries."""

    __slots__ = ("attributes", "events", "span", "start")

    def __init__(self, span: Span) -> None:
        self.span, self.start = span, time.time_ns()
        self.attributes = self.events = b""  # attributes beyond those of its kind's spans


def _usage(response: dict[str, Any]) -> bytes:
    """GenAI usage attributes from what the trainer answered, when it said."""
    attributes = b""
    found = response.get("usage")
    if isinstance(found, dict):
        for ours, theirs in _USAGE:
            value = found.get(theirs)
            if isinstance(value, int):
                attributes += ours(value)
    model = response.get("model")
    return attributes + _MODEL(model) if isinstance(model, str) else attributes


class TracedWatch(RolloutWatch):
    """A watch that also makes the rollout's spans (`span`: its ids, and its remote
    parent's span id, b"" for none)."""

    __slots__ = (
        "_attributes",
        "_calls",
        "_delivery",
        "_local",
        "_parent",
        "_root",
        "_start",
        "_status",
        "tracing",
    )

    def __init__(
        self,
        observer: Observer,
        tracing: Tracing,
        rollout_id: str,
        span: tuple[Span, bytes],
    ) -> None:
        super().__init__(observer)
        self.tracing, (self._root, parent) = tracing, span
        self._parent = parent, True  # a remote parent, when there is one
        self._local = self._root[1], False  # the parent of the rollout's other spans
        self._start, self._status = time.time_ns(), UNSET_STATUS
        self._attributes = _ROLLOUT_ID(rollout_id)
        self._calls: dict[object, _Call] = {}  # the open chat calls, by the task making each
        self._delivery: _Call | None = None

    def opened(self, endpoint: str) -> bytes:
        """A callback starts: its span opens, and its `traceparent` goes with the call."""
        call = _Call(self.tracing.child(self._root[0]))
        if endpoint == "chat":
            self._calls[asyncio.current_task()] = call
        else:
            self._delivery = call
        return self.tracing.header(call.span)

    def callback(self, endpoint: str, attempt: int, ok: bool | None) -> None:
        super().callback(endpoint, attempt, ok)
        if attempt == 1:  # a retry is an event of the call's span; a first try is not
            return
        call = self._calls.get(asyncio.current_task()) if endpoint == "chat" else self._delivery
        if call is not None:
            call.events += encode_event("retry", time.time_ns(), {"attempt": attempt})

    def answered(self, response: dict[str, Any]) -> None:
        call = self._calls.get(asyncio.current_task())
        if call is not None:
            call.attributes += _usage(response)

    def llm_ended(self, seconds: float, error: BaseException | None) -> None:
        super().llm_ended(seconds, error)
        call = self._calls.pop(asyncio.current_task(), None)
        if call is None:  # the call failed before it was sent
            return
        attributes, status = _CHAT_ATTRIBUTES, UNSET_STATUS
        if error is not None:
            failed, status = _error(type(error).__name__, str(error))
            attributes += failed
        self._end(_CHAT, call, attributes, status)

    def tool_ended(self, call: dict[str, Any], content: str, seconds: float) -> str:
        name = super().tool_ended(call, content, seconds)
        encoded, status = _TOOL_ATTRIBUTES + _TOOL(name), UNSET_STATUS
        if call_id := call.get("id"):
            encoded += _CALL_ID(str(call_id))
        if content.startswith("Error: "):  # how a failed call reaches the model
            failed, status = _error("tool_error", content)
            encoded += failed
        end = time.time_ns()
        times = end - int(seconds * 1e9), end
        span = self.tracing.child(self._root[0])
        self.tracing.ended(
            f"execute_tool {name}", INTERNAL, span, self._local, times, encoded, b"", status
        )
        return name

    def finished(self, status: str, category: str) -> None:
        super().finished(status, category)
        self._attributes += _STATUS(status)
        if category:
            failed, self._status = _error(category, f"rollout ended as ERROR ({category})")
            self._attributes += _CATEGORY(category) + failed

    def delivered(self, delivered: bool, attempts: int) -> None:
        call, self._delivery = self._delivery, None
        if call is not None:
            attributes, status = _ATTEMPTS(attempts) + _DELIVERED(delivered), UNSET_STATUS
            if not delivered:
                attributes, status = attributes + _ERROR_TYPE("delivery_failed"), _UNDELIVERED
            self._end("deliver completion", call, attributes, status)
        super().delivered(delivered, attempts)

    def left(self) -> None:
        """The rollout's span ends with it."""
        super().left()
        times = self._start, time.time_ns()
        attributes = _agent_attributes(self.observer.agent) + self._attributes
        name, root = self.observer.root_name, self._root
        self.tracing.ended(name, SERVER, root, self._parent, times, attributes, b"", self._status)

    def _end(self, name: str, call: _Call, attributes: bytes, status: bytes) -> None:
        times = call.start, time.time_ns()
        attributes += call.attributes
        self.tracing.ended(
            name, CLIENT, call.span, self._local, times, attributes, call.events, status
        )
