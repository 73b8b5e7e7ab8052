"""One rollout's figures and spans, from acceptance to delivery.

With tracing off a watch makes no span objects at all: it only counts and times.
Spans of calls the server makes (chat, the completion's delivery) open before the
call, so that their `traceparent` goes with it; a tool's span is made when it ends,
with the start time it had.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from rolloutctl.observe.observer import Observer
    from rolloutctl.observe.tracing import Tracing

__all__ = ["RolloutWatch"]

_QUEUED, _RUNNING, _DONE = 0, 1, 2


class RolloutWatch:
    """Counts and times one rollout for `observer`; spans when it traces."""

    __slots__ = ("_chat", "_delivery", "observer", "span", "started_at", "state", "tracing")

    def __init__(self, observer: Observer, rollout_id: str, parent: bytes | None) -> None:
        self.observer, self.started_at, self.state = observer, time.perf_counter(), _QUEUED
        self.tracing: Tracing | None = observer.tracing
        self.span: Span | None = None
        self._chat: Span | None = None
        self._delivery: Span | None = None
        if self.tracing is not None:
            attributes = {
                "rollout_id": rollout_id,
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": observer.agent,
            }
            span = self.tracing.root(f"invoke_agent {observer.agent}", parent, attributes)
            if span.is_recording():
                self.span = span
            else:  # sampled out: no child spans, no headers, no further cost
                self.tracing = None

    def started_running(self) -> None:
        """The rollout got a slot: queued no more."""
        self.observer.queued -= 1
        self.observer.running_now += 1
        self.state = _RUNNING

    def _leave(self) -> None:
        observer = self.observer
        if self.state == _QUEUED:
            observer.queued -= 1
        elif self.state == _RUNNING:
            observer.running_now -= 1
        self.state = _DONE
        observer.open.pop(self, None)

    def opened(self, endpoint: str) -> bytes:
        """A callback starts: its span, and the `traceparent` line that names it."""
        tracing = self.tracing
        if tracing is None:
            return b""
        if endpoint == "chat":
            attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "default"}
            span = self._chat = tracing.child(self.span, "chat default", "CLIENT", attributes)
        else:
            span = self._delivery = tracing.child(self.span, "deliver completion", "CLIENT", {})
        return tracing.header(span)

    def callback(self, endpoint: str, attempt: int, ok: bool | None) -> None:
        """One try of a callback (see `CallWatch.callback`)."""
        attempts, retries, failures = self.observer.callbacks[endpoint]
        attempts.inc()
        if attempt > 1:
            retries.inc()
            span = self._chat if endpoint == "chat" else self._delivery
            if span is not None:
                span.add_event("retry", {"attempt": attempt})
        if ok is False:
            failures.inc()

    def answered(self, response: dict[str, Any]) -> None:
        if self.tracing is not None:
            self.tracing.usage(self._chat, response)

    def llm_ended(self, seconds: float, error: BaseException | None) -> None:
        self.observer.metrics.llm_seconds.observe(seconds)
        span, self._chat = self._chat, None
        if span is not None and self.tracing is not None:
            if error is not None:
                self.tracing.failed(span, type(error).__name__, str(error))
            span.end()

    def tool_ended(self, call: dict[str, Any], content: str, seconds: float) -> None:
        name = str((call.get("function") or {}).get("name"))
        self.observer.tool_series(name).observe(seconds)
        if self.tracing is not None:
            self.tracing.tool_span(self.span, name, str(call.get("id") or ""), content, seconds)

    def finished(self, status: str, category: str) -> None:
        """The completion is built: count it; delivery follows."""
        self._leave()
        metrics = self.observer.metrics
        metrics.rollout_seconds.observe(time.perf_counter() - self.started_at)
        self.observer.series(metrics.completed, status, category).inc()
        if self.tracing is not None and self.span is not None:
            self.span.set_attribute("rolloutctl.status", status)
            if category:
                self.span.set_attribute("rolloutctl.error_category", category)
                self.tracing.failed(self.span, category, f"rollout ended as ERROR ({category})")

    def delivered(self, delivered: bool, attempts: int) -> None:
        """Delivery ended: its span and the rollout's end."""
        if self.state != _DONE:
            self._leave()
        span, self._delivery = self._delivery, None
        if span is not None and self.tracing is not None:
            span.set_attribute("rolloutctl.delivery.attempts", attempts)
            span.set_attribute("rolloutctl.delivery.delivered", delivered)
            if not delivered:
                self.tracing.failed(span, "delivery_failed", "completion not delivered")
            span.end()
        if self.span is not None:
            self.span.end()
