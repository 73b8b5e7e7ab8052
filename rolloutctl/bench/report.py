"""What a bench run found, as one record: a rich table for people, JSON for machines.

Every count is of the measured rollouts only (warm-up excluded), and they add up:
`rollouts = accepted + refused + init_errors` and `accepted = completed + errors + lost`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rolloutctl.observe.scrape import server_rows

__all__ = ["BUSY", "BenchResult", "passed", "progress_bar", "result_rows"]

BUSY = 0.9  # a process using this share of one core or more is taken as the bound


@dataclass
class BenchResult:
    server: str  # the URL, or what was spawned
    rollouts: int
    concurrency: int
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
    rollouts_per_s: float = 0.0
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


def _num(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}% of a core"


def _counts(result: BenchResult) -> str:
    return (
        f"{result.accepted} accepted: {result.completed} completed, {result.errors} ERROR, "
        f"{result.lost} lost; {result.refused} refused, {result.init_errors} init failed"
    )


def result_rows(result: BenchResult) -> list[tuple[str, str]]:
    """The human summary: throughput, latency, costs, and everything that went wrong."""
    latency = result.latency_ms
    rows = [
        (
            "workload",
            f"{result.rollouts} rollouts at {result.concurrency} concurrent "
            f"(+{result.warmup} warm-up, at most {result.init_connections} inits at once), "
            f"LLM latency {result.llm_latency_ms:g} ms, "
            f"fail rates {result.fail_rate:g} / {result.fail_completed_rate:g}",
        ),
        ("servers", _servers(result)),
        ("throughput", f"{result.rollouts_per_s:,.1f} rollouts/s over {result.wall_s:.2f} s"),
        (
            "latency e2e",
            " ".join(f"{k} {_num(latency.get(k), ' ms', 0)}" for k in ("p50", "p95", "p99", "max")),
        ),
        *_turn_rows(result.turn_ms),
        *server_rows(result.server_metrics),
        ("rollouts", _counts(result)),
        ("duplicates", str(result.duplicates)),
        ("violations", _violations(result)),
        (
            "server cpu",
            f"{_num(result.server_cpu_ms_per_rollout, ' ms')} per rollout, "
            f"{_share(result.server_cpu_share)}",
        ),
        (
            "server rss",
            f"{_num(result.server_rss_before_mib, ' MiB')} before, "
            f"{_num(result.server_rss_after_mib, ' MiB')} after, "
            f"{_num(result.server_rss_peak_mib, ' MiB')} peak",
        ),
        (
            "bench cpu",
            f"{_num(result.bench_cpu_ms_per_rollout, ' ms')} per rollout, "
            f"{_share(result.bench_cpu_share)} (mock trainer + load generator, "
            f"{result.cpu_count} cores in all)",
        ),
        ("machine", _machine(result)),
        ("bound by", result.bound()),
    ]
    if result.error_categories:
        rows.insert(4, ("error kinds", _pairs(result.error_categories)))
    return rows


_TURN_ROWS = (
    ("turn llm", "llm", "the trainer's own time per chat call"),
    ("turn tools", "tool", "tool time per turn"),
    ("turn server", "overhead", "the rest of each turn: server and HTTP"),
    ("protocol", "protocol", "per rollout: all but LLM and tool time"),
)


def _turn_rows(turn_ms: dict[str, dict[str, float]]) -> list[tuple[str, str]]:
    """Where the time of a turn goes (bench's split; see rolloutctl.bench.breakdown)."""
    rows = []
    for label, part, meaning in _TURN_ROWS:
        figures = turn_ms.get(part)
        if figures:
            shown = " ".join(f"{k} {figures[k]:,.1f} ms" for k in ("p50", "p95", "p99"))
            rows.append((label, f"{shown} ({meaning})"))
    return rows


def _servers(result: BenchResult) -> str:
    trips = result.store_round_trips_per_rollout
    shared = "none" if trips is None else f"{trips:.2f}"
    return (
        f"{result.replicas} process(es), records in {result.store or 'n/a'}, "
        f"store round-trips per rollout {shared}"
    )


def _machine(result: BenchResult) -> str:
    if result.machine_cpu_busy is None:
        return "n/a"
    return (
        f"{result.machine_cpu_busy:.2f} of {result.cpu_count} cores busy, "
        f"{_num(result.other_cpu_busy, digits=2)} of them by other processes"
    )


def _violations(result: BenchResult) -> str:
    if not result.violations:
        return "0"
    return f"{result.violations} ({_pairs(result.violation_rules)})"


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))


@contextlib.contextmanager
def progress_bar(console: Console) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on `console` while the block runs; yields the bench's callback."""
    columns = (
        TextColumn("rollouts"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("•"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("bench", total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def passed(result: BenchResult) -> bool:
    """Every accepted rollout delivered exactly once, per the protocol (ERRORs allowed)."""
    return not (
        result.lost
        or result.duplicates
        or result.violations
        or result.refused
        or result.init_errors
    )
