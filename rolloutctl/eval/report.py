"""The end-of-run summary: its (label, value) rows, for `report_table.print_rows`."""

from __future__ import annotations

from typing import Any

from rolloutctl.observe.scrape import server_rows
from rolloutctl.trajectory.summary import format_ms

__all__ = [
    "summary_rows",
]

FAILED_SHOWN = 20


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs; what is unknown (no rewards, no latencies) is left out."""
    rows = [
        ("run", str(summary.get("run_dir", ""))),
        ("rollouts", f"{summary['rollouts']} ({summary['rows']} rows)"),
        ("outcomes", _counts(summary.get("outcomes") or {})),
        ("status", _counts(summary["status"])),
        ("error categories", _counts(summary["error_categories"])),
        ("finish reasons", _counts(summary["finish_reasons"])),
        ("reward", _reward(summary.get("reward"))),
        *_pass_rows(summary.get("pass")),
        ("latency", _latency(summary.get("latency_ms") or {})),
        ("per rollout", _per_rollout(summary)),
        ("violations", str(summary["violations"])),
        ("slowest rows", _slowest(summary["slowest"])),
        ("failed rows", _failed(summary["failed_rows"])),
        *server_rows((summary.get("this_session") or {}).get("server_metrics") or {}),
    ]
    if summary.get("skipped_rows"):
        rows.insert(2, ("skipped rows", f"{summary['skipped_rows']} bad rows (--skip-bad-rows)"))
    if summary.get("interrupted"):
        rows.insert(1, ("interrupted", "yes: the rows not listed here were not run"))
    elif summary.get("stopped_at"):
        row, epoch = summary["stopped_at"]
        rows.insert(1, ("stopped", f"after row {row} epoch {epoch} did not pass (-x)"))
    return [(label, value) for label, value in rows if value]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(
        f"{name} {count}" for name, count in sorted(counts.items(), key=lambda i: -i[1]) if count
    )


def _reward(reward: dict[str, Any] | None) -> str:
    if not reward:
        return ""
    low, high = reward["ci95"]
    return f"mean {reward['mean']:.3f} (95% CI {low:.3f} to {high:.3f}, n={reward['count']})"


def _pass_rows(passes: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not passes:
        return []
    at_k = ", ".join(
        f"pass@{k} {value:.3f}" for k, value in passes["pass_at_k"].items() if value is not None
    )
    low, high = passes["pass_rate_ci95"]
    rate = f"{passes['pass_rate']:.3f} (95% CI {low:.3f} to {high:.3f}, Wilson"
    if "judged" in passes:
        rate += f"; n={passes['judged']}, passed and failed only"
    rate += ")"
    return [("pass rate", rate), ("pass@k", at_k)]


def _latency(latency: dict[str, float]) -> str:
    if not latency:
        return ""
    return f"p50 {format_ms(latency['p50'])}, p95 {format_ms(latency['p95'])}"


def _per_rollout(summary: dict[str, Any]) -> str:
    calls, tokens = summary["llm_calls_per_rollout"], summary["tokens_per_rollout"]
    return f"{calls:.2f} LLM calls, {tokens:.1f} tokens"


def _slowest(slowest: list[dict[str, Any]]) -> str:
    return ", ".join(f"{s['row']} ({format_ms(s['latency_ms'])})" for s in slowest[:5])


def _failed(rows: list[int]) -> str:
    shown = ", ".join(str(row) for row in rows[:FAILED_SHOWN])
    more = len(rows) - FAILED_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")
