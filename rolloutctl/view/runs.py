"""A run's state for the pages: in progress or not, how many rollouts, and its summary,
computed again only when the index changed.

A growing run of 100,000 rows would otherwise spend most of its time summing itself up
(about a second each time on a busy machine): while rows land, a summary is reused
until SETTLE times what it cost to compute has passed, so the rows table and the live
count stay quick and the summary follows a few seconds behind."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rolloutctl.view.sources import Catalog, Run
from rolloutctl.view.summary import run_summary

__all__ = ["RunState", "SummaryCache", "Summed", "run_state", "runs_list"]

SETTLE = 5.0


@dataclass(frozen=True)
class Summed:
    stamp: tuple[int, int]  # the index's (generation, length) it was computed at
    summary: dict[str, Any]
    at: float  # time.monotonic() when computed
    cost: float  # seconds it took


SummaryCache = dict[str, Summed]


@dataclass(frozen=True)
class RunState:
    run: Run
    summed: Summed

    @property
    def summary(self) -> dict[str, Any]:
        return self.summed.summary

    def quick(self) -> dict[str, Any]:
        """What the live pages poll: its version changes when a row lands, when the run
        ends, and when a summary held back while rows landed is brought up to date."""
        index, busy = self.run.index, self.run.in_progress()
        stamp = ".".join(map(str, self.summed.stamp))
        return {
            "rollouts": len(index),
            "version": f"{index.generation}.{len(index)}.{int(busy)}.{stamp}",
            "in_progress": busy,
        }

    def facts(self) -> dict[str, Any]:
        final = self.run.final_summary()
        return self.quick() | {
            "interrupted": bool(final.get("interrupted")),
            "wall_s": (final.get("this_session") or {}).get("wall_s"),
        }


def run_state(run: Run, cache: SummaryCache) -> RunState:
    """The run with its summary, from `cache` when nothing was appended since, or when
    rows are still landing and the last summary is recent (see the module's docstring)."""
    stamp = (run.index.generation, len(run.index))
    cached = cache.get(run.key)
    if cached is None or (cached.stamp != stamp and not _held(cached, run)):
        started = time.monotonic()
        summary = run_summary(run.index)
        cached = cache[run.key] = Summed(stamp, summary, started, time.monotonic() - started)
    return RunState(run, cached)


def _held(summed: Summed, run: Run) -> bool:
    return run.in_progress() and time.monotonic() - summed.at < SETTLE * summed.cost


def runs_list(catalog: Catalog, cache: SummaryCache) -> list[dict[str, Any]]:
    """One line per run for the runs list, newest first."""
    lines = []
    for run in catalog.runs.values():
        run.index.refresh()
        summary = run_state(run, cache).summary
        config = run.config()
        reward = summary.get("reward") or {}
        lines.append(
            {
                "slug": run.key,
                "name": run.path.name,
                "agent": config.get("agent"),
                "dataset": Path(str(config.get("dataset") or "")).name or None,
                "date": config.get("started_at"),
                "rows": summary["rows"],
                "rollouts": summary["rollouts"],
                "pass_rate": (summary.get("pass") or {}).get("pass_rate"),
                "mean_reward": reward.get("mean"),
                "errors": summary["rollouts"] - summary["status"].get("COMPLETED", 0),
                "in_progress": run.in_progress(),
            }
        )
    return sorted(lines, key=lambda line: str(line["date"] or ""), reverse=True)
