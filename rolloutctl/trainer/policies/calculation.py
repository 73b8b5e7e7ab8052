"""Arithmetic as calculator tool steps: one tool call per operation, in dependency order.

Each step's operands are numbers or the results of earlier steps, so the calculator
policy can ask for one call per turn and feed each tool result into the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rolloutctl.trainer.policies.arithmetic import Number, Op, parse

__all__ = ["Ref", "Step", "apply", "format_number", "plan", "read_number", "tidy"]


@dataclass(frozen=True, slots=True)
class Ref:
    """The result of an earlier step, by index."""

    step: int


@dataclass(frozen=True, slots=True)
class Step:
    op: str
    a: Ref | Number
    b: Ref | Number


def _flatten(value: Op | Number, steps: list[Step]) -> Ref | Number:
    if not isinstance(value, Op):
        return value
    a, b = _flatten(value.a, steps), _flatten(value.b, steps)
    steps.append(Step(value.name, a, b))
    return Ref(len(steps) - 1)


@lru_cache(maxsize=4096)
def plan(text: str) -> tuple[Step, ...]:
    """Ordered tool steps for the arithmetic in `text`; empty when there is none."""
    tree = parse(text)
    steps: list[Step] = []
    if tree is not None:
        _flatten(tree, steps)
    return tuple(steps)


def apply(op: str, a: Number, b: Number) -> Number:
    """What the calculator tool returns; ZeroDivisionError for a zero divisor."""
    if op == "add":
        return tidy(a + b)
    if op == "subtract":
        return tidy(a - b)
    if op == "multiply":
        return tidy(a * b)
    return tidy(a / b)


def tidy(value: Number) -> Number:
    """Integral floats become ints, so 8.0 is sent and shown as 8."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def format_number(value: Number) -> str:
    value = tidy(value)
    return str(value) if isinstance(value, int) else f"{value:.10g}"


def read_number(text: str) -> Number | None:
    """A tool result as a number, or None when it is not one (e.g. an Error: text)."""
    try:
        return tidy(float(text.strip()))
    except ValueError:
        return None
