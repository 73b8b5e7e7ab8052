"""The calculator policy solves arithmetic end to end through the real calculator server."""

from __future__ import annotations

import asyncio

import pytest

from rolloutctl.agent.loader import load_example
from rolloutctl.harness import local_stack
from rolloutctl.trainer import TrainerConfig, make_policy

PROBLEMS = [
    ("What is (5 + 3) * 2?", "16"),
    ("calculate 12 divided by 4 then add 1", "4"),
    ("What is 7 - 10?", "-3"),
    ("Compute 2 * 3 * 4", "24"),
    ("what is 100 / 8", "12.5"),
    ("What is 1 + 2 + 3 + 4?", "10"),
    ("What is (10 - 4) / (1 + 2)?", "2"),
    ("multiply 6 by 7", "42"),
    ("What is 2.5 * 4 - 1?", "9"),
    ("subtract 15 from 20 and then multiply by 3", "15"),
]


async def solve_all() -> list[dict]:
    config = TrainerConfig(policy=make_policy("calculator"))
    async with local_stack(load_example("calculator"), trainer_config=config) as stack:
        handles = [
            await stack.start_rollout(
                {"rollout_id": f"calc-{i}", "messages": [{"role": "user", "content": prompt}]}
            )
            for i, (prompt, _) in enumerate(PROBLEMS)
        ]
        completions = [await handle.wait(120) for handle in handles]
        assert None not in completions
        assert not stack.trainer.violations()
        return [c for c in completions if c is not None]


@pytest.fixture(scope="module")
def completions() -> list[dict]:
    return asyncio.run(solve_all())


@pytest.mark.parametrize(("index", "problem"), list(enumerate(PROBLEMS)))
def test_calculator_solves(completions, index, problem):
    prompt, answer = problem
    done = completions[index]
    assert done is not None and done["status"] == "COMPLETED", prompt
    assert done["metrics"]["num_tool_calls"] >= 1
    final = done["final_messages"][-1]
    assert final["role"] == "assistant" and answer in final["content"], (prompt, final)
    tool_results = [m["content"] for m in done["final_messages"] if m["role"] == "tool"]
    assert tool_results[-1] == answer
