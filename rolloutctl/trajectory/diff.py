"""`rolloutctl diff`: where two rollouts part ways, and how their outcomes differ.

Trajectories are compared turn by turn (the messages a turn added, then its reply,
and what the completion added at the end). Tool call ids are numbered by order of
appearance before comparing, so two runs of a model that makes up random ids still
count as the same when they called the same tools with the same arguments.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Any

from rolloutctl.trajectory.summary import summarize

__all__ = [
    "DiffResult",
    "diff_trajectories",
]

END = "end"  # the pseudo-turn of the messages the completion added after the last turn


@dataclass
class DiffResult:
    first_difference: int | str | None  # a turn index, END, or None when the same
    lines: list[str] = field(default_factory=list)  # the unified diff from that turn on
    summary: dict[str, list[Any]] = field(default_factory=dict)  # field -> [a, b], if differ

    @property
    def same(self) -> bool:
        return self.first_difference is None


def diff_trajectories(a: dict[str, Any], b: dict[str, Any]) -> DiffResult:
    turns_a, turns_b = _turns(a), _turns(b)
    first = next(
        (i for i, (x, y) in enumerate(zip(turns_a, turns_b, strict=False)) if x[1] != y[1]),
        None,
    )
    if first is None and len(turns_a) != len(turns_b):
        first = min(len(turns_a), len(turns_b))
    result = DiffResult(None, summary=_summary_differences(a, b))
    if first is None:
        return result
    longer = turns_a if first < len(turns_a) else turns_b
    result.first_difference = longer[first][0]
    result.lines = list(
        difflib.unified_diff(
            _text(turns_a[first:]), _text(turns_b[first:]), "A", "B", lineterm="", n=2
        )
    )
    return result


def _turns(traj: dict[str, Any]) -> list[tuple[int | str, list[dict[str, Any]]]]:
    """(turn index, its normalised messages); the completion's additions come last. The
    tool results that answer a turn's calls belong to that turn, as `replay` shows them,
    though the wire carries them in the next request."""
    ids: dict[Any, str] = {}
    turns: list[tuple[int | str, list[dict[str, Any]]]] = []
    sources: list[tuple[Any, list[Any], dict[str, Any] | None]] = [
        (t.get("index"), t.get("added") or [], t.get("assistant") or {})
        for t in traj.get("turns") or []
    ]
    sources.append((END, traj.get("final_added") or [], None))
    for index, added, reply in sources:
        results = list(takewhile(lambda m: isinstance(m, dict) and m.get("role") == "tool", added))
        if turns:
            turns[-1][1].extend(_normal(m, ids) for m in results)
        else:
            results = []
        messages = [*added[len(results) :], *([reply] if reply is not None else [])]
        if messages or index != END:
            turns.append((index, [_normal(m, ids) for m in messages]))
    return turns


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


def _text(turns: list[tuple[int | str, list[dict[str, Any]]]]) -> list[str]:
    lines = []
    for index, messages in turns:
        lines.append(f"--- turn {index} ---")
        for message in messages:
            lines += _message_lines(message)
    return lines


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


def _summary_differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, list[Any]]:
    facts_a, facts_b = _facts(a), _facts(b)
    return {k: [facts_a[k], facts_b[k]] for k in facts_a if facts_a[k] != facts_b[k]}


def _facts(traj: dict[str, Any]) -> dict[str, Any]:
    summary = summarize(traj)
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
