"""Protocol checks the mock trainer runs on what a RolloutServer sends it.

Each check is a pure function returning findings as (rule, message) pairs; the
trainer records them as Violations. Messages never contain an api_key.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from hmac import compare_digest
from typing import Any

from pydantic import ValidationError

from rolloutctl.protocol import CompletedRequest

__all__ = [
    "Messages",
    "Violation",
    "ViolationFinding",
    "bearer_finding",
    "history_breach",
    "message_shape_problem",
    "params_finding",
    "payload_finding",
    "tool_message_findings",
]

ViolationFinding = tuple[str, str]
Messages = list[dict[str, Any]]


@dataclass(slots=True)
class Violation:
    rule: str  # short id, e.g. "history_not_append_only"
    rollout_id: str
    message: str  # one line
    ts: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "rollout_id": self.rollout_id,
            "message": self.message,
            "ts": self.ts,
        }


def _same_message(sent: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Verbatim, except that a None field may be left out."""
    if sent == expected:
        return True

    def strip(m: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in m.items() if v is not None}

    return isinstance(sent, dict) and strip(sent) == strip(expected)


def history_breach(
    previous: Messages, returned: dict[str, Any] | None, messages: Messages
) -> str | None:
    """Why `messages` does not start with `previous` then `returned`, or None."""
    size = len(previous)
    if messages[:size] != previous:
        if len(messages) < size:
            return f"history shrank from {size} to {len(messages)} messages"
        index = next(i for i, (a, b) in enumerate(zip(messages, previous, strict=False)) if a != b)
        role = previous[index].get("role", "?")
        return f"message {index} ({role}) was changed since the previous request"
    if returned is None:
        return None
    if len(messages) <= size:
        return f"the assistant message returned last time is missing (expected at index {size})"
    if not _same_message(messages[size], returned):
        return f"message {size} is not the assistant message returned last time, verbatim"
    return None


def tool_message_findings(
    messages: Messages, start: int = 0, strict_end: bool = True
) -> list[ViolationFinding]:
    """Tool messages from `start` on: each answers a call of the assistant just before, in order."""
    found: list[ViolationFinding] = []
    pending: list[Any] = []
    calls: set[Any] = set()
    for index in range(start, len(messages)):
        message = messages[index]
        role = message.get("role")
        if role == "tool":
            _match_tool(message.get("tool_call_id"), index, pending, calls, found)
            continue
        if pending:
            found.append(_missing(pending, index))
        pending = [call.get("id") for call in message.get("tool_calls") or ()]
        calls = set(pending) if role == "assistant" else set()
    if pending and strict_end:
        found.append(_missing(pending, len(messages)))
    return found


def _match_tool(
    call_id: Any, index: int, pending: list[Any], calls: set[Any], found: list[ViolationFinding]
) -> None:
    if call_id not in calls:
        found.append(
            (
                "tool_call_id_unknown",
                f"message {index}: tool_call_id {call_id!r} "
                "matches no call of the assistant message before it",
            )
        )
    elif pending and pending[0] == call_id:
        pending.pop(0)
    elif call_id in pending:
        found.append(
            ("tool_message_order", f"message {index}: tool messages are not in call order")
        )
        pending.remove(call_id)
    else:
        found.append(
            ("tool_message_duplicate", f"message {index}: call {call_id!r} answered twice")
        )


def _missing(pending: list[Any], index: int) -> ViolationFinding:
    ids = ", ".join(repr(i) for i in pending)
    return ("tool_message_missing", f"no tool message for call(s) {ids} before message {index}")


def bearer_finding(key: str | None, header: bytes | None) -> ViolationFinding | None:
    """The callback's Authorization against the init's api_key (None: the init had none)."""
    if key is None:
        if header is None:
            return None
        return ("bearer_unexpected", "Authorization header sent although the init had no api_key")
    if header is None:
        return ("bearer_missing", "no Authorization header although the init carried an api_key")
    if not compare_digest(header, b"Bearer " + key.encode()):
        return ("bearer_wrong", "Authorization header does not carry the init's api_key")
    return None


def params_finding(params: dict[str, Any], body: dict[str, Any]) -> ViolationFinding | None:
    """completion_params from the init must sit at the top level of every chat request."""
    lost = [
        k
        for k, v in params.items()
        if k not in ("model", "rollout_id", "messages") and not _same(body.get(k, _ABSENT), v)
    ]
    if not lost:
        return None
    return (
        "completion_params_missing",
        f"completion_params not copied as given: {', '.join(lost)}",
    )


_ABSENT = object()


def _same(sent: Any, given: Any) -> bool:
    """Equal, counting NaN as NaN (a copied NaN is copied, though NaN != NaN)."""
    if isinstance(sent, float) and isinstance(given, float) and math.isnan(sent):
        return math.isnan(given)
    return bool(sent == given)


def message_shape_problem(messages: Messages) -> str | None:
    """The first message whose role, content or tool_calls a chat model could not read,
    named by its index: the trainer answers 400 instead of failing on it later."""
    for index, message in enumerate(messages):
        if not isinstance(message.get("role"), str):
            return f"messages[{index}].role: required, a string"
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            return f"messages[{index}].content: must be a string, a list of parts or null"
        calls = message.get("tool_calls")
        if calls is not None and not _call_list(calls):
            return f"messages[{index}].tool_calls: must be a list of objects with a 'function'"
    return None


def _call_list(calls: Any) -> bool:
    return isinstance(calls, list) and all(
        isinstance(call, dict) and isinstance(call.get("function"), dict) for call in calls
    )


def payload_finding(body: dict[str, Any]) -> ViolationFinding | None:
    """The completed payload against the protocol's CompletedRequest schema."""
    try:
        CompletedRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return ("completion_invalid", f"completed payload does not parse: {where}: {first['msg']}")
    return None
