"""What a bench run found, as one record (`BenchResult`), and whether it passed.

Every count is of the measured rollouts only (warm-up excluded), and they add up:
`rollouts = accepted + refused + init_errors` and `accepted = completed + errors + lost`.
`report` shows a result to people; `to_json` is the record machines read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["BUSY", "BenchResult", "passed"]

BUSY = 0.9  # a process using this share of one core or more is taken as the bound


@dataclass
class BenchResult:
    server: str  # the URL, or what was spawned
    rollouts: int
    concurrency: int  # workers that ran: --concurrency, capped at the rollouts asked
    warmup: int
    llm_latency_ms: float
    fail_rate: float
    fail_completed_rate: float
    init_connections: int
    wall_s: float
    accepted: int
    completed: int  # COMPLETED completions
    errors: int  # ERROR completions
    lost: int  # accepted, but no completion arrived (even after the final wait)
    refused: int  # init answered with something other than 202
    init_errors: int  # init not delivered at all
    duplicates: int  # second completions for one rollout
    violations: int  # protocol violations the mock trainer saw, duplicates included
    violation_rules: dict[str, int] = field(default_factory=dict)
    error_categories: dict[str, int] = field(default_factory=dict)
    rollouts_per_s: float = 0.0  # delivered / wall_s: refused and lost rollouts do not count
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50 p95 p99 max
    # per turn (llm, tool, overhead) and per rollout (protocol): p50 p95 p99 max, in ms
    turn_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    # what the server's /metrics counted over the run (rolloutctl.observe.scrape); {}
    # when it offers none
    server_metrics: dict[str, float | None] = field(default_factory=dict)
    server_cpu_ms_per_rollout: float | None = None
    server_cpu_share: float | None = None  # of one core, over the run
    server_rss_before_mib: float | None = None
    server_rss_after_mib: float | None = None
    server_rss_peak_mib: float | None = None
    bench_cpu_ms_per_rollout: float = 0.0  # the mock trainer and the load generator
    bench_cpu_share: float = 0.0
    cpu_count: int = 1
    replicas: int = 1  # server processes (behind the bench's balancer when spawned)
    store: str | None = None  # where spawned servers keep records: memory or a Redis URL
    store_round_trips_per_rollout: float | None = None  # None: the store is not shared
    machine_cpu_busy: float | None = None  # cores busy on the whole machine, on average
    other_cpu_busy: float | None = None  # of which neither the server nor the bench

    @property
    def delivered(self) -> int:
        return self.completed + self.errors

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "delivered": self.delivered, "bound": self.bound()}

    def bound(self) -> str:
        """Which side limited throughput, judged from CPU shares (a hint, not a proof)."""
        if not self.delivered:
            return "nothing delivered"
        turns_ms = 2 * self.llm_latency_ms  # each rollout waits two LLM turns
        if turns_ms and self.latency_ms.get("p50", 0.0) <= 1.5 * turns_ms:
            return "llm latency"
        shares = {"server": self.server_cpu_share or 0.0, "bench": self.bench_cpu_share}
        busiest = max(shares, key=shares.__getitem__)
        if shares[busiest] >= BUSY:
            return f"{busiest} cpu"
        busy = self.machine_cpu_busy or sum(shares.values())
        if busy >= BUSY * self.cpu_count:
            shared = (self.other_cpu_busy or 0.0) >= 1 - BUSY
            return "machine cpu (shared with other processes)" if shared else "machine cpu"
        return "concurrency (neither side busy)"


def passed(result: BenchResult) -> bool:
    """Every accepted rollout delivered exactly once, per the protocol (ERRORs allowed)."""
    return not (
        result.lost
        or result.duplicates
        or result.violations
        or result.refused
        or result.init_errors
    )
