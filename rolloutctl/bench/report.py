"""A bench run for people: its result as rows of a rich table, and the progress bar.

The record itself, its JSON and whether it passed are `result`'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rolloutctl.bench.result import BUSY, BenchResult, passed
from rolloutctl.observe.scrape import server_rows

__all__ = [  # BUSY, BenchResult and passed were defined here first
    "BUSY",
    "BenchResult",
    "passed",
    "progress_bar",
    "result_rows",
]


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
        ("workload", _workload(result)),
        ("servers", _servers(result)),
        ("throughput", _throughput(result)),
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


def _workload(result: BenchResult) -> str:
    """What ran: the init limit is named only where it held back the workers."""
    inits = result.init_connections
    limit = f", at most {inits} inits at once" if inits < result.concurrency else ""
    return (
        f"{result.rollouts} rollouts at {result.concurrency} concurrent "
        f"(+{result.warmup} warm-up{limit}), LLM latency {result.llm_latency_ms:g} ms, "
        f"fail rates {result.fail_rate:g} / {result.fail_completed_rate:g}"
    )


def _throughput(result: BenchResult) -> str:
    """Delivered rollouts (COMPLETED or ERROR) per second: a refused init is no throughput."""
    if not result.delivered:
        return f"none: 0 of {result.rollouts} rollouts delivered"
    return (
        f"{result.rollouts_per_s:,.1f} rollouts/s: {result.delivered} of {result.rollouts} "
        f"delivered in {_seconds(result.wall_s)}"
    )


def _seconds(value: float) -> str:
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:,.2f} s"


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
def progress_bar(console: Console) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on `console` while the block runs; yields the bench's callback,
    or None when `console` is no terminal: rich would draw nothing there, then end with
    a blank line (Progress.stop), which does not belong in a log or a pipe."""
    if not console.is_interactive:
        yield None
        return
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
