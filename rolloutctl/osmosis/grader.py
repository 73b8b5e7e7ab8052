"""Graders for the adapter: the agent's own reward, or a function named by `--grader`.

The SDK grades only a rollout whose request carries a `label` or `metadata`, and fails a
graded rollout whose sample ends without a reward, so the default grader always sets one.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

from osmosis_ai.rollout import Grader, GraderContext

from rolloutctl.agent.loader import load_attribute
from rolloutctl.errors import TargetError
from rolloutctl.osmosis.workflow import REWARD_METRIC

__all__ = [
    "AgentRewardGrader",
    "FunctionGrader",
    "final_answer",
    "keep_label",
    "label_matches",
    "load_grader",
]

NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")
WORD = re.compile(r"\w+")

RewardFunction = Callable[[list[dict[str, Any]], str | None], float | Awaitable[float]]


def final_answer(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text of the last assistant message ('' when there is none)."""
    for message in reversed(messages):
        if message.get("role") == "assistant":
            return str(message.get("content") or "")
    return ""


def label_matches(label: str, text: str) -> bool:
    """Whether `text` states `label`: a number label equals some number in the text, as a
    number ("42.0" matches "The answer is 42."; "4" does not); any other label matches
    whole words, case-insensitively ("paris" matches "It is Paris.", not "Parisian")."""
    number = _number(label.strip())
    if number is not None:
        return any(number == found for found in map(_number, NUMBER.findall(text)))
    wanted = WORD.findall(label.casefold())
    words = WORD.findall(text.casefold())
    size = len(wanted)
    return bool(wanted) and any(words[i : i + size] == wanted for i in range(len(words)))


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class AgentRewardGrader(Grader):
    """The agent's `RolloutResult.reward`; without one, 1.0 when the final answer states the
    label (`label_matches`) and 0.0 otherwise (also 0.0 when there is no label)."""

    async def grade(self, ctx: GraderContext) -> None:
        sample = ctx.sample
        if sample is None:
            return
        keep_label(ctx)
        reward = sample.metrics.get(REWARD_METRIC)
        if reward is None:
            label, answer = ctx.label, final_answer(sample.messages)
            reward = 1.0 if label and label_matches(label, answer) else 0.0
        ctx.set_reward(float(reward))


def keep_label(ctx: GraderContext) -> None:
    """The adapter's sample comes from a sample source, which the SDK does not label."""
    if ctx.sample is not None and ctx.sample.label is None:
        ctx.sample.label = ctx.label


class FunctionGrader(Grader):
    """Calls `reward(messages, label)` (sync or async) and sets what it returns."""

    reward: ClassVar[RewardFunction]

    async def grade(self, ctx: GraderContext) -> None:
        if ctx.sample is None:
            return
        keep_label(ctx)
        value = type(self).reward([dict(m) for m in ctx.sample.messages], ctx.label)
        if inspect.isawaitable(value):
            value = await value
        ctx.set_reward(float(value))


def load_grader(target: str) -> type[Grader]:
    """`module:attr` or `file.py:attr`: an osmosis `Grader` subclass, or a reward function."""
    obj, where = load_attribute(target, ""), target
    if isinstance(obj, type) and issubclass(obj, Grader):
        return obj
    if callable(obj) and not isinstance(obj, type):
        return type("FunctionGrader", (FunctionGrader,), {"reward": staticmethod(obj)})
    raise TargetError(
        f"--grader {where}: expected an osmosis_ai Grader subclass or a function "
        "(messages, label) -> float"
    )
