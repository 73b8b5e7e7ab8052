"""From events (live) or a saved trajectory (replay) to the items a view prints.

`TrajectoryBuilder` folds the mock trainer's events into a trajectory and returns, for
each event, only what it newly shows, so a live view prints every message exactly once;
`trajectory_items` yields the same items for a whole saved trajectory.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from enum import StrEnum
from itertools import takewhile
from typing import Any

from rolloutctl.events import Event
from rolloutctl.trajectory.document import (
    TOKEN_FIELDS,
    blank_trajectory,
    iso_time,
    new_turn,
    scrubbed,
)

__all__ = [
    "ItemKind",
    "RenderItem",
    "TrajectoryBuilder",
    "header_item",
    "select_items",
    "trajectory_items",
]


class ItemKind(StrEnum):
    HEADER = "header"  # data: {"rollout_id", "tools": [names]}, once the tools are known;
    # "per_request": the protocol offers them with each chat request (Osmosis 0.3);
    # "learned": the tools of the first chat request, shown as they become known
    MESSAGE = "message"  # data: the message; call: the tool call a tool message answers
    STATS = "stats"  # data: the turn (latency_ms, usage, finish_reason)
    FAILED_CALL = "failed_call"  # data: {"status_code", "latency_ms"}
    INIT_ERROR = "init_error"  # data: {"status_code", "body"}
    VIOLATION = "violation"  # data: {"rule", "message"}


@dataclass(frozen=True, slots=True)
class RenderItem:
    """One thing for a view to print, tagged with its turn (None: after the last turn).

    A tool result carries the turn of the call it answers, so it prints under that call.
    """

    kind: ItemKind
    data: dict[str, Any]
    step: int | None = None
    call: dict[str, Any] | None = None

    @property
    def role(self) -> str | None:
        return self.data.get("role") if self.kind is ItemKind.MESSAGE else None


def trajectory_items(traj: dict[str, Any]) -> list[RenderItem]:
    """The items of a whole trajectory, as the live view showed them (minus violations)."""
    calls: dict[Any, tuple[dict[str, Any], int | None]] = {}
    items = [header_item(traj)] if traj.get("tools") or _ok(traj.get("init_status_code")) else []
    for turn in traj["turns"]:
        step = turn.get("index")
        items += _message_items(turn["added"], step, calls)
        failed = turn.get("failed_attempts") or []
        items += [RenderItem(ItemKind.FAILED_CALL, attempt, step) for attempt in failed]
        if turn.get("assistant") is not None:
            items += _response_items(turn, calls)
    return items + _message_items(traj["final_added"], None, calls)


def header_item(traj: dict[str, Any], learned: bool = False) -> RenderItem:
    """What the view's header shows of a trajectory: its id and the names of its tools;
    `learned`: they have just become known from the first chat request (0.3)."""
    names = [
        str((tool.get("function") or {}).get("name"))
        for tool in traj.get("tools") or []
        if isinstance(tool, dict)
    ]
    data: dict[str, Any] = {"rollout_id": traj.get("rollout_id"), "tools": names}
    if traj.get("protocol") == "osmosis":
        data["per_request"] = True
    return RenderItem(ItemKind.HEADER, data | ({"learned": True} if learned else {}))


def select_items(
    items: list[RenderItem], step: int | None, last: int | None, role: str | None, tools: bool
) -> list[RenderItem]:
    """Replay's filters: one turn, tool results hidden, one role, the last K messages."""
    items = [i for i in items if i.kind is not ItemKind.HEADER or not (step or role or last)]
    items = [i for i in items if step is None or i.step == step]
    items = [i for i in items if tools or i.role != "tool"]
    items = [i for i in items if role is None or i.role == role]
    starts = [n for n, item in enumerate(items) if item.kind is ItemKind.MESSAGE]
    if last is not None and len(starts) > last:
        items = items[starts[-last] :] if last > 0 else []
    return items


Calls = dict[Any, tuple[dict[str, Any], int | None]]  # call id: (the call, its turn)


def _message_items(
    messages: list[dict[str, Any]], step: int | None, calls: Calls
) -> list[RenderItem]:
    """Items for `messages`; `calls` collects tool calls so results can name theirs."""
    items = []
    for message in messages:
        is_tool = message.get("role") == "tool"
        call, call_step = (
            calls.get(message.get("tool_call_id"), (None, step)) if is_tool else (None, step)
        )
        items.append(RenderItem(ItemKind.MESSAGE, message, call_step, call))
        for tool_call in message.get("tool_calls") or []:
            if isinstance(tool_call, dict):
                calls[tool_call.get("id")] = (tool_call, step)
    return items


def _response_items(turn: dict[str, Any], calls: Calls) -> list[RenderItem]:
    stats = RenderItem(ItemKind.STATS, turn, turn.get("index"))
    return [*_message_items([turn["assistant"]], turn.get("index"), calls), stats]


class TrajectoryBuilder:
    """Folds one rollout's events into a trajectory, saying what each event adds to the view."""

    def __init__(self, rollout_id: str | None = None) -> None:
        self._traj = blank_trajectory(rollout_id)
        self._seen: list[dict[str, Any]] = []  # the history as far as it has been shown
        self._calls: Calls = {}
        self._open: dict[str, Any] | None = None  # the turn whose chat call has not succeeded
        self._last_request: list[dict[str, Any]] | None = None

    def add(self, event: Event) -> list[RenderItem]:
        """Record `event`; return the items it makes visible (none for other rollouts)."""
        traj = self._traj
        traj["rollout_id"] = traj["rollout_id"] or event.rollout_id
        if event.rollout_id != traj["rollout_id"]:
            return []
        traj["started_at"] = traj["started_at"] or iso_time(event.ts)
        if traj["completion"] is None:  # the rollout's span ends at its completion
            traj["finished_at"] = iso_time(event.ts)
        return getattr(self, f"_on_{event.kind.value}")(scrubbed(event.data))

    @property
    def rollout_id(self) -> str | None:
        return self._traj["rollout_id"]

    def interrupted(self) -> dict[str, Any]:
        """The trajectory so far, stopped now (Ctrl-C): its time runs to the interruption,
        not to the last event seen."""
        traj = self.trajectory() | {"interrupted": True}
        if traj["completion"] is None and traj["started_at"]:
            traj["finished_at"] = iso_time(time.time())
        return traj

    def trajectory(self, copy_it: bool = True) -> dict[str, Any]:
        """The trajectory so far; `copy_it=False` hands over the builder's own (no more adds)."""
        return copy.deepcopy(self._traj) if copy_it else self._traj

    def _on_init_sent(self, data: dict[str, Any]) -> list[RenderItem]:
        self._traj["init"] = data.get("request")
        return []

    def _on_init_response(self, data: dict[str, Any]) -> list[RenderItem]:
        self._traj["init_status_code"] = data.get("status_code")
        if not _ok(data.get("status_code")):
            return [RenderItem(ItemKind.INIT_ERROR, data)]
        body = data.get("body") or {}
        self._traj["tools"] = body.get("tools") or []
        if body.get("tools_offered") == "per_request":
            self._traj["protocol"] = "osmosis"
        return [header_item(self._traj)]

    def _on_chat_request(self, data: dict[str, Any]) -> list[RenderItem]:
        messages = _messages((data.get("body") or {}).get("messages"))
        if self._open is not None or messages == self._last_request:
            return []  # a retry: of the open call, or of one whose answer got lost on the way
        self._last_request = messages
        self._open = new_turn(len(self._traj["turns"]) + 1, _new_messages(messages, self._seen))
        self._traj["turns"].append(self._open)
        self._seen = list(messages)
        learned = self._learn_tools((data.get("body") or {}).get("tools"))
        return learned + _message_items(self._open["added"], self._open["index"], self._calls)

    def _learn_tools(self, tools: Any) -> list[RenderItem]:
        """Where tools come with each chat request (0.3), the first request's are the ones
        the workflow really offered: the header learns them."""
        if self._traj.get("protocol") != "osmosis" or self._traj["tools"] or not tools:
            return []
        self._traj["tools"] = tools if isinstance(tools, list) else []
        return [header_item(self._traj, learned=True)]

    def _on_chat_response(self, data: dict[str, Any]) -> list[RenderItem]:
        turn = self._open
        if turn is None:
            return []
        if not _ok(data.get("status_code")):
            attempt = {"status_code": data.get("status_code"), "latency_ms": data.get("latency_ms")}
            turn["failed_attempts"].append(attempt)
            return [RenderItem(ItemKind.FAILED_CALL, attempt, turn["index"])]
        self._open = None
        _fill_turn(turn, data)
        self._seen.append(turn["assistant"])
        return _response_items(turn, self._calls)

    def _on_completion(self, data: dict[str, Any]) -> list[RenderItem]:
        if self._traj["completion"] is not None:
            return []  # a second completion: the trainer reports it as a violation
        body = data.get("body") or {}
        self._traj["completion"] = body
        final = _messages(body.get("final_messages"))
        self._traj["final_added"] = _new_messages(final, self._seen)
        return _message_items(self._traj["final_added"], None, self._calls)

    def _on_violation(self, data: dict[str, Any]) -> list[RenderItem]:
        self._traj["violations"].append(data)
        return [RenderItem(ItemKind.VIOLATION, data)]


def _ok(status: Any) -> bool:
    return isinstance(status, int) and 200 <= status < 300


def _fill_turn(turn: dict[str, Any], data: dict[str, Any]) -> None:
    body = data.get("body") or {}
    choice = (body.get("choices") or [{}])[0]
    turn["assistant"] = choice.get("message") or {"role": "assistant", "content": None}
    turn["finish_reason"] = choice.get("finish_reason") or "stop"
    turn["usage"] = body.get("usage")
    turn["latency_ms"] = data.get("latency_ms")
    turn.update({key: body[key] for key in TOKEN_FIELDS if body.get(key) is not None})


def _messages(value: Any) -> list[dict[str, Any]]:
    """The message objects of `value`; a broken server's other values are skipped."""
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


def _new_messages(
    messages: list[dict[str, Any]], seen: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """`messages` from the first one that differs from what was already seen."""
    pairs = zip(messages, seen, strict=False)
    shared = sum(1 for _ in takewhile(lambda pair: _same(*pair), pairs))
    return messages[shared:]


def _same(message: dict[str, Any], seen: dict[str, Any]) -> bool:
    """Equal up to null fields, which a server may drop when it echoes a message."""
    return {k: v for k, v in message.items() if v is not None} == {
        k: v for k, v in seen.items() if v is not None
    }
