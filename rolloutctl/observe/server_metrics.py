"""The RolloutServer's Prometheus metrics, in a registry of its own.

Every series carries `agent` and `replica` (host:pid) and otherwise only labels with a
few known values (HTTP status, error category, endpoint, store kind) or bounded ones
(tool names, capped by `BoundedNames`): never a rollout id, a URL or a message.
The numbers are plain ones (`tallies`), served through prometheus-client's registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from rolloutctl.observe.labels import BoundedNames, replica_name
from rolloutctl.observe.tallies import Counter, Gauge, Histogram, Tallies

__all__ = ["CALL_BUCKETS", "ROLLOUT_BUCKETS", "Described", "ServerMetrics", "define", "registry_of"]

ROLLOUT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
CALL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_BASE = ("agent", "replica")
Described = tuple[str, str, tuple[str, ...], str]  # name as exposed, type, labels, help


def define[M: (Counter, Gauge, Histogram)](
    described: list[Described],
    tallies: Tallies,
    kind: type[M],
    name: str,
    doc: str,
    labels: tuple[str, ...],
    **kwargs: tuple[float, ...],
) -> M:
    """A metric counted in `tallies`, noted in `described` (the docs' table is made from it)."""
    exposed = f"{name}_total" if kind is Counter else name
    described.append((exposed, kind.__name__.lower(), labels, doc))
    metric = kind(name, doc, labels, **kwargs)
    tallies.families.append(metric)
    return metric


def registry_of(tallies: Tallies) -> CollectorRegistry:
    """A registry of its own serving `tallies`."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(tallies)
    return registry


class ServerMetrics:
    """What `/metrics` shows for one server; `registry` is what it serves."""

    def __init__(self, agent: str) -> None:
        self.tallies = Tallies()
        self.base = (agent, replica_name())
        self.described: list[Described] = []
        self.tool_name = BoundedNames(100)
        self._define_rollouts()
        self._define_calls()
        self._define_process()
        self.registry = registry_of(self.tallies)

    def _metric[M: (Counter, Gauge, Histogram)](
        self, kind: type[M], name: str, doc: str, *labels: str, **kwargs: tuple[float, ...]
    ) -> M:
        return define(self.described, self.tallies, kind, name, doc, (*_BASE, *labels), **kwargs)

    def _define_rollouts(self) -> None:
        self.accepted = self._metric(
            Counter, "rolloutctl_rollouts_accepted", "Inits answered 202 that started a rollout."
        ).labels(*self.base)
        self.refused = self._metric(
            Counter, "rolloutctl_rollouts_refused", "Inits refused, by HTTP status.", "status"
        )
        self.completed = self._metric(
            Counter,
            "rolloutctl_rollouts_completed",
            "Rollouts ended, by status (COMPLETED or ERROR) and error category.",
            "status",
            "category",
        )
        self.in_flight = self._metric(
            Gauge, "rolloutctl_rollouts_in_flight", "Rollouts running their agent now."
        ).labels(*self.base)
        self.queued = self._metric(
            Gauge, "rolloutctl_rollouts_queued", "Accepted rollouts waiting for a slot."
        ).labels(*self.base)
        self.oldest = self._metric(
            Gauge, "rolloutctl_oldest_in_flight_seconds", "Age of the oldest unfinished rollout."
        ).labels(*self.base)
        self.rollout_seconds = self._metric(
            Histogram,
            "rolloutctl_rollout_duration_seconds",
            "Accepted to completion built, queueing included.",
            buckets=ROLLOUT_BUCKETS,
        ).labels(*self.base)

    def _define_calls(self) -> None:
        self.llm_seconds = self._metric(
            Histogram,
            "rolloutctl_llm_call_duration_seconds",
            "One chat call's round trip to the trainer, retries included.",
            buckets=CALL_BUCKETS,
        ).labels(*self.base)
        self.tool_seconds = self._metric(
            Histogram,
            "rolloutctl_tool_call_duration_seconds",
            "One tool call, by tool (at most 100 names, the rest as `other`).",
            "tool",
            buckets=CALL_BUCKETS,
        )
        endpoint = "endpoint"
        self.callback_attempts = self._metric(
            Counter, "rolloutctl_callback_attempts", "HTTP tries of trainer callbacks.", endpoint
        )
        self.callback_retries = self._metric(
            Counter, "rolloutctl_callback_retries", "Tries that were retries.", endpoint
        )
        self.callback_failures = self._metric(
            Counter,
            "rolloutctl_callback_failures",
            "Callbacks that failed for good (for `completed`: a lost delivery).",
            endpoint,
        )
        self.store_seconds = self._metric(
            Histogram,
            "rolloutctl_store_round_trip_seconds",
            "Round trips to the record store (its count is the number of round trips).",
            "store",
            buckets=CALL_BUCKETS,
        )
        self.store_errors = self._metric(
            Counter, "rolloutctl_store_errors", "Record-store round trips that failed.", "store"
        )

    def _define_process(self) -> None:
        self.loop_lag = self._metric(
            Histogram,
            "rolloutctl_event_loop_lag_seconds",
            "How much later than asked a 0.25 s sleep on the event loop woke.",
            buckets=LAG_BUCKETS,
        ).labels(*self.base)
        self.spans_dropped = self._metric(
            Counter, "rolloutctl_spans_dropped", "Trace spans dropped: the export queue was full."
        ).labels(*self.base)
        self.span_export_failures = self._metric(
            Counter,
            "rolloutctl_span_export_failures",
            "Spans in export batches the receiver did not take.",
        ).labels(*self.base)
