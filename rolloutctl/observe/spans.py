"""The spans of one sampled rollout: the rollout's own, and one child per call it makes.

Every chat call is its own span, opened as the call starts (so its `traceparent` goes
with it) and ended, closed, when the call returns or fails. Calls an agent makes at
once (`asyncio.gather`) each run in a task of their own, so the open calls are kept by
task and never share a span. A tool's span is made when the tool ends, with the start
it had; the rollout's span ends after its delivery. Each span is encoded once, when it
ends, in one join (`otlp_wire.encode_span`): the bytes every span of a kind shares
(`span_attributes`), and those every span of the rollout shares, are encoded once
beforehand.
"""

from __future__ import annotations

import asyncio
import binascii
import time
from typing import TYPE_CHECKING, Any

from rolloutctl.observe.otlp_wire import (
    UNSET_STATUS,
    encode_event,
    encode_span,
    parent_field,
    span_tail,
)
from rolloutctl.observe.span_attributes import (
    ATTEMPTS,
    CALL_ID,
    CATEGORY,
    CHAT,
    CHAT_ATTRIBUTES,
    DELIVERED,
    DELIVERY,
    ENDED,
    ERROR_TYPE,
    ROLLOUT_ID,
    STATUS,
    UNDELIVERED,
    cached,
    failure,
    rollout_span,
    tool_span,
    usage,
)
from rolloutctl.observe.tracing import Begun
from rolloutctl.observe.watch import RolloutWatch

if TYPE_CHECKING:
    from rolloutctl.observe.observer import Observer
    from rolloutctl.observe.tracing import Tracing

__all__ = ["TracedWatch"]


class _Call:
    """A callback's span while it is open: its id, start, attributes, retries."""

    __slots__ = ("attributes", "events", "span", "start")

    def __init__(self, span: bytes) -> None:
        self.span, self.start = span, time.time_ns()
        self.attributes = self.events = b""  # attributes beyond those of its kind's spans


class TracedWatch(RolloutWatch):
    """A watch that also makes the rollout's spans (`begun`: its trace, its span id, its
    remote parent's)."""

    __slots__ = (
        "_after",
        "_attributes",
        "_before",
        "_calls",
        "_child",
        "_delivery",
        "_header",
        "_new_id",
        "_put",
        "_root",
        "_start",
        "_status",
    )

    def __init__(self, observer: Observer, tracing: Tracing, rollout_id: str, begun: Begun):
        super().__init__(observer)
        self._before, state, self._header, self._root, parent = begun
        self._child = state + parent_field(self._root)  # a child's fields after its id
        self._after = state + parent_field(parent), bool(parent)  # and the rollout's
        self._new_id, self._put = tracing.span_id, tracing.queue.put
        self._start, self._status = time.time_ns(), UNSET_STATUS
        self._attributes = ROLLOUT_ID(rollout_id)
        self._calls: dict[object, _Call] = {}  # the open chat calls, by the task making each
        self._delivery: _Call | None = None

    def opened(self, endpoint: str) -> bytes:
        """A callback starts: its span opens, and its `traceparent` goes with the call."""
        call = _Call(self._new_id())
        if endpoint == "chat":
            self._calls[asyncio.current_task()] = call
        else:
            self._delivery = call
        before, after = self._header
        return before + binascii.hexlify(call.span) + after

    def retried(self, endpoint: str, attempt: int) -> None:
        """A retry is an event of the call's span (a first try is not)."""
        call = self._calls.get(asyncio.current_task()) if endpoint == "chat" else self._delivery
        if call is not None:
            call.events += encode_event("retry", time.time_ns(), {"attempt": attempt})

    def answered(self, response: dict[str, Any]) -> None:
        call = self._calls.get(asyncio.current_task())
        if call is not None:
            call.attributes += usage(response)

    def llm_ended(self, seconds: float, error: BaseException | None) -> None:
        super().llm_ended(seconds, error)
        call = self._calls.pop(asyncio.current_task(), None)
        if call is None:  # the call failed before it was sent
            return
        if error is None:
            return self._end(CHAT, call, CHAT_ATTRIBUTES, UNSET_STATUS)
        failed, status = failure(type(error).__name__, str(error))
        self._end(CHAT, call, CHAT_ATTRIBUTES + failed, status)

    def tool_ended(self, call: dict[str, Any], content: str, seconds: float) -> str:
        name = super().tool_ended(call, content, seconds)
        head, attributes = tool_span(name)
        if call_id := call.get("id"):
            attributes += CALL_ID(str(call_id))
        tail = ENDED
        if content.startswith("Error: "):  # how a failed call reaches the model
            failed, status = failure("tool_error", content)
            attributes, tail = attributes + failed, span_tail(b"", status, False)
        end = time.time_ns()
        start = end - int(seconds * 1e9)
        span = self._new_id()
        self._put(encode_span(self._before, span, self._child, head, start, end, attributes, tail))
        return name

    def finished(self, status: str, category: str) -> None:
        super().finished(status, category)
        self._attributes += cached(STATUS, status)
        if category:
            failed, self._status = failure(category, f"rollout ended as ERROR ({category})")
            self._attributes += cached(CATEGORY, category) + failed

    def delivered(self, delivered: bool, attempts: int) -> None:
        call, self._delivery = self._delivery, None
        if call is not None:
            attributes = ATTEMPTS(attempts) + cached(DELIVERED, delivered)
            if delivered:
                self._end(DELIVERY, call, attributes, UNSET_STATUS)
            else:
                failed = ERROR_TYPE("delivery_failed")
                self._end(DELIVERY, call, attributes + failed, UNDELIVERED)
        super().delivered(delivered, attempts)

    def left(self) -> None:
        """The rollout's span ends with it."""
        super().left()
        head, attributes = rollout_span(self.observer.agent)
        (after, remote), times = self._after, (self._start, time.time_ns())
        tail = span_tail(b"", self._status, remote)
        attributes += self._attributes
        self._put(encode_span(self._before, self._root, after, head, *times, attributes, tail))

    def _end(self, head: bytes, call: _Call, attributes: bytes, status: bytes) -> None:
        """A callback's span ends now."""
        events = call.events
        tail = ENDED if status is UNSET_STATUS and not events else span_tail(events, status, False)
        attributes += call.attributes
        times = call.start, time.time_ns()
        self._put(encode_span(self._before, call.span, self._child, head, *times, attributes, tail))
