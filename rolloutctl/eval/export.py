"""`rolloutctl export`: trajectories out as OpenAI fine-tuning lines, ATIF, or completions.

The source is one trajectory file or an eval run: rolloutctl's (its directory or
results.jsonl) or an Osmosis SDK run (its directory or index.jsonl). A rolloutctl run
is read one record at a time, so exporting 10,000 rollouts needs no more memory than
exporting one. Everything written passes through `scrub`, so no secret leaves.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rolloutctl.errors import InputError
from rolloutctl.eval.export_format import ExportFormat
from rolloutctl.eval.locate import load_rollout, run_records
from rolloutctl.trajectory.document import conversation, scrub
from rolloutctl.trajectory.formats import to_atif
from rolloutctl.trajectory.summary import OK_STATUSES, summarize

__all__ = [
    "ExportFormat",
    "Source",
    "atif_document",
    "export_record",
    "folder_name",
    "openai_call",
    "openai_message",
    "openai_tool",
    "read_sources",
    "wanted",
    "write_export",
]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class Source:
    """One trajectory to export, with the reward its eval record gave it (if any)."""

    trajectory: dict[str, Any]
    reward: float | None
    status: str


def read_sources(path: Path) -> Iterator[Source]:
    """The trajectories of a run (rolloutctl's directory or results.jsonl, or an Osmosis
    SDK run's directory or index.jsonl; in row order, as the dataset lists them, not in
    the order they finished), or of one trajectory file."""
    if path.is_dir() or path.suffix == ".jsonl":
        for record in run_records(path):
            yield Source(record.get("trajectory") or {}, record.get("reward"), record["status"])
        return
    trajectory = load_rollout(str(path))
    summary = summarize(trajectory)
    yield Source(trajectory, summary.reward, summary.status)


def wanted(source: Source, only_completed: bool, min_reward: float | None) -> bool:
    if only_completed and source.status not in OK_STATUSES:
        return False
    return min_reward is None or (source.reward is not None and source.reward >= min_reward)


def export_record(source: Source, fmt: ExportFormat) -> dict[str, Any] | None:
    """The object `source` becomes in `fmt`; None when it has nothing to export."""
    traj = scrub(source.trajectory)
    if fmt is ExportFormat.OPENAI:
        messages = [openai_message(m) for m in conversation(traj)]
        if not messages:
            return None
        line: dict[str, Any] = {"messages": messages}
        tools = [openai_tool(t) for t in traj.get("tools") or []]
        if tools:
            line["tools"] = tools
        return line
    if fmt is ExportFormat.JSONL:
        return traj.get("completion") or None
    doc = atif_document(traj, source.reward)
    return doc if doc["steps"] else None


def write_export(
    path: Path, fmt: ExportFormat, only_completed: bool, min_reward: float | None, to: Path | None
) -> tuple[int, int]:
    """Export every wanted source of `path`; returns (exported, seen).

    Lines go to `to` (a file) or stdout. ATIF of one trajectory file is one indented
    document (what replay reads); of a run, one document per line, or with `to` a
    directory of `<rollout_id>/trajectory.json` files as the Osmosis SDK lays them out.
    """
    if not path.exists():
        raise InputError(f"no such file or run directory: {path}")
    single = not (path.is_dir() or path.suffix == ".jsonl")
    into_dir = fmt is ExportFormat.ATIF and to is not None
    exported = seen = 0
    names: set[str] = set()  # folder names given so far, casefolded
    with contextlib.ExitStack() as stack:
        out = sys.stdout if to is None or into_dir else stack.enter_context(_create(to))
        for source in read_sources(path):
            seen += 1
            record = (
                export_record(source, fmt) if wanted(source, only_completed, min_reward) else None
            )
            if record is None:
                continue
            exported += 1
            if into_dir:
                assert to is not None
                _write_atif_file(to, record, folder_name(record.get("session_id"), seen, names))
            else:
                indent = 2 if fmt is ExportFormat.ATIF and single else None
                out.write(json.dumps(record, ensure_ascii=False, indent=indent) + "\n")
    return exported, seen


def _create(path: Path) -> IO[str]:
    try:
        return path.open("w", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--output {path}: {exc.strerror or exc}") from None


def folder_name(rollout_id: Any, number: int, taken: set[str]) -> str:
    """A folder name for a rollout id that stays inside the output directory: only
    letters, digits, `.`, `_` and `-`, never `.` or `..`, at most 100 characters; a name
    already given (ignoring case, for case-blind file systems) gets `-2`, `-3`, ..."""
    name = _UNSAFE.sub("_", str(rollout_id or ""))[:100].lstrip(".") or f"rollout-{number}"
    unique, suffix = name, 1
    while unique.casefold() in taken:
        suffix += 1
        unique = f"{name}-{suffix}"
    taken.add(unique.casefold())
    return unique


def _write_atif_file(root: Path, doc: dict[str, Any], name: str) -> None:
    folder = root / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--output {root}: {exc.strerror or exc}") from None
    (folder / "trajectory.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def atif_document(traj: dict[str, Any], reward: float | None) -> dict[str, Any]:
    return to_atif(
        traj.get("rollout_id"),
        traj.get("turns") or [],
        traj.get("final_added") or [],
        traj.get("tools") or [],
        reward,
        (traj.get("imported_from") or {}).get("atif"),
    )


def openai_message(message: dict[str, Any]) -> dict[str, Any]:
    """The message with only the fields OpenAI's chat fine-tuning format knows."""
    role = message.get("role")
    content = message.get("content")
    if role == "tool":
        return {"role": "tool", "tool_call_id": message.get("tool_call_id"), "content": content}
    out: dict[str, Any] = {"role": role, "content": content}
    if role == "assistant":
        calls = [openai_call(call) for call in message.get("tool_calls") or []]
        if calls:
            out["tool_calls"] = calls
            if content in (None, ""):
                del out["content"]
    if message.get("name"):
        out["name"] = message["name"]
    return out


def openai_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments", "{}")
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {"name": function.get("name"), "arguments": text},
    }


def openai_tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") or {}
    kept = {k: function[k] for k in ("name", "description", "parameters") if k in function}
    return {"type": "function", "function": kept}
