"""A run's state for the pages: in progress or not, how many rollouts, and its summary,
computed again only when the index changed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rolloutctl.view.sources import Catalog, Run
from rolloutctl.view.summary import run_summary

__all__ = ["RunState", "SummaryCache", "run_state", "runs_list"]

SummaryCache = dict[str, tuple[tuple[int, int], dict[str, Any]]]


@dataclass(frozen=True)
class RunState:
    run: Run
    summary: dict[str, Any]

    @staticmethod
    def quick(run: Run) -> dict[str, Any]:
        """What the live pages poll: cheap, and it changes whenever a row lands."""
        index, busy = run.index, run.in_progress()
        return {
            "rollouts": len(index),
            "version": f"{index.generation}.{len(index)}.{int(busy)}",
            "in_progress": busy,
        }

    def facts(self) -> dict[str, Any]:
        final = self.run.final_summary()
        return RunState.quick(self.run) | {
            "interrupted": bool(final.get("interrupted")),
            "wall_s": (final.get("this_session") or {}).get("wall_s"),
        }


def run_state(run: Run, cache: SummaryCache) -> RunState:
    """The run with its summary, from `cache` when nothing was appended since."""
    stamp = (run.index.generation, len(run.index))
    cached = cache.get(run.key)
    if cached is None or cached[0] != stamp:
        cached = cache[run.key] = (stamp, run_summary(run.index))
    return RunState(run, cached[1])


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
