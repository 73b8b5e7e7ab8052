"""Two runs of one dataset aligned by (row, epoch): which rows were fixed, broken or changed.

A row passes when eval says so (`Outcome.kind`, see `records.failure_category`). Fixed: failed in A,
passes in B; broken: the reverse; changed: same verdict but another status or reward;
missing: in one run only.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from rolloutctl.view.index import ResultsIndex
from rolloutctl.view.sources import open_run

__all__ = ["CHANGES", "compare_paths", "compare_runs"]

CHANGES = ("fixed", "broken", "changed", "unchanged", "missing")


def compare_runs(
    a: ResultsIndex, b: ResultsIndex, changed_only: bool, page: int, per_page: int
) -> dict[str, Any]:
    """Counts of every kind of change and one page of the aligned rows."""
    counts: Counter[str] = Counter()
    rows = []
    for key in sorted(a.by_key.keys() | b.by_key.keys()):
        left, right = _side(a, key), _side(b, key)
        change = _change(left, right)
        counts[change] += 1
        if not changed_only or change != "unchanged":
            rows.append({"row": key[0], "epoch": key[1], "change": change, "a": left, "b": right})
    start = (page - 1) * per_page
    return {
        "counts": {name: counts[name] for name in CHANGES},
        "total": len(rows),
        "rows": rows[start : start + per_page],
    }


def compare_paths(a: Path, b: Path) -> dict[str, Any]:
    """Every row of two runs on disk (either kind each, so an Osmosis SDK run compares
    with a rolloutctl one), as `diff RUN_A RUN_B` prints them."""
    left, right = open_run(a).index, open_run(b).index
    return compare_runs(left, right, False, 1, len(left) + len(right) + 1)


def _side(index: ResultsIndex, key: tuple[int, int]) -> dict[str, Any] | None:
    position = index.by_key.get(key)
    if position is None:
        return None
    outcome = index.outcomes[position]
    failure = index.failures[position]
    return {"status": outcome.status, "reward": outcome.reward, "failure": failure}


def _change(left: dict[str, Any] | None, right: dict[str, Any] | None) -> str:
    if left is None or right is None:
        return "missing"
    passed_a, passed_b = left["failure"] is None, right["failure"] is None
    if passed_a != passed_b:
        return "fixed" if passed_b else "broken"
    same = (left["status"], left["reward"]) == (right["status"], right["reward"])
    return "unchanged" if same else "changed"
