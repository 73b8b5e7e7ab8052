"""Where a rollout's time goes, turn by turn, from the mock trainer's clock.

A turn runs from the moment the server could go on (the init sent, or the previous
chat answer sent) to the moment this turn's chat answer left the trainer. Within it:
(a) the trainer's own LLM time (chat request in to answer out, its injected latency
included), (b) tool time (the rollout's `tool_latency_ms`, split over the turns after
answers that asked for tools, by the number of calls), and (c) what is left: the
server's own overhead, HTTP both ways included. Protocol time per rollout is the
whole rollout (init sent to completion in) less its LLM and tool time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Breakdown", "percentiles", "tool_ms", "turn_times"]

Call = tuple[float, float, int]  # request in, answer out, tool calls asked for


def turn_times(
    sent: float, calls: Sequence[Call], tool_ms: float
) -> list[tuple[float, float, float, float]]:
    """(wall, llm, tool, overhead) in ms for each turn of one rollout."""
    asked = sum(tools for _, _, tools in calls[:-1])
    turns: list[tuple[float, float, float, float]] = []
    start, previous_tools = sent, 0
    for arrived, answered, tools in calls:
        wall, llm = (answered - start) * 1000, (answered - arrived) * 1000
        tool = tool_ms * previous_tools / asked if asked else 0.0
        turns.append((wall, llm, tool, wall - llm - tool))
        start, previous_tools = answered, tools
    return turns


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max by the nearest-rank method; {} for no values."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(fraction: float) -> float:
        return ordered[max(0, min(len(ordered), round(fraction * len(ordered))) - 1)]

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": ordered[-1]}


@dataclass
class Breakdown:
    """Per-turn and per-rollout times of a bench phase, in ms."""

    llm: list[float] = field(default_factory=list)
    tool: list[float] = field(default_factory=list)
    overhead: list[float] = field(default_factory=list)
    protocol: list[float] = field(default_factory=list)

    def add(
        self, sent: float, calls: Sequence[Call], completed_at: float | None, tool_ms: float
    ) -> None:
        """One rollout: sent is when its init left, completed_at when its completion came."""
        if not calls or completed_at is None:
            return
        llm_total = 0.0
        for _, llm, tool, overhead in turn_times(sent, calls, tool_ms):
            self.llm.append(llm)
            self.tool.append(tool)
            self.overhead.append(overhead)
            llm_total += llm
        self.protocol.append((completed_at - sent) * 1000 - llm_total - tool_ms)

    def summary(self) -> dict[str, dict[str, float]]:
        """p50/p95/p99/max of each part; {} when nothing was timed."""
        if not self.llm:
            return {}
        parts = {"llm": self.llm, "tool": self.tool, "overhead": self.overhead}
        return {
            **{k: percentiles(v) for k, v in parts.items()},
            "protocol": percentiles(self.protocol),
        }


def tool_ms(completion: dict[str, Any]) -> float:
    """The tool time a completion reports (0 when it says nothing usable)."""
    value = (completion.get("metrics") or {}).get("tool_latency_ms")
    return float(value) if isinstance(value, int | float) else 0.0
