"""The end-of-run list of rollouts that did not pass, as pytest lists its failures.

Each line says which row and epoch, what kind of outcome (failed, error, grader_error)
and why, and the list ends with the commands that open them. Messages carry model and
server text, so every line goes out through `visible` (no control character reaches
the terminal).
"""

from __future__ import annotations

import shlex
from typing import Any

from rolloutctl.trajectory.text import visible

__all__ = [
    "SHOWN",
    "failure_lines",
]

SHOWN = 20  # rollouts listed; summary.json keeps up to stats.LISTED


def failure_lines(summary: dict[str, Any], shown: int = SHOWN) -> list[str]:
    """The lines of the list (none when everything passed)."""
    listed = summary.get("not_passed") or []
    if not listed:
        return []
    run = shlex.quote(str(summary["run_dir"]))
    total = sum(n for kind, n in (summary.get("outcomes") or {}).items() if kind != "passed")
    lines = [f"not passed: {total} rollout(s)"]
    for item in listed[:shown]:
        where = f"row {item['row']} epoch {item['epoch']}"
        lines.append(visible(f"  {where}  {item['outcome']}  {item.get('message') or ''}"))
    if total > shown:
        lines.append(f"  ... and {total - shown} more (summary.json, results.jsonl)")
    first = listed[0]
    lines.append(f"open one: rolloutctl replay {run}:{first['row']}:{first['epoch']}")
    lines.append(f"browse all: rolloutctl view {run}")
    return lines
