"""The adapter served by the SDK's server: failures, timeouts, graders, trainer faults."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from osmosis_ai.rollout.client import RolloutClient

from rolloutctl.agent.context import Agent, RolloutContext, RolloutResult
from rolloutctl.agent.loader import load_example
from rolloutctl.errors import InputError
from rolloutctl.osmosis.grader import label_matches, load_grader
from rolloutctl.osmosis.serve import create_osmosis_app
from rolloutctl.server.settings import ServerSettings
from rolloutctl.trainer import MockTrainer, TrainerConfig, make_policy
from rolloutctl.trainer.rollout_chat import chat_base_url
from tests.conftest import FAST_RETRY
from tests.helpers import run_server

QUESTION = [{"role": "user", "content": "What is (5 + 3) * 2?"}]


class Failing(Agent):
    name = "failing"

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        raise RuntimeError("the agent broke")


class Slow(Agent):
    name = "slow"

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        await asyncio.sleep(30)
        return RolloutResult()


class Rewarding(Agent):
    name = "rewarding"

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        await ctx.chat()
        return RolloutResult(reward=0.75)


def quarter(messages: list[dict[str, Any]], label: str | None) -> float:
    return 0.25 if messages[-1]["role"] == "assistant" and label == "x" else -1.0


def rollout(
    agent: Agent, tmp_path: Path, trainer_config: TrainerConfig | None = None, **kwargs: Any
) -> Any:
    """One rollout of `agent` behind the SDK's server, sent with the SDK's client."""
    grader = kwargs.pop("grader", None)
    settings = ServerSettings(rollout_timeout=kwargs.pop("timeout", 60.0), retry=FAST_RETRY)
    app = create_osmosis_app(agent, settings, grader, artifacts_dir=tmp_path)
    trainer = MockTrainer(trainer_config)
    with run_server(trainer.app) as trainer_url, run_server(app) as url:

        async def go() -> Any:
            client = RolloutClient(url=url)
            try:
                return await client.run_rollout(
                    initial_messages=QUESTION,
                    chat_completions_url=chat_base_url(trainer_url, "r1"),
                    rollout_id="r1",
                    **{"label": "x", **kwargs},
                )
            finally:
                await client.aclose()

        return asyncio.run(go())


def test_an_agent_that_raises_fails_as_agent_error(tmp_path: Path) -> None:
    result = rollout(Failing(), tmp_path)
    assert (result.status.value, result.err_category.value) == ("failure", "agent_error")
    assert result.err_message == "agent_error: RuntimeError: the agent broke"


def test_the_rollout_timeout_is_the_sdks_timeout_category(tmp_path: Path) -> None:
    result = rollout(Slow(), tmp_path, timeout=0.3)
    assert (result.status.value, result.err_category.value) == ("failure", "timeout")


def test_the_agents_reward_reaches_the_sdk_grader(tmp_path: Path) -> None:
    result = rollout(Rewarding(), tmp_path, TrainerConfig(policy=make_policy("echo")))
    assert result.status.value == "success"
    assert result.sample.reward == 0.75


def test_a_grader_function_sets_the_reward(tmp_path: Path) -> None:
    grader = load_grader(f"{__name__}:quarter")
    result = rollout(load_example("calculator"), tmp_path, grader=grader)
    assert result.sample.reward == 0.25


def test_a_grader_target_that_is_neither_class_nor_function_is_an_input_error() -> None:
    with pytest.raises(InputError, match="Grader subclass or a function"):
        load_grader(f"{__name__}:QUESTION")


def test_a_trainer_refusing_the_key_fails_the_rollout_with_its_category(tmp_path: Path) -> None:
    config = TrainerConfig(expect_api_key="the-trainers-key")
    result = rollout(load_example("calculator"), tmp_path, config, llm_api_key="another-key")
    assert result.status.value == "failure"
    assert result.err_message.startswith("trainer_client_error: ")
    assert "another-key" not in result.err_message


def test_injected_chat_failures_are_retried(tmp_path: Path) -> None:
    config = TrainerConfig(fail_rate=0.3, seed=7)
    result = rollout(load_example("calculator"), tmp_path, config, label="16")
    assert result.status.value == "success"
    assert [m["content"] for m in result.sample.messages if m["role"] == "tool"] == ["8", "16"]


class Extra(Agent):
    name = "extra"

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        await ctx.chat()
        return RolloutResult("length", extra_fields={"trace_id": "t-9", "steps": [1, 2]})


def test_the_agents_extra_fields_and_finish_reason_pass_through(tmp_path: Path) -> None:
    result = rollout(Extra(), tmp_path, TrainerConfig(policy=make_policy("echo")), label="x")
    assert result.status.value == "success"
    extra = result.sample.extra_fields
    assert extra == {"trace_id": "t-9", "steps": [1, 2], "finish_reason": "length"}
    assert result.sample.label == "x"  # the grader labels the sample the SDK left bare


@pytest.mark.parametrize(
    ("label", "answer", "matches"),
    [
        ("42", "The answer is 42.", True),
        ("42.0", "The answer is 42.", True),
        ("4", "The answer is 42.", False),
        ("2", "The answer is 42.", False),
        ("1,000", "It comes to 1000 in all.", True),
        ("-3", "x is -3", True),
        ("paris", "It is Paris.", True),
        ("paris", "It is Parisian.", False),
        ("new york", "In New York City.", True),
        ("york new", "In New York City.", False),
    ],
)
def test_the_default_grader_compares_numbers_as_numbers_and_words_whole(
    label: str, answer: str, matches: bool
) -> None:
    assert label_matches(label, answer) is matches


def test_the_default_grader_scores_the_calculators_answer_by_the_rule(tmp_path: Path) -> None:
    calculator = load_example("calculator")
    assert rollout(calculator, tmp_path, label="16.0").sample.reward == 1.0
    assert rollout(calculator, tmp_path, label="6").sample.reward == 0.0  # "16" contains "6"
