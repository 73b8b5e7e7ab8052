"""The figures of one bench phase: outcome tallies, latency percentiles, CPU and memory.

Kept apart from the load loop in `driver.py` so that what is counted, and how a cost
is worked out from /proc samples, can be read (and tested) on its own.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rolloutctl.bench.breakdown import Breakdown, percentiles
from rolloutctl.bench.procstats import MIB, ProcSample
from rolloutctl.bench.result import BenchResult
from rolloutctl.errors import InitError, InitRefused
from rolloutctl.trainer import RolloutHandle

__all__ = ["Phase", "add_costs", "add_machine", "percentiles"]


class Phase:
    """One closed-loop pass (warm-up or measured): hands out indices, tallies outcomes."""

    def __init__(self, prefix: str, total: int) -> None:
        self.prefix, self.total = prefix, total
        self.taken = self.finished = self.refused = self.init_errors = 0
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.categories: Counter[str] = Counter()
        self.unanswered: list[RolloutHandle] = []
        self.times = Breakdown()  # where each turn's time went

    def take(self) -> int | None:
        if self.taken >= self.total:
            return None
        self.taken += 1
        return self.taken - 1

    def init_failed(self, error: InitError) -> None:
        """An init that got no 202: refused by the server, or never delivered."""
        if isinstance(error, InitRefused):
            self.refused += 1
        else:
            self.init_errors += 1

    def record(self, completion: dict[str, Any], seconds: float) -> None:
        self.latencies.append(seconds * 1000)
        self.statuses[completion.get("status", "?")] += 1
        if completion.get("status") == "ERROR":
            category = (completion.get("extra_fields") or {}).get("error_category", "?")
            self.categories[str(category)] += 1


def add_costs(
    result: BenchResult,
    server: tuple[ProcSample | None, ProcSample | None],
    own: tuple[ProcSample | None, ProcSample | None],
    peak: int | None,
) -> None:
    """CPU per rollout and share of a core for both processes, the server's RSS in MiB."""
    count, wall = max(result.rollouts, 1), max(result.wall_s, 1e-9)
    before, after = server
    if before and after:
        spent = after.cpu_s - before.cpu_s
        result.server_cpu_ms_per_rollout = spent * 1000 / count
        result.server_cpu_share = spent / wall
        result.server_rss_before_mib = before.rss_bytes / MIB
        result.server_rss_after_mib = after.rss_bytes / MIB
        result.server_rss_peak_mib = (peak or after.rss_bytes) / MIB
    if own[0] and own[1]:
        spent = own[1].cpu_s - own[0].cpu_s
        result.bench_cpu_ms_per_rollout, result.bench_cpu_share = spent * 1000 / count, spent / wall


def add_machine(
    result: BenchResult, before: tuple[float, float] | None, after: tuple[float, float] | None
) -> None:
    """How busy the whole machine was, and how much of that was neither side of the bench."""
    if before is None or after is None or after[1] <= before[1]:
        return
    cores = result.cpu_count * (after[0] - before[0]) / (after[1] - before[1])
    result.machine_cpu_busy = cores
    ours = (result.server_cpu_share or 0.0) + result.bench_cpu_share
    result.other_cpu_busy = max(0.0, cores - ours)
