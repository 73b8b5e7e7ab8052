"""One trajectory shaped for the rollout page: turns in order, each tool call beside its result.

The pairing of calls and results happens here (by `tool_call_id`), not in the page, so
the script only lays out what it gets. Everything returned still passes through
`safety.shown` before it is sent.
"""

from __future__ import annotations

import json
from typing import Any

from rolloutctl.eval.results import Outcome
from rolloutctl.trajectory.summary import summarize
from rolloutctl.trajectory.text import decode_arguments, display_content, is_error_result
from rolloutctl.view.records import answer_of, failure_category, prompt_of

__all__ = ["record_view", "trajectory_view"]

RECORD_FACTS = (
    "row", "id", "epoch", "rollout_id", "status", "error_category", "error_message",
    "finish_reason", "reward", "grader_error", "latency_ms", "metrics", "violations",
)  # fmt: skip


def record_view(record: dict[str, Any]) -> dict[str, Any]:
    """An eval record: its own facts (the graded reward) over those of its trajectory."""
    traj = record.get("trajectory") or {}
    view = trajectory_view(traj)
    view["facts"] |= {k: record[k] for k in RECORD_FACTS if k in record}
    view["failure"] = failure_category(Outcome.of(record))
    view["grader"] = _grader(record, traj)
    return view


def trajectory_view(traj: dict[str, Any]) -> dict[str, Any]:
    """A trajectory document (native, completion payload or ATIF, as loaded)."""
    summary = summarize(traj)
    results = _results(traj)
    completion = traj.get("completion")
    return {
        "facts": {
            "rollout_id": summary.rollout_id,
            "status": summary.status,
            "finish_reason": summary.finish_reason,
            "error_message": summary.error,
            "reward": summary.reward,
            "metrics": summary.metrics,
            "violations": summary.violations,
            "tool_calls": summary.tool_calls,
            "failed_tool_calls": summary.failed_tool_calls,
            "source": summary.source,
        },
        "prompt": prompt_of(traj),
        "answer": answer_of(traj),
        "turns": [_turn(turn, results) for turn in traj.get("turns") or []],
        "final_messages": _unpaired(traj.get("final_added") or [], results),
        "metadata": (traj.get("init") or {}).get("metadata") or {},
        "tools": [(t.get("function") or t).get("name") for t in traj.get("tools") or []],
        "completion": completion,
        "started_at": traj.get("started_at"),
        "protocol": traj.get("protocol"),
    }


def _results(traj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Tool result messages by the id of the call they answer."""
    messages = [m for t in traj.get("turns") or [] for m in t.get("added") or []]
    messages += traj.get("final_added") or []
    return {
        str(m["tool_call_id"]): m
        for m in messages
        if m.get("role") == "tool" and m.get("tool_call_id") is not None
    }


def _turn(turn: dict[str, Any], results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    assistant = turn.get("assistant") or {}
    return {
        "index": turn.get("index"),
        "latency_ms": turn.get("latency_ms"),
        "usage": turn.get("usage"),
        "finish_reason": turn.get("finish_reason"),
        "failed_attempts": turn.get("failed_attempts") or [],
        "messages": _unpaired(turn.get("added") or [], results),
        "reply": display_content(assistant.get("content")) if assistant else None,
        "reasoning": assistant.get("reasoning_content"),
        "calls": [_call(call, results) for call in assistant.get("tool_calls") or []],
    }


def _unpaired(messages: list[dict[str, Any]], results: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages to show on their own: every one but a tool result shown beside its call."""
    return [
        {"role": str(m.get("role")), "content": display_content(m.get("content"))}
        for m in messages
        if not (m.get("role") == "tool" and str(m.get("tool_call_id")) in results)
    ]


def _call(call: dict[str, Any], results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments, valid = decode_arguments(function.get("arguments"))
    result = results.get(str(call.get("id")))
    content = display_content(result.get("content")) if result else None
    return {
        "id": call.get("id"),
        "name": str(function.get("name")),
        "arguments": json.dumps(arguments, ensure_ascii=False) if valid else str(arguments),
        "result": content,
        "error": result is not None and is_error_result(result.get("content")),
    }


def _grader(record: dict[str, Any], traj: dict[str, Any]) -> dict[str, Any]:
    """The reward and where it came from: the grader's, or the agent's own."""
    completion = traj.get("completion") or {}
    metadata = (traj.get("init") or {}).get("metadata") or {}
    return {
        "reward": record.get("reward"),
        "agent_reward": completion.get("reward"),
        "ground_truth": metadata.get("ground_truth"),
        "error": record.get("grader_error"),
    }
