"""A checker of OpenAI's chat fine-tuning format, one JSONL line at a time.

What it enforces is what the fine-tuning data guide documents: a `messages` list of
system/user/assistant/tool messages with at least one assistant message; assistant
tool calls with unique ids, type `function`, a declared tool name and arguments that
are a JSON object in a string; every call answered by exactly one tool message, in the
messages right after it, before the conversation goes on.
"""

from __future__ import annotations

import json
from typing import Any

ROLE_KEYS = {
    "system": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls", "weight"},
    "tool": {"role", "content", "tool_call_id"},
}


def problems(line: str) -> list[str]:
    """Everything wrong with one line; [] when it is a valid training example."""
    try:
        example = json.loads(line)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    if not isinstance(example, dict) or not isinstance(example.get("messages"), list):
        return ["a line must be an object with a 'messages' list"]
    found = [f"unknown top-level key {k!r}" for k in example if k not in ("messages", "tools")]
    tools, tool_problems = _tool_names(example.get("tools"))
    found += tool_problems
    found += _message_problems(example["messages"], tools)
    return found


def _tool_names(tools: Any) -> tuple[set[str] | None, list[str]]:
    if tools is None:
        return None, []
    if not isinstance(tools, list):
        return set(), ["'tools' must be a list"]
    names, found = set(), []
    for number, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(function, dict):
            found.append(f"tools[{number}] must be {{type: function, function: {{...}}}}")
            continue
        if not isinstance(function.get("name"), str):
            found.append(f"tools[{number}] has no name")
        if not isinstance(function.get("parameters", {}), dict):
            found.append(f"tools[{number}].parameters must be an object")
        names.add(str(function.get("name")))
    return names, found


def _message_problems(messages: list[Any], tools: set[str] | None) -> list[str]:
    found: list[str] = []
    pending: set[str] = set()  # call ids not answered yet
    seen_ids: set[str] = set()
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        found.append("no assistant message to learn from")
    for number, message in enumerate(messages):
        where = f"messages[{number}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ROLE_KEYS:
            found.append(f"{where}: role {role!r} is not system, user, assistant or tool")
            continue
        found += [f"{where}: unknown key {k!r}" for k in message if k not in ROLE_KEYS[role]]
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                found.append(f"{where}: tool_call_id {call_id!r} answers no pending call")
            pending.discard(call_id)
            if not isinstance(message.get("content"), str):
                found.append(f"{where}: tool content must be a string")
            continue
        if pending:
            found.append(f"{where}: calls {sorted(pending)} were never answered")
            pending = set()
        if role == "assistant":
            new, call_problems = _calls(message, where, tools, seen_ids)
            pending, found = new, found + call_problems
        elif not isinstance(message.get("content"), str | list):
            found.append(f"{where}: content must be a string or a list of parts")
    if pending:
        found.append(f"calls {sorted(pending)} were never answered")
    return found


def _calls(
    message: dict[str, Any], where: str, tools: set[str] | None, seen_ids: set[str]
) -> tuple[set[str], list[str]]:
    calls = message.get("tool_calls")
    if calls is None:
        ok = isinstance(message.get("content"), str)
        return set(), [] if ok else [f"{where}: an assistant message needs content or tool_calls"]
    found, ids = [], set()
    for index, call in enumerate(calls if isinstance(calls, list) else []):
        at = f"{where}.tool_calls[{index}]"
        call_id, function = call.get("id"), call.get("function") or {}
        if not isinstance(call_id, str) or not call_id or call_id in seen_ids:
            found.append(f"{at}: id must be a unique non-empty string")
        if call.get("type") != "function":
            found.append(f"{at}: type must be 'function'")
        if tools is not None and function.get("name") not in tools:
            found.append(f"{at}: tool {function.get('name')!r} is not in 'tools'")
        try:
            arguments = json.loads(function.get("arguments"))  # type: ignore[arg-type]  # a non-string is what this tests for
        except (TypeError, ValueError):
            arguments = None
        if not isinstance(arguments, dict):
            found.append(f"{at}: arguments must be a JSON object in a string")
        ids.add(call_id)
        seen_ids.add(call_id)
    if not isinstance(calls, list) or not calls:
        found.append(f"{where}: tool_calls must be a non-empty list")
    return ids, found
