"""bench's split of a turn: LLM, tools and the rest, from the trainer's timestamps."""

from __future__ import annotations

import pytest

from rolloutctl.bench.breakdown import Breakdown, turn_times


def test_a_two_turn_rollout_splits_into_llm_tool_and_overhead():
    # init sent at 0; chat 1 in at 0.010, answered at 2.010 asking for one tool;
    # chat 2 in at 2.030, answered at 4.030; the rollout reported 4 ms of tools
    calls = [(0.010, 2.010, 1), (2.030, 4.030, 0)]
    (wall1, llm1, tool1, over1), (wall2, llm2, tool2, over2) = turn_times(0.0, calls, 4.0)
    assert (wall1, llm1, tool1) == pytest.approx((2010, 2000, 0))
    assert over1 == pytest.approx(10)
    assert (wall2, llm2, tool2) == pytest.approx((2020, 2000, 4))
    assert over2 == pytest.approx(16)


def test_tool_time_is_shared_by_the_number_of_calls_each_answer_asked_for():
    calls = [(0.0, 1.0, 3), (1.1, 2.0, 1), (2.1, 3.0, 0)]
    tools = [tool for _, _, tool, _ in turn_times(0.0, calls, 8.0)]
    assert tools == pytest.approx([0, 6, 2])


def test_protocol_time_is_the_rollout_less_llm_and_tools():
    times = Breakdown()
    times.add(0.0, [(0.010, 2.010, 1), (2.030, 4.030, 0)], 4.050, 4.0)
    times.add(0.0, [], 1.0, 0.0)  # an ERROR before any chat: nothing to split
    summary = times.summary()
    assert summary["protocol"]["p50"] == pytest.approx(4050 - 4000 - 4)
    assert summary["llm"]["p50"] == pytest.approx(2000)
    assert Breakdown().summary() == {}
