"""The summary's arithmetic: the reward interval and pass@k."""

from __future__ import annotations

import math

import pytest

from rolloutctl.eval.results import Outcome
from rolloutctl.eval.stats import ks_for, reward_stats, summarize_outcomes


def outcome(row: int, epoch: int, reward: float | None, status: str = "COMPLETED") -> Outcome:
    record = {"row": row, "epoch": epoch, "status": status, "reward": reward}
    record["error_category"] = None if status == "COMPLETED" else "connection_error"
    record["latency_ms"], record["finish_reason"] = 10.0 * (row + 1), "stop"
    return Outcome.of(record)


def test_pass_at_k_is_the_unbiased_estimate():
    # row 0: 1 of 4 samples passes; row 1: all 4 do
    outcomes = [outcome(0, e, 1.0 if e == 0 else 0.0) for e in range(4)]
    outcomes += [outcome(1, e, 1.0) for e in range(4)]
    passes = summarize_outcomes(outcomes)["pass"]
    assert passes is not None
    assert passes["pass_rate"] == pytest.approx(5 / 8)
    assert passes["pass_at_k"]["1"] == pytest.approx((0.25 + 1) / 2)
    assert passes["pass_at_k"]["2"] == pytest.approx(
        (1 - math.comb(3, 2) / math.comb(4, 2) + 1) / 2
    )
    assert passes["pass_at_k"]["4"] == pytest.approx(1.0)


def test_reward_interval_and_non_binary_rewards_have_no_pass_rate():
    stats = reward_stats([0.0, 1.0, 0.5, 0.5])
    assert stats is not None
    assert stats["mean"] == 0.5
    half = 1.96 * math.sqrt(1 / 6) / 2
    assert stats["ci95"] == pytest.approx([0.5 - half, 0.5 + half])
    summary = summarize_outcomes([outcome(0, 0, 0.5), outcome(1, 0, None, "ERROR")])
    assert summary["pass"] is None and summary["failed_rows"] == [1]
    assert summary["slowest"][0] == {"row": 1, "epoch": 0, "latency_ms": 20.0}
    assert reward_stats([]) is None and ks_for(1) == [1] and ks_for(6) == [1, 2, 4, 6]


def interval(rewards: list[float]) -> list[float]:
    stats = reward_stats(rewards)
    assert stats is not None
    return list(stats["ci95"])


def test_pass_rate_intervals_stay_inside_0_and_1():
    """Wilson's interval: 10 of 10 passes is not '0.689 to 1.011'."""
    low, high = interval([1.0] * 10)
    assert high == 1.0 and low == pytest.approx(0.7225, abs=1e-4)
    low, high = interval([0.0] * 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    passes = summarize_outcomes([outcome(0, 0, 1.0), outcome(1, 0, 0.0)])["pass"]
    low, high = passes["pass_rate_ci95"]
    assert 0.0 < low < 0.5 < high < 1.0 and (low + high) / 2 == pytest.approx(0.5)


def test_errors_stay_out_of_the_pass_rate_and_are_listed_with_their_message():
    judged = [outcome(0, 0, 1.0), outcome(1, 0, 0.0), outcome(2, 0, 1.0)]
    errored = Outcome.of(
        {
            "row": 3,
            "epoch": 0,
            "status": "ERROR",
            "error_category": "trainer_server_error",
            "error_message": "upstream unreachable",
            "reward": 0.0,
        }
    )
    graded = Outcome.of(
        {
            "row": 4,
            "epoch": 0,
            "status": "COMPLETED",
            "reward": None,
            "grader_error": "KeyError: 'x'",
        }
    )
    clean = summarize_outcomes(judged)
    summary = summarize_outcomes([*judged, errored, graded])
    assert summary["pass"]["pass_rate"] == clean["pass"]["pass_rate"] == pytest.approx(2 / 3)
    assert summary["pass"]["judged"] == 3
    assert summary["outcomes"] == {"passed": 2, "failed": 1, "error": 1, "grader_error": 1}
    assert summary["not_passed"] == [
        {"row": 1, "epoch": 0, "outcome": "failed", "message": "reward 0.0"},
        {
            "row": 3,
            "epoch": 0,
            "outcome": "error",
            "message": "trainer_server_error: upstream unreachable",
        },
        {"row": 4, "epoch": 0, "outcome": "grader_error", "message": "grader_error: KeyError: 'x'"},
    ]
