"""`rolloutctl diff`: where two rollouts part ways, and how their outcomes differ.

Trajectories are compared turn by turn (the messages a turn added, then its reply,
and what the completion added at the end). Tool call ids are numbered by order of
appearance before comparing, so two runs of a model that makes up random ids still
count as the same when they called the same tools with the same arguments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, takewhile, zip_longest
from typing import Any

from rolloutctl.trajectory.linediff import unified_diff
from rolloutctl.trajectory.summary import Summary, summarize

__all__ = [
    "END",
    "DiffResult",
    "Side",
    "diff_sides",
    "diff_trajectories",
    "turn_source",
]

END = "end"  # the pseudo-turn of the messages the completion added after the last turn


Source = tuple[Any, list[Any], dict[str, Any] | None]  # (turn index, added, reply)


@dataclass
class DiffResult:
    first_difference: int | str | None  # a turn index, END, or None when the same
    lines: list[str] = field(default_factory=list)  # the unified diff from that turn on
    summary: dict[str, list[Any]] = field(default_factory=dict)  # field -> [a, b], if differ

    @property
    def same(self) -> bool:
        return self.first_difference is None


@dataclass
class Side:
    """One rollout to compare: its summary, and its turns as (index, added, reply)
    ending with the END pseudo-turn, read once and in order."""

    summary: Summary
    sources: Iterable[Source]

    @classmethod
    def of(cls, traj: dict[str, Any]) -> Side:
        return cls(summarize(traj), _sources(traj))


def diff_trajectories(a: dict[str, Any], b: dict[str, Any]) -> DiffResult:
    result, lines = diff_sides(Side.of(a), Side.of(b))
    result.lines = list(lines)
    return result


def diff_sides(a: Side, b: Side) -> tuple[DiffResult, Iterator[str]]:
    """The first difference and summary at once, and the diff's lines as they are made:
    only the turns being compared and a window of lines are held."""
    result = DiffResult(None, summary=_summary_differences(a.summary, b.summary))
    turns_a, turns_b = _turns(a.sources), _turns(b.sources)
    for x, y in zip_longest(turns_a, turns_b):
        if x is None or y is None or x[1] != y[1]:
            result.first_difference = (x or y)[0]
            rest_a = chain([x] if x else [], turns_a)
            rest_b = chain([y] if y else [], turns_b)
            return result, unified_diff(_text(rest_a), _text(rest_b), n=2)
    return result, iter(())


def _sources(traj: dict[str, Any]) -> Iterator[Source]:
    yield from (turn_source(turn) for turn in traj.get("turns") or [])
    yield END, traj.get("final_added") or [], None


def turn_source(turn: dict[str, Any]) -> Source:
    """What a recorded turn gives the comparison (an unanswered turn, an empty reply)."""
    return turn.get("index"), turn.get("added") or [], turn.get("assistant") or {}


def _turns(sources: Iterable[Source]) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """(turn index, its normalised messages); the completion's additions come last. The
    tool results that answer a turn's calls belong to that turn, as `replay` shows them,
    though the wire carries them in the next request, so a turn is yielded once the
    next one is read."""
    ids: dict[Any, str] = {}
    last: tuple[Any, list[dict[str, Any]]] | None = None
    for index, added, reply in sources:
        results = list(takewhile(lambda m: isinstance(m, dict) and m.get("role") == "tool", added))
        if last is not None:
            last[1].extend(_normal(m, ids) for m in results)
            yield last
        else:
            results = []
        messages = [*added[len(results) :], *([reply] if reply is not None else [])]
        last = None
        if messages or index != END:
            last = (index, [_normal(m, ids) for m in messages])
    if last is not None:
        yield last


def _normal(message: dict[str, Any], ids: dict[Any, str]) -> dict[str, Any]:
    kept = {k: v for k, v in message.items() if v is not None and k not in ("tool_call_id",)}
    if message.get("tool_call_id") is not None:
        kept["call"] = ids.setdefault(message["tool_call_id"], f"#{len(ids) + 1}")
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        calls.append(
            {
                "call": ids.setdefault(call.get("id"), f"#{len(ids) + 1}"),
                "name": function.get("name"),
                "arguments": _arguments(function.get("arguments")),
            }
        )
    if calls:
        kept["tool_calls"] = calls
    if kept.get("content") == "" and calls:
        del kept["content"]
    return kept


def _arguments(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text


def _text(turns: Iterable[tuple[Any, list[dict[str, Any]]]]) -> Iterator[str]:
    for index, messages in turns:
        yield f"--- turn {index} ---"
        for message in messages:
            yield from _message_lines(message)


def _message_lines(message: dict[str, Any]) -> list[str]:
    role = message.get("role", "?")
    lines = []
    content = message.get("content")
    if content is not None:
        text = content if isinstance(content, str) else json.dumps(content)
        tag = f"{role} {message['call']}" if "call" in message else role
        lines += [f"{tag}: {line}" for line in (text.splitlines() or [""])]
    for call in message.get("tool_calls") or []:
        arguments = json.dumps(call["arguments"], sort_keys=True)
        lines.append(f"{role} -> {call['name']} {call['call']} {arguments}")
    return lines or [f"{role}: (empty)"]


def _summary_differences(a: Summary, b: Summary) -> dict[str, list[Any]]:
    facts_a, facts_b = _facts(a), _facts(b)
    return {k: [facts_a[k], facts_b[k]] for k in facts_a if facts_a[k] != facts_b[k]}


def _facts(summary: Summary) -> dict[str, Any]:
    metrics = summary.metrics
    return {
        "status": summary.status,
        "finish_reason": summary.finish_reason,
        "reward": summary.reward,
        "llm_calls": metrics.get("num_llm_calls"),
        "tool_calls": metrics.get("num_tool_calls"),
        "prompt_tokens": metrics.get("prompt_tokens"),
        "response_tokens": metrics.get("response_tokens"),
        "latency_ms": _rounded(metrics.get("total_latency_ms")),
        "violations": len(summary.violations),
    }


def _rounded(value: Any) -> Any:
    return round(value, 1) if isinstance(value, float) else value
