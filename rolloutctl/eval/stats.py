"""What an eval run amounts to: counts, reward with its interval, pass@k, latencies.

Computed from `Outcome`s only, so the summary of a 10,000-row run needs a few numbers
per rollout, never the trajectories, and a resumed run is summarised like a fresh one.
The pass rate and pass@k count only `passed` and `failed` rollouts: an infrastructure
error or a grader error is listed with its message, never scored.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from rolloutctl.bench.tally import percentiles
from rolloutctl.eval.results import Outcome

__all__ = [
    "ks_for",
    "pass_stats",
    "reward_stats",
    "summarize_outcomes",
    "wilson_interval",
]

Z_95 = 1.96
SHOWN_ROWS = 10  # slowest rows listed
LISTED = 100  # rollouts that did not pass listed in the summary, with their messages
KINDS = ("passed", "failed", "error", "grader_error")


def summarize_outcomes(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The summary.json body (without the run's own facts: wall time, paths)."""
    count = len(outcomes) or 1
    rewards = [o.reward for o in outcomes if o.reward is not None]
    judged = [o for o in outcomes if o.kind in ("passed", "failed")]
    latencies = [o.latency_ms for o in outcomes if o.latency_ms is not None]
    slowest = sorted(
        (o for o in outcomes if o.latency_ms is not None), key=lambda o: -(o.latency_ms or 0)
    )
    return {
        "rollouts": len(outcomes),
        "rows": len({o.row for o in outcomes}),
        "status": dict(Counter(o.status for o in outcomes)),
        "outcomes": {kind: sum(o.kind == kind for o in outcomes) for kind in KINDS},
        "error_categories": dict(Counter(o.category for o in outcomes if o.category)),
        "finish_reasons": dict(Counter(o.finish_reason for o in outcomes if o.finish_reason)),
        "reward": reward_stats(rewards),
        "pass": pass_stats(judged) if rewards and _binary(rewards) and judged else None,
        "latency_ms": {k: v for k, v in percentiles(latencies).items() if k in ("p50", "p95")},
        "llm_calls_per_rollout": sum(o.llm_calls for o in outcomes) / count,
        "tokens_per_rollout": sum(o.tokens for o in outcomes) / count,
        "violations": sum(o.violations for o in outcomes),
        "slowest": [
            {"row": o.row, "epoch": o.epoch, "latency_ms": o.latency_ms}
            for o in slowest[:SHOWN_ROWS]
        ],
        "failed_rows": sorted({o.row for o in outcomes if o.status != "COMPLETED"}),
        "not_passed": _not_passed(outcomes),
    }


def _not_passed(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """The first LISTED rollouts (by row, epoch) that did not pass, with why."""
    listed = sorted((o for o in outcomes if o.kind != "passed"), key=lambda o: (o.row, o.epoch))
    return [
        {"row": o.row, "epoch": o.epoch, "outcome": o.kind, "message": o.message}
        for o in listed[:LISTED]
    ]


def reward_stats(rewards: list[float]) -> dict[str, Any] | None:
    """Mean with a 95% interval: Wilson's for 0/1 rewards (a pass rate, which it keeps
    inside [0, 1] even at 0 or n passes), else the normal approximation (a single value
    has none)."""
    if not rewards:
        return None
    mean = statistics.fmean(rewards)
    if _binary(rewards):
        return {"count": len(rewards), "mean": mean, "ci95": wilson_interval(mean, len(rewards))}
    half = Z_95 * statistics.stdev(rewards) / math.sqrt(len(rewards)) if len(rewards) > 1 else 0.0
    return {"count": len(rewards), "mean": mean, "ci95": [mean - half, mean + half]}


def wilson_interval(rate: float, count: int, z: float = Z_95) -> list[float]:
    """Wilson's score interval of a proportion `rate` observed over `count` trials."""
    spread = z * z / count
    centre = (rate + spread / 2) / (1 + spread)
    half = z * math.sqrt(rate * (1 - rate) / count + spread / (4 * count)) / (1 + spread)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _binary(rewards: list[float]) -> bool:
    return all(r in (0.0, 1.0) for r in rewards)


def pass_stats(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Pass rate over the judged rollouts (passed or failed) with its Wilson interval, and
    the unbiased pass@k over rows (Chen et al., 2021)."""
    samples: dict[int, list[bool]] = defaultdict(list)
    for outcome in outcomes:
        samples[outcome.row].append(outcome.kind == "passed")
    passed = sum(1 for o in outcomes if o.kind == "passed")
    most = max(len(s) for s in samples.values())
    rate = passed / len(outcomes)
    return {
        "pass_rate": rate,
        "pass_rate_ci95": wilson_interval(rate, len(outcomes)),
        "judged": len(outcomes),
        "pass_at_k": {str(k): _pass_at(k, samples.values()) for k in ks_for(most)},
    }


def ks_for(samples: int) -> list[int]:
    """1, 2, 4, ... up to `samples`, and `samples` itself."""
    ks, k = [], 1
    while k < samples:
        ks.append(k)
        k *= 2
    return [*ks, samples]


def _pass_at(k: int, rows: Any) -> float | None:
    """Mean over rows with at least k samples of 1 - C(n-c, k) / C(n, k)."""
    values = [
        1.0 - math.comb(len(s) - sum(s), k) / math.comb(len(s), k) for s in rows if len(s) >= k
    ]
    return statistics.fmean(values) if values else None
