"""Trajectory files: one rollout as a versioned JSON document (described in docs/configuration.md).

`trajectory_builder` builds one from the mock trainer's events; `formats` reads the
foreign documents `load_trajectory` also accepts.

A trajectory is a JSON object (`"format": "rolloutctl.trajectory"`, `"version": 1`):

- `rolloutctl_version`: the rolloutctl that wrote it; `protocol`: `v1` or `osmosis` (the
  SDK 0.3 protocol: `init` is the POST /rollout body, `completion` its final result plus
  `final_messages`); `rollout_id`.
- `started_at`, `finished_at`: ISO 8601 UTC times of the first and last event, or null.
- `init`: the init request body with `api_key` shown as `"***"`; `init_status_code`.
- `tools`: the ToolSchemas of the 202.
- `turns`: one object per LLM call, in order. `index` (from 1); `added`: the messages the
  request carried beyond the previous request plus its assistant reply (the prompts on
  turn 1, tool results after that; on a rewritten history, everything from the first
  changed message); `assistant` (null if the call never succeeded); `finish_reason`,
  `usage`, `latency_ms`; `failed_attempts`: `[{status_code, latency_ms}]` answered before
  it succeeded; `token_ids`, `logprobs`, `prompt_token_ids` when the trainer sent them;
  `atif_step`, for a turn read from ATIF, the step's fields that have no place here
  (`model_name`, `llm_call_count`, its whole `metrics`...), which an ATIF export writes back.
- `final_added`: messages of the completion's `final_messages` after the last turn.
- `completion`: the completion payload as received, or null; `violations`: `[{rule, message}]`.
- `imported_from`: null, or `{"format": "completion" | "atif", ...}` for a document read
  from a bare completion payload or an ATIF `trajectory.json` (their unknown fields are null).

No secret is ever stored: every `api_key`, `llm_api_key` or `Authorization` value becomes
`"***"`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from rolloutctl import __version__
from rolloutctl.errors import JsonLimitError, TrajectoryFormatError
from rolloutctl.jsonlimits import loads
from rolloutctl.trajectory.formats import Imported, read_foreign

__all__ = [
    "FORMAT",
    "SECRET_KEYS",
    "TOKEN_FIELDS",
    "VERSION",
    "blank_trajectory",
    "check_native",
    "check_turn",
    "conversation",
    "dumps_trajectory",
    "from_imported",
    "is_number",
    "iso_time",
    "load_trajectory",
    "new_turn",
    "reading",
    "save_trajectory",
    "scrub",
    "scrubbed",
]

FORMAT = "rolloutctl.trajectory"
VERSION = 1
SECRET_KEYS = frozenset({"api_key", "llm_api_key", "authorization"})
TOKEN_FIELDS = ("token_ids", "logprobs", "prompt_token_ids")
_OBJECT_LISTS = ("turns", "final_added", "tools", "violations")


def scrub(value: Any) -> Any:
    """A copy of `value` with every api_key/Authorization value replaced by `***`."""
    if isinstance(value, dict):
        return {k: _scrub_item(k, v) for k, v in value.items()}
    if isinstance(value, list):  # scalars inline: token id arrays are long
        return [scrub(v) if isinstance(v, dict | list) else v for v in value]
    return value


_SECRET_MARKERS = tuple(f'"{key}"'.encode() for key in SECRET_KEYS)


def scrubbed(value: Any) -> Any:
    """`scrub(value)`, or `value` itself when its JSON names no secret key.

    The check runs in orjson's C code, so the common case (a chat body with no key in
    it) costs no Python walk over every message and tool schema.
    """
    try:
        text = orjson.dumps(value).lower()
    except TypeError:
        return scrub(value)
    return scrub(value) if any(marker in text for marker in _SECRET_MARKERS) else value


def _scrub_item(key: Any, value: Any) -> Any:
    if str(key).lower() in SECRET_KEYS and value not in (None, ""):
        return "***"
    return scrub(value) if isinstance(value, dict | list) else value


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def blank_trajectory(rollout_id: str | None = None) -> dict[str, Any]:
    """A trajectory with nothing recorded yet; every reader fills this same shape."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "rolloutctl_version": __version__,
        "protocol": "v1",
        "rollout_id": rollout_id,
        "started_at": None,
        "finished_at": None,
        "init": None,
        "init_status_code": None,
        "tools": [],
        "turns": [],
        "final_added": [],
        "completion": None,
        "violations": [],
        "imported_from": None,
    }


def new_turn(index: int, added: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "index": index,
        "added": added,
        "assistant": None,
        "finish_reason": None,
        "usage": None,
        "latency_ms": None,
        "failed_attempts": [],
    }


def conversation(traj: dict[str, Any]) -> list[dict[str, Any]]:
    """The whole history in order: each turn's added messages and reply, then the end."""
    messages: list[dict[str, Any]] = []
    for turn in traj.get("turns") or []:
        messages += turn.get("added") or []
        if turn.get("assistant") is not None:
            messages.append(turn["assistant"])
    return messages + list(traj.get("final_added") or [])


def dumps_trajectory(traj: dict[str, Any]) -> str:
    """Indented JSON, with number arrays (token ids, logprobs) kept on one line."""
    return _dump(scrub(traj), 0) + "\n"


def _dump(value: Any, depth: int) -> str:
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict) and value:
        rows = [f"{inner}{_dump(str(k), 0)}: {_dump(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(rows) + f"\n{pad}}}"
    if isinstance(value, list) and value and not all(is_number(v) for v in value):
        rows = [inner + _dump(v, depth + 1) for v in value]
        return "[\n" + ",\n".join(rows) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def is_number(value: Any) -> bool:
    """A JSON number (True and False are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def save_trajectory(path: str | Path, traj: dict[str, Any]) -> None:
    Path(path).write_text(dumps_trajectory(traj), encoding="utf-8")


def load_trajectory(path: str | Path) -> dict[str, Any]:
    """Read a trajectory, a bare completion payload or an ATIF trajectory.json."""
    with reading(path):
        raw = loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
        traj = check_native(raw) if "format" in raw else from_imported(read_foreign(raw))
    return scrub(traj)


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """What goes wrong reading the trajectory at `path` as one TrajectoryFormatError
    naming the file: it cannot be read, is not JSON, breaks a limit or is not a trajectory."""
    try:
        yield
    except OSError as exc:
        raise TrajectoryFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except JsonLimitError as exc:
        raise TrajectoryFormatError(f"{path}: {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TrajectoryFormatError(f"{path}: not JSON ({_one_line(exc)})") from None
    except ValueError as exc:
        raise TrajectoryFormatError(f"{path}: {_one_line(exc)}") from None


def check_native(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate the parts of a rolloutctl document that rendering relies on."""
    if raw["format"] != FORMAT:
        raise ValueError(f"unknown format {raw['format']!r} (expected {FORMAT!r})")
    if raw.get("version") != VERSION:
        raise ValueError(f"unsupported version {raw.get('version')!r} (this reads {VERSION})")
    for key in _OBJECT_LISTS:
        if not _objects(raw.get(key)):
            raise ValueError(f"field {key!r} must be a list of objects")
    if not isinstance(raw.get("completion"), dict | None):
        raise ValueError("field 'completion' must be an object or null")
    for turn in raw["turns"]:
        check_turn(turn)
    return blank_trajectory() | raw


def check_turn(turn: dict[str, Any]) -> None:
    """ValueError if a turn lacks what rendering relies on."""
    if not _objects(turn.get("added")) or not isinstance(turn.get("assistant"), dict | None):
        raise ValueError(f"turn {turn.get('index')}: needs an 'added' list of messages")
    timed = [turn, *(turn.get("failed_attempts") or [])]
    if any(not _number_or_null(part.get("latency_ms")) for part in timed if isinstance(part, dict)):
        raise ValueError(f"turn {turn.get('index')}: 'latency_ms' must be a number or null")


def _number_or_null(value: Any) -> bool:
    return value is None or is_number(value)


def _objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def from_imported(imported: Imported) -> dict[str, Any]:
    """A trajectory from a foreign history: one turn per assistant message."""
    traj = blank_trajectory(imported.rollout_id)
    traj |= {"tools": imported.tools, "completion": imported.completion}
    traj["imported_from"] = imported.origin
    extras, pending = iter(imported.turn_extras), []
    for message in imported.messages:
        if message.get("role") != "assistant":
            pending.append(message)
            continue
        turn = new_turn(len(traj["turns"]) + 1, pending) | {"assistant": message}
        traj["turns"].append(turn | next(extras, {}))
        pending = []
    traj["final_added"] = pending
    return traj
