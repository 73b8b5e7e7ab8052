"""The run page's numbers, from the index alone: one pass over a few numbers per rollout.

The counts, the pass rate with its Wilson interval, the reward interval and pass@k are
eval's own (`summarize_outcomes`), so the page and `summary.json` never disagree; added
here are what a page shows and a terminal does not: histograms, and the failures
grouped by category with their messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from rolloutctl.bench.tally import percentiles
from rolloutctl.eval.results import Outcome
from rolloutctl.eval.stats import summarize_outcomes
from rolloutctl.view.index import ResultsIndex

__all__ = [
    "failure_groups",
    "histogram",
    "run_summary",
]

BINS = 10
MESSAGES_PER_CATEGORY = 8
EXAMPLES_PER_MESSAGE = 5


def run_summary(index: ResultsIndex) -> dict[str, Any]:
    """What the run page draws, for the records indexed so far."""
    live = index.live()
    outcomes = [index.outcomes[p] for p in live]
    summary = summarize_outcomes(outcomes)
    for listed in ("failed_rows", "slowest", "not_passed"):  # the rows table shows those
        summary.pop(listed, None)
    latencies = [o.latency_ms for o in outcomes if o.latency_ms is not None]
    summary["latency_ms"] = percentiles(latencies)
    summary["histograms"] = {
        "reward": histogram([o.reward for o in outcomes if o.reward is not None]),
        "latency_ms": histogram(latencies),
        "tokens": histogram([float(o.tokens) for o in outcomes]),
        "llm_calls": histogram([float(o.llm_calls) for o in outcomes]),
    }
    summary["epochs"] = sorted({o.epoch for o in outcomes})
    summary["failures"] = failure_groups(index, live)
    return summary


def histogram(values: Sequence[float], bins: int = BINS) -> dict[str, Any] | None:
    """Counts over equal-width bins; a few distinct values (binary rewards) get one bar each."""
    if not values:
        return None
    distinct = sorted(set(values))
    if len(distinct) <= bins:
        counts = Counter(values)
        return {"bars": [{"from": v, "to": v, "count": counts[v]} for v in distinct]}
    low, high = distinct[0], distinct[-1]
    width = (high - low) / bins
    counts = Counter(min(int((v - low) / width), bins - 1) for v in values)
    return {
        "bars": [
            {"from": low + i * width, "to": low + (i + 1) * width, "count": counts[i]}
            for i in range(bins)
        ]
    }


def failure_groups(index: ResultsIndex, live: list[int]) -> list[dict[str, Any]]:
    """Failures by category, most frequent first, each with its commonest messages."""
    groups: dict[str, Counter[str]] = {}
    examples: dict[tuple[str, str], list[list[int]]] = {}
    for position in live:
        category = index.failures[position]
        if category is None:
            continue
        message = index.outcomes[position].message or ""
        groups.setdefault(category, Counter())[message] += 1
        shown = examples.setdefault((category, message), [])
        if len(shown) < EXAMPLES_PER_MESSAGE:
            outcome: Outcome = index.outcomes[position]
            shown.append([outcome.row, outcome.epoch])
    return [
        {
            "category": category,
            "count": sum(messages.values()),
            "messages": [
                {"message": m, "count": n, "examples": examples[(category, m)]}
                for m, n in messages.most_common(MESSAGES_PER_CATEGORY)
            ],
        }
        for category, messages in sorted(groups.items(), key=lambda g: -sum(g[1].values()))
    ]
