"""One rollout's figures, from acceptance to delivery.

A `RolloutWatch` only counts and times; `rolloutctl.observe.spans.TracedWatch` adds the
spans of a rollout that is sampled, so a rollout that is not makes no span at all.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rolloutctl.observe.observer import Observer

__all__ = ["RolloutWatch"]

_QUEUED, _RUNNING, _DONE = 0, 1, 2


class RolloutWatch:
    """Counts and times one rollout for `observer`."""

    __slots__ = ("observer", "started_at", "state")

    def __init__(self, observer: Observer) -> None:
        self.observer, self.started_at, self.state = observer, time.perf_counter(), _QUEUED

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
        """A callback starts: the header lines it carries (none without a trace)."""
        return b""

    def callback(self, endpoint: str, attempt: int, ok: bool | None) -> None:
        """One try of a callback (see `CallWatch.callback`)."""
        attempts, retries, failures = self.observer.callbacks[endpoint]
        attempts.inc()
        if attempt > 1:
            retries.inc()
            self.retried(endpoint, attempt)
        if ok is False:
            failures.inc()

    def retried(self, endpoint: str, attempt: int) -> None:
        """Try `attempt` (2 or more) of a callback to `endpoint` ended (for a trace)."""

    def answered(self, response: dict[str, Any]) -> None:
        """The trainer's answer to a chat call (its usage, for a trace)."""

    def llm_ended(self, seconds: float, error: BaseException | None) -> None:
        self.observer.metrics.llm_seconds.observe(seconds)

    def tool_ended(self, call: dict[str, Any], content: str, seconds: float) -> str:
        """Time the tool under its (bounded) name; returns the name it was called by."""
        name = str((call.get("function") or {}).get("name"))
        self.observer.tool_series(name).observe(seconds)
        return name

    def finished(self, status: str, category: str) -> None:
        """The completion is built: count it; delivery follows."""
        self._leave()
        metrics = self.observer.metrics
        metrics.rollout_seconds.observe(time.perf_counter() - self.started_at)
        self.observer.series(metrics.completed, status, category).inc()

    def delivered(self, delivered: bool, attempts: int) -> None:
        """Delivery ended: the rollout has left the server."""
        self.left()

    def left(self) -> None:
        """Nothing of the rollout is left on this server (delivered, or handed over)."""
        if self.state != _DONE:
            self._leave()
