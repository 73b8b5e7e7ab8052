"""A server's observer: its metrics, its tracer if any, and the rollouts not yet ended.

It is one of the server's `RolloutObserver`s: each accepted rollout gets a
`RolloutWatch`, which also sees the rollout's callbacks (`Rollout.watch`). A server
with metrics and tracing both off has none, and pays nothing for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from rolloutctl.observe.hooks import RolloutObserver
from rolloutctl.observe.loop_lag import measure_lag
from rolloutctl.observe.watch import RolloutWatch

if TYPE_CHECKING:
    from rolloutctl.observe.server_metrics import ServerMetrics
    from rolloutctl.observe.spans import TracedWatch
    from rolloutctl.observe.trace_headers import TraceHeaders
    from rolloutctl.observe.tracing import Tracing
    from rolloutctl.server.callbacks import CallWatch, Delivery
    from rolloutctl.server.settings import ServerSettings

__all__ = [
    "ENDPOINT_VARIABLES",
    "METRICS_PATH",
    "Observed",
    "Observer",
    "observing",
    "tracing_wanted",
]

METRICS_PATH = "/metrics"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_wanted(settings: ServerSettings, environ: Mapping[str, str] = os.environ) -> bool:
    """`--otel`, an endpoint in the settings, or one in the OTLP variables."""
    if settings.otel or settings.otel_endpoint:
        return True
    return any(environ.get(name) for name in ENDPOINT_VARIABLES)


def observing(agent: str, settings: ServerSettings) -> Observer | None:
    """The observer `settings` ask for: None with metrics and tracing both off."""
    if not (settings.metrics or tracing_wanted(settings)):
        return None
    from rolloutctl.observe.server_metrics import ServerMetrics

    return Observer(agent, ServerMetrics(agent))


class Observed(Protocol):
    """What the observer reads of a rollout (`server.rollout.Rollout` is one)."""

    trace: TraceHeaders | None
    watch: CallWatch | None

    @property
    def rollout_id(self) -> str: ...


def _watch(rollout: Observed) -> RolloutWatch:
    return rollout.watch  # type: ignore[return-value]  # set at `accepted`


class Observer(RolloutObserver):
    """One server's figures: the metrics, the tracer (or None), the open rollouts."""

    def __init__(self, agent: str, metrics: ServerMetrics) -> None:
        self.agent, self.metrics = agent, metrics
        self.root_name = f"invoke_agent {agent}"  # the name of a rollout's span
        self.tracing: Tracing | None = None
        self._traced: type[TracedWatch] | None = None  # set with `tracing`
        self.queued = self.running_now = 0
        self.open: dict[RolloutWatch, None] = {}  # in order of acceptance: the first is oldest
        self._tools: dict[str, Any] = {}
        self.callbacks = {  # (attempts, retries, failures) of each endpoint, bound once
            endpoint: tuple(
                self.series(metric, endpoint)
                for metric in (
                    metrics.callback_attempts,
                    metrics.callback_retries,
                    metrics.callback_failures,
                )
            )
            for endpoint in ("chat", "completed")
        }
        metrics.queued.set_function(lambda: self.queued)
        metrics.in_flight.set_function(lambda: self.running_now)
        metrics.oldest.set_function(self.oldest_age)

    @contextlib.asynccontextmanager
    async def running(self, settings: ServerSettings) -> AsyncIterator[None]:
        """While the server runs: measure loop lag; export spans when tracing is wanted."""
        if tracing_wanted(settings):
            from rolloutctl.observe.spans import TracedWatch
            from rolloutctl.observe.tracing import Tracing

            dropped, failed = self.metrics.spans_dropped, self.metrics.span_export_failures
            self.tracing = Tracing(
                "rolloutctl", dropped.inc, failed.inc, settings.otel_endpoint, settings.otel_queue
            )
            self._traced = TracedWatch
        lag = asyncio.create_task(measure_lag(self.metrics.loop_lag))
        try:
            yield
        finally:
            lag.cancel()
            tracing, self.tracing = self.tracing, None
            if tracing is not None:  # exports what is queued, within a bound
                await asyncio.to_thread(tracing.shutdown)

    def series(self, metric: Any, *values: str) -> Any:
        """`metric`'s child for this server's base labels and `values` (made once, kept
        by the metric: `tallies`)."""
        return metric.labels(*self.metrics.base, *values)

    def tool_series(self, name: str) -> Any:
        """The tool histogram's child for `name` (past 100 names: `other`)."""
        child = self._tools.get(name)
        if child is None:
            bounded = self.metrics.tool_name(name)
            child = self.series(self.metrics.tool_seconds, bounded)
            if bounded == name:  # names past the bound are not kept, here either
                self._tools[name] = child
        return child

    def oldest_age(self) -> float:
        first = next(iter(self.open), None)
        return 0.0 if first is None else time.perf_counter() - first.started_at

    def refused(self, status: int) -> None:
        self.series(self.metrics.refused, str(status)).inc()

    def store_round_trip(self, store: str, seconds: float, ok: bool) -> None:
        self.series(self.metrics.store_seconds, store).observe(seconds)
        if not ok:
            self.series(self.metrics.store_errors, store).inc()

    def accepted(self, rollout: Observed) -> None:
        self.metrics.accepted.inc()
        self.queued += 1
        watch = self._watch_for(rollout)
        self.open[watch] = None
        rollout.watch = watch

    def _watch_for(self, rollout: Observed) -> RolloutWatch:
        """A traced watch when the sampler takes the rollout (asked first, before any span)."""
        tracing, traced = self.tracing, self._traced
        if tracing is not None and traced is not None:
            begun = tracing.begin(self.root_name, rollout.trace)
            if begun is not None:
                return traced(self, tracing, rollout.rollout_id, begun)
        return RolloutWatch(self)

    def started(self, rollout: Observed) -> None:
        _watch(rollout).started_running()

    def llm_call(self, rollout: Observed, seconds: float, error: BaseException | None) -> None:
        _watch(rollout).llm_ended(seconds, error)

    def tool_call(
        self, rollout: Observed, call: dict[str, Any], content: str, seconds: float
    ) -> None:
        _watch(rollout).tool_ended(call, content, seconds)

    def finished(self, rollout: Observed, payload: dict[str, Any]) -> None:
        category = (payload.get("extra_fields") or {}).get("error_category", "")
        _watch(rollout).finished(payload["status"], str(category))

    def delivered(self, rollout: Observed, delivery: Delivery) -> None:
        _watch(rollout).delivered(delivery.delivered, delivery.attempts)

    def left(self, rollout: Observed) -> None:
        """The rollout is over here without a delivery of ours (0.3: the SDK hands it over)."""
        _watch(rollout).left()
