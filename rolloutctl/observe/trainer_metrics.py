"""The mock trainer's Prometheus metrics: what it was asked, and what it found wrong.

Labels: `replica` (host:pid) on every series; the HTTP status answered, the
violation rule (a fixed set in `rolloutctl.trainer.violations`) and the policy name.
"""

from __future__ import annotations

import functools

from rolloutctl.observe.labels import replica_name
from rolloutctl.observe.server_metrics import CALL_BUCKETS, Described, define, registry_of
from rolloutctl.observe.tallies import Counter, Histogram, Tallies

__all__ = ["TrainerMetrics"]


class TrainerMetrics:
    """Counters of one mock trainer, served by a registry of its own."""

    def __init__(self, policy: str) -> None:
        tallies = Tallies()
        self.replica = replica_name()
        self.described: list[Described] = []
        metric = functools.partial(define, self.described, tallies)
        self.chat_calls = metric(
            Counter,
            "rolloutctl_trainer_chat_calls",
            "Chat calls answered, by HTTP status.",
            ("replica", "status"),
        )
        self.completions = metric(
            Counter,
            "rolloutctl_trainer_completions",
            "Completion posts answered, by HTTP status (200: received).",
            ("replica", "status"),
        )
        self.violations = metric(
            Counter,
            "rolloutctl_trainer_violations",
            "Protocol violations found in what servers sent, by rule.",
            ("replica", "rule"),
        )
        self.policy_seconds = metric(
            Histogram,
            "rolloutctl_trainer_policy_duration_seconds",
            "Time the policy took to answer one chat call (injected latency excluded).",
            ("replica", "policy"),
            buckets=CALL_BUCKETS,
        ).labels(self.replica, policy)
        self.registry = registry_of(tallies)

    def answered(self, completed: bool, status: int) -> None:
        counter = self.completions if completed else self.chat_calls
        counter.labels(self.replica, str(status)).inc()

    def violation(self, rule: str) -> None:
        self.violations.labels(self.replica, rule).inc()
