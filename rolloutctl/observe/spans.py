"""The spans of one sampled rollout: the rollout's own, and one child per call it makes.

Every chat call is its own span, opened as the call starts (so its `traceparent` goes
with it) and ended, closed, when the call returns or fails. Calls an agent makes at
once (`asyncio.gather`) each run in a task of their own, so the open calls are kept by
task and never share a span. A tool's span is made when the tool ends, with the start
it had; the rollout's span ends after its delivery. Attributes are plain dicts, set
once; each span becomes a `SpanRecord` of plain values when it ends (see `tracing`).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from rolloutctl.observe.tracing import (
    CLIENT,
    INTERNAL,
    SERVER,
    UNSET,
    SpanIds,
    Status,
    error_status,
)
from rolloutctl.observe.watch import RolloutWatch

if TYPE_CHECKING:
    from rolloutctl.observe.observer import Observer
    from rolloutctl.observe.tracing import Tracing

__all__ = ["TracedWatch"]

_USAGE = (("input_tokens", "prompt_tokens"), ("output_tokens", "completion_tokens"))
_CHAT = "chat default"


class _Call:
    """A callback's span while it is open: its context, start, attributes, retries."""

    __slots__ = ("attributes", "events", "span", "start")

    def __init__(self, span: SpanIds, attributes: dict[str, Any]) -> None:
        self.span, self.start, self.attributes = span, time.time_ns(), attributes
        self.events: tuple[tuple[str, int, dict[str, Any]], ...] = ()


def _usage(attributes: dict[str, Any], response: dict[str, Any]) -> None:
    """GenAI usage attributes from what the trainer answered, when it said."""
    found = response.get("usage")
    if isinstance(found, dict):
        for ours, theirs in _USAGE:
            value = found.get(theirs)
            if isinstance(value, int):
                attributes[f"gen_ai.usage.{ours}"] = value
    model = response.get("model")
    if isinstance(model, str):
        attributes["gen_ai.response.model"] = model


class TracedWatch(RolloutWatch):
    """A watch that also makes the rollout's spans (`span`: its ids, and its remote
    parent's id, 0 for none)."""

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
        span: tuple[SpanIds, int],
    ) -> None:
        super().__init__(observer)
        self.tracing, (self._root, self._parent) = tracing, span
        self._local = self._root.span_id, False  # the parent of the rollout's other spans
        self._start, self._status = time.time_ns(), UNSET
        self._attributes: dict[str, Any] = {
            "rollout_id": rollout_id,
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": observer.agent,
        }
        self._calls: dict[object, _Call] = {}  # the open chat calls, by the task making each
        self._delivery: _Call | None = None

    def opened(self, endpoint: str) -> bytes:
        """A callback starts: its span opens, and its `traceparent` goes with the call."""
        if endpoint == "chat":
            attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "default"}
            call = self._calls[asyncio.current_task()] = _Call(self._child(), attributes)
        else:
            call = self._delivery = _Call(self._child(), {})
        return self.tracing.header(call.span)

    def callback(self, endpoint: str, attempt: int, ok: bool | None) -> None:
        super().callback(endpoint, attempt, ok)
        call = self._calls.get(asyncio.current_task()) if endpoint == "chat" else self._delivery
        if attempt > 1 and call is not None:
            call.events += (("retry", time.time_ns(), {"attempt": attempt}),)

    def answered(self, response: dict[str, Any]) -> None:
        call = self._calls.get(asyncio.current_task())
        if call is not None:
            _usage(call.attributes, response)

    def llm_ended(self, seconds: float, error: BaseException | None) -> None:
        super().llm_ended(seconds, error)
        call = self._calls.pop(asyncio.current_task(), None)
        if call is None:  # the call failed before it was sent
            return
        status = UNSET
        if error is not None:
            call.attributes["error.type"] = type(error).__name__
            status = error_status(str(error))
        self._end(_CHAT, call, status)

    def tool_ended(self, call: dict[str, Any], content: str, seconds: float) -> str:
        name = super().tool_ended(call, content, seconds)
        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
        if call_id := call.get("id"):
            attributes["gen_ai.tool.call.id"] = str(call_id)
        status = UNSET
        if content.startswith("Error: "):  # how a failed call reaches the model
            attributes["error.type"] = "tool_error"
            status = error_status(content)
        end = time.time_ns()
        times = end - int(seconds * 1e9), end
        self.tracing.ended(
            f"execute_tool {name}", INTERNAL, self._child(), self._local, times, attributes, (),
            status,
        )  # fmt: skip
        return name

    def finished(self, status: str, category: str) -> None:
        super().finished(status, category)
        self._attributes["rolloutctl.status"] = status
        if category:
            self._attributes["rolloutctl.error_category"] = category
            self._attributes["error.type"] = category
            self._status = error_status(f"rollout ended as ERROR ({category})")

    def delivered(self, delivered: bool, attempts: int) -> None:
        call, self._delivery = self._delivery, None
        if call is not None:
            call.attributes["rolloutctl.delivery.attempts"] = attempts
            call.attributes["rolloutctl.delivery.delivered"] = delivered
            status = UNSET
            if not delivered:
                call.attributes["error.type"] = "delivery_failed"
                status = error_status("completion not delivered")
            self._end("deliver completion", call, status)
        super().delivered(delivered, attempts)

    def left(self) -> None:
        """The rollout's span ends with it."""
        super().left()
        times = self._start, time.time_ns()
        parent = self._parent, self._parent != 0
        name, attributes = self.observer.root_name, self._attributes
        self.tracing.ended(name, SERVER, self._root, parent, times, attributes, (), self._status)

    def _child(self) -> SpanIds:
        return self.tracing.child(self._root)

    def _end(self, name: str, call: _Call, status: Status) -> None:
        times = call.start, time.time_ns()
        self.tracing.ended(
            name, CLIENT, call.span, self._local, times, call.attributes, call.events, status
        )
