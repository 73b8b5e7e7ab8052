"""Readers for the foreign documents replay accepts (a completion payload and ATIF),
and the ATIF writer `export --format atif` uses.

The readers only recover the conversation and what is known about each LLM call; the
trajectory module folds that into its own shape, so rendering never sees the difference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from rolloutctl.protocol import CompletedRequest

__all__ = [
    "Imported",
    "read_foreign",
    "to_atif",
]

# The agent step fields a turn is rebuilt from (an export writes them again).
_ATIF_STEP_FIELDS = frozenset(
    {"step_id", "source", "message", "tool_calls", "observation", "reasoning_content", "metrics"}
)
# Our turn field -> the ATIF step metrics field holding the same numbers.
_ATIF_TOKEN_FIELDS = {
    "token_ids": "completion_token_ids",
    "logprobs": "logprobs",
    "prompt_token_ids": "prompt_token_ids",
}


@dataclass(slots=True)
class Imported:
    """A foreign document reduced to the history plus per-assistant-message facts."""

    rollout_id: str | None
    messages: list[dict[str, Any]]
    origin: dict[str, Any]
    turn_extras: list[dict[str, Any]] = field(default_factory=list)
    completion: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)


def read_foreign(raw: dict[str, Any]) -> Imported:
    """Recognise a completion payload or an ATIF document; ValueError for anything else."""
    if str(raw.get("schema_version", "")).startswith("ATIF-"):
        return _from_atif(raw)
    if "final_messages" in raw or "status" in raw:
        return _from_completion(raw)
    if not raw:
        raise ValueError("empty JSON object (no rollout recorded)")
    keys = ", ".join(sorted(raw)[:6])
    raise ValueError(
        f"not a rolloutctl trajectory, completion payload or ATIF trajectory (keys: {keys})"
    )


def _from_completion(raw: dict[str, Any]) -> Imported:
    try:
        CompletedRequest.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ValueError(f"not a valid completion payload: {where}: {error['msg']}") from None
    origin = {"format": "completion"}
    return Imported(raw["rollout_id"], raw["final_messages"], origin, completion=raw)


def _from_atif(raw: dict[str, Any]) -> Imported:
    steps = raw.get("steps")
    if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
        raise ValueError("ATIF document: 'steps' must be a list of objects")
    messages: list[dict[str, Any]] = []
    extras: list[dict[str, Any]] = []
    for step in steps:
        messages += _atif_step_messages(step)
        if step["source"] == "agent":
            extras.append(_atif_metrics(step.get("metrics") or {}) | _atif_rest(step))
    agent = raw.get("agent") or {}
    osmosis = (raw.get("extra") or {}).get("osmosis") or {}
    origin = {
        "format": "atif",
        "schema_version": raw["schema_version"],
        "agent": f"{agent.get('name', '?')} {agent.get('version', '')}".strip(),
        "reward": osmosis.get("reward"),
        "sample_metrics": osmosis.get("sample_metrics") or {},
        "atif": {  # what an ATIF export of this trajectory gives back as it was
            "trajectory_id": raw.get("trajectory_id"),
            "agent": raw.get("agent"),
            "osmosis": osmosis,
        },
    }
    rollout_id = osmosis.get("rollout_id") or raw.get("session_id")
    tools = agent.get("tool_definitions") or []
    return Imported(rollout_id, messages, origin, extras, tools=tools)


def _atif_step_messages(step: dict[str, Any]) -> list[dict[str, Any]]:
    """The OpenAI messages one ATIF step stands for: the message, then its tool results."""
    source = step.get("source")
    if source not in ("system", "user", "agent"):
        raise ValueError(f"ATIF step {step.get('step_id')}: unknown source {source!r}")
    results = (step.get("observation") or {}).get("results") or []
    tool_messages = [_atif_tool_message(result) for result in results]
    if source == "agent":
        return [_atif_assistant(step), *tool_messages]
    if tool_messages and not step.get("message"):
        return tool_messages  # a tool result with no agent turn before it
    return [{"role": source, "content": _atif_text(step.get("message"))}, *tool_messages]


def _atif_assistant(step: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": _atif_text(step.get("message"))}
    calls = [_atif_call(call) for call in step.get("tool_calls") or []]
    if calls:
        message["tool_calls"] = calls
    if step.get("reasoning_content"):
        message["reasoning_content"] = step["reasoning_content"]
    return message


def _atif_call(call: dict[str, Any]) -> dict[str, Any]:
    arguments = call.get("arguments") or {}
    raw = arguments.get("_raw") if set(arguments) == {"_raw"} else None
    text = raw if isinstance(raw, str) else json.dumps(arguments, ensure_ascii=False)
    function = {"name": call.get("function_name", "?"), "arguments": text}
    return {"id": call.get("tool_call_id"), "type": "function", "function": function}


def _atif_tool_message(result: dict[str, Any]) -> dict[str, Any]:
    call_id = result.get("source_call_id") or (result.get("extra") or {}).get("tool_call_id")
    return {"role": "tool", "content": _atif_text(result.get("content")), "tool_call_id": call_id}


def _atif_text(content: Any) -> str:
    """ATIF content is a string or a list of text/image parts; images become a note."""
    if isinstance(content, list):
        return "\n".join(_atif_part(part) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _atif_part(part: dict[str, Any]) -> str:
    if part.get("type") == "text":
        return str(part.get("text", ""))
    return f"[image: {(part.get('source') or {}).get('path', '?')}]"


def _atif_rest(step: dict[str, Any]) -> dict[str, Any]:
    """What an agent step holds beyond what a turn records (`model_name`, `llm_call_count`,
    `timestamp`, its whole `metrics`...), as the turn's `atif_step`, for the export."""
    rest = {k: v for k, v in step.items() if k not in _ATIF_STEP_FIELDS or k == "metrics"}
    return {"atif_step": rest} if rest else {}


def _atif_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if "prompt_tokens" in metrics or "completion_tokens" in metrics:
        prompt = metrics.get("prompt_tokens") or 0
        completion = metrics.get("completion_tokens") or 0
        extras["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    for ours, theirs in _ATIF_TOKEN_FIELDS.items():
        if metrics.get(theirs) is not None:
            extras[ours] = metrics[theirs]
    return extras


ATIF_VERSION = "ATIF-v1.7"


def to_atif(
    rollout_id: str | None,
    turns: list[dict[str, Any]],
    final_added: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    reward: float | None = None,
    kept: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An ATIF document of a history given as turns, the shape `_from_atif` reads back.

    Tool results fold into the agent step whose calls they answer (ATIF's
    `observation`); a result answering no call of the step before it becomes a step
    of its own, its call id kept in `extra`. `kept` (of a trajectory read from ATIF)
    gives back its `trajectory_id`, `agent` and every `extra.osmosis` field.
    """
    from rolloutctl import __version__

    steps: list[dict[str, Any]] = []
    for turn in turns:
        _atif_add_messages(steps, turn.get("added") or [])
        if turn.get("assistant") is not None:
            steps.append(_atif_agent_step(len(steps) + 1, turn))
    _atif_add_messages(steps, final_added)
    agent: dict[str, Any] = {"name": "rolloutctl", "version": __version__}
    if tools:
        agent["tool_definitions"] = tools
    doc: dict[str, Any] = {
        "schema_version": ATIF_VERSION,
        "session_id": rollout_id,
        "agent": agent,
        "steps": steps,
        "final_metrics": _atif_final_metrics(steps),
        "extra": {"osmosis": {"rollout_id": rollout_id, "reward": reward}},
    }
    return _with_kept(doc, kept) if kept else doc


def _with_kept(doc: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
    osmosis = {**(kept.get("osmosis") or {}), **doc["extra"]["osmosis"]}
    if doc["extra"]["osmosis"]["reward"] is None:
        osmosis["reward"] = (kept.get("osmosis") or {}).get("reward")
    doc["extra"]["osmosis"] = {k: v for k, v in osmosis.items() if v is not None}
    if isinstance(kept.get("agent"), dict):
        doc["agent"] = kept["agent"]
    if kept.get("trajectory_id") is not None:
        doc["trajectory_id"] = kept["trajectory_id"]
    return doc


def _atif_add_messages(steps: list[dict[str, Any]], messages: list[dict[str, Any]]) -> None:
    for message in messages:
        role = message.get("role")
        if role == "tool":
            _atif_add_result(steps, message)
        elif role == "assistant":  # a message the completion added without an LLM call
            steps.append(_atif_agent_step(len(steps) + 1, {"assistant": message}))
        else:
            source = role if role in ("system", "user") else "user"
            text = _atif_text(message.get("content"))
            steps.append({"step_id": len(steps) + 1, "source": source, "message": text})


def _atif_add_result(steps: list[dict[str, Any]], message: dict[str, Any]) -> None:
    call_id = message.get("tool_call_id")
    result: dict[str, Any] = {"content": _atif_text(message.get("content"))}
    last = steps[-1] if steps else None
    calls = {c["tool_call_id"] for c in (last or {}).get("tool_calls") or []}
    if last is not None and call_id in calls:
        last.setdefault("observation", {"results": []})["results"].append(
            {"source_call_id": call_id, **result}
        )
        return
    orphan = {**result, "extra": {"tool_call_id": call_id}}
    steps.append(
        {
            "step_id": len(steps) + 1,
            "source": "user",
            "message": "",
            "observation": {"results": [orphan]},
        }
    )


def _atif_agent_step(step_id: int, turn: dict[str, Any]) -> dict[str, Any]:
    message = turn["assistant"]
    step: dict[str, Any] = {
        "step_id": step_id,
        "source": "agent",
        "message": _atif_text(message.get("content")),
    }
    calls = [_atif_tool_call(call) for call in message.get("tool_calls") or []]
    if calls:
        step["tool_calls"] = calls
    if message.get("reasoning_content"):
        step["reasoning_content"] = message["reasoning_content"]
    kept = turn.get("atif_step") or {}
    metrics = (kept.get("metrics") or {}) | _atif_step_metrics(turn)
    if metrics:
        step["metrics"] = metrics
    return {**step, **{k: v for k, v in kept.items() if k not in step}}


def _atif_tool_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    text = function.get("arguments")
    try:
        arguments = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict) or set(arguments) == {"_raw"}:
        arguments = {"_raw": text if isinstance(text, str) else json.dumps(text)}
    return {
        "tool_call_id": str(call.get("id")),
        "function_name": str(function.get("name", "?")),
        "arguments": arguments,
    }


def _atif_step_metrics(turn: dict[str, Any]) -> dict[str, Any]:
    usage = turn.get("usage") or {}
    metrics: dict[str, Any] = {}
    if usage:
        metrics["prompt_tokens"] = usage.get("prompt_tokens") or 0
        metrics["completion_tokens"] = usage.get("completion_tokens") or 0
    for ours, theirs in _ATIF_TOKEN_FIELDS.items():
        if turn.get(ours) is not None:
            metrics[theirs] = turn[ours]
    return metrics


def _atif_final_metrics(steps: list[dict[str, Any]]) -> dict[str, Any]:
    metrics = [step.get("metrics") or {} for step in steps]
    return {
        "total_prompt_tokens": sum(m.get("prompt_tokens", 0) for m in metrics),
        "total_completion_tokens": sum(m.get("completion_tokens", 0) for m in metrics),
        "total_steps": len(steps),
    }
