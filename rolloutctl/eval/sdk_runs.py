"""Osmosis SDK eval run directories (`osmosis eval run`), read as rolloutctl eval records.

The SDK writes one directory per run:

- `index.jsonl`: one row per (row, attempt), sorted: `row_index`, `run_index`,
  `rollout_id`, `status` (`success`, `failed` or `skipped`), and when known `reward`,
  `tokens`, `duration_ms`, `error_type` and `trajectory_filename`. The SDK replaces the
  whole file after every result (`summary.jsonl` is the same rows again);
- `metrics.json`: `eval_run` (name, dataset, model, rollout, status `running`,
  `finished` or `incomplete`) and `summary` (counts, `pass_threshold`, rewards);
- `rollout_trials/<rollout_id>/trajectory.json`: the ATIF document the rollout server
  saved, and `trajectories/row_<R>_run_<N>.json`, a copy of the chosen attempt's.

Each row becomes a record shaped as a line of rolloutctl's results.jsonl (`row`,
`epoch` = `run_index`, `status`, `reward`, `metrics`, `trajectory`, ...) so `replay`,
`export`, `diff` and `view` treat both kinds of run alike. The verdict is the SDK's
own: a success passes when its reward reaches the run's `pass_threshold`, a failed
rollout counts against the pass rate, a skipped one (`remove_sample`) is left out.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rolloutctl.errors import InputError
from rolloutctl.trajectory.document import blank_trajectory, conversation, load_trajectory
from rolloutctl.trajectory.summary import summarize, whole

__all__ = [
    "INDEX",
    "METRICS",
    "eval_run",
    "pass_threshold",
    "projection_name",
    "read_index",
    "sdk_record",
    "sdk_records",
    "sdk_run_dir",
]

INDEX = "index.jsonl"
METRICS = "metrics.json"
TRIALS = "rollout_trials"
PROJECTIONS = "trajectories"
ATIF_NAME = "trajectory.json"
# SDK status -> (rolloutctl status, the 0.3 result status a completion would carry)
STATUSES = {"success": ("COMPLETED", "success"), "failed": ("ERROR", "failure"),
            "skipped": ("SKIPPED", "success")}  # fmt: skip
_ONE_SEGMENT = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,200}$")


def sdk_run_dir(path: Path) -> Path | None:
    """The SDK run directory `path` names (the directory, or its index.jsonl), else None."""
    if path.name == INDEX and path.is_file():
        return path.parent
    if path.is_dir() and (path / INDEX).is_file():
        return path
    return None


def read_index(run: Path) -> list[dict[str, Any]]:
    """The rows of `run`'s index.jsonl; a line that is not a row (torn, foreign) is skipped."""
    try:
        lines = (run / INDEX).read_bytes().splitlines()
    except OSError as exc:
        raise InputError(f"{run}: cannot read {INDEX}: {exc.strerror or exc}") from None
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and _count(row.get("row_index")) and _count(row.get("run_index")):
            rows.append(row)
    return rows


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def eval_run(run: Path) -> dict[str, Any]:
    """metrics.json's `eval_run` block (name, dataset, model, status...), or {}."""
    return _metrics_part(run, "eval_run")


def pass_threshold(run: Path) -> float:
    """The reward a rollout needs to pass, as the SDK run recorded it (1.0 if unknown)."""
    value = _metrics_part(run, "summary").get("pass_threshold")
    return float(value) if isinstance(value, int | float) else 1.0


def _metrics_part(run: Path, name: str) -> dict[str, Any]:
    try:
        part = json.loads((run / METRICS).read_text(encoding="utf-8")).get(name)
    except (OSError, ValueError, AttributeError):
        return {}
    return part if isinstance(part, dict) else {}


def sdk_records(run: Path) -> Iterator[dict[str, Any]]:
    """Every row of the run as a record, in row order."""
    threshold = pass_threshold(run)
    for row in read_index(run):
        yield sdk_record(run, row, threshold)


def sdk_record(run: Path, row: dict[str, Any], threshold: float = 1.0) -> dict[str, Any]:
    """One index row, with the trajectory its rollout saved, as a results.jsonl record."""
    status, result_status = STATUSES.get(str(row.get("status")), ("ERROR", "failure"))
    traj = _trajectory(run, row)
    osmosis = ((traj.get("imported_from") or {}).get("atif") or {}).get("osmosis") or {}
    traj |= {"protocol": "osmosis", "rollout_id": traj.get("rollout_id") or row.get("rollout_id")}
    traj["completion"] = _completion(traj, row, osmosis, result_status)
    summary = summarize(traj)
    metrics = dict(summary.metrics)
    if isinstance(row.get("tokens"), int):
        metrics["total_tokens"] = row["tokens"]  # what the SDK's model bridge counted
    return {
        "row": row["row_index"],
        "epoch": row["run_index"],
        "rollout_id": row.get("rollout_id"),
        "status": status,
        "error_category": "skipped" if status == "SKIPPED" else row.get("error_type"),
        "error_message": "the sample was removed (remove_sample)" if status == "SKIPPED" else None,
        "finish_reason": summary.finish_reason,
        "reward": row.get("reward"),
        "label": osmosis.get("label"),
        "metrics": metrics,
        "violations": [],
        "latency_ms": row.get("duration_ms"),
        "outcome": _verdict(status, row.get("reward"), threshold),
        "trajectory": traj,
    }


def _verdict(status: str, reward: Any, threshold: float) -> str:
    if status == "SKIPPED":
        return "error"  # kept out of the pass rate, as the SDK leaves it out
    passed = status == "COMPLETED" and isinstance(reward, int | float) and reward >= threshold
    return "passed" if passed else "failed"


def projection_name(row: dict[str, Any]) -> str:
    """The file name of the row's copy under `trajectories/`."""
    return f"row_{row['row_index']}_run_{row['run_index']}.json"


def _trajectory(run: Path, row: dict[str, Any]) -> dict[str, Any]:
    """The ATIF file the rollout saved, or its projection; a bare trajectory if neither."""
    rollout_id = str(row.get("rollout_id") or "")
    candidates = [run / PROJECTIONS / projection_name(row)]
    if _ONE_SEGMENT.match(rollout_id):  # a name inside rollout_trials/, never a path out
        candidates.insert(0, run / TRIALS / rollout_id / ATIF_NAME)
    for path in candidates:
        if path.is_file():
            with contextlib.suppress(InputError):  # one unreadable file hides one rollout
                return load_trajectory(path)
    return blank_trajectory(rollout_id)


def _completion(
    traj: dict[str, Any], row: dict[str, Any], osmosis: dict[str, Any], status: str
) -> dict[str, Any]:
    """The rollout's final 0.3 result as rolloutctl's own osmosis eval records it."""
    extra = osmosis.get("sample_extra_fields") or {}
    metrics = osmosis.get("sample_metrics") or {}
    completion = {
        "rollout_id": traj["rollout_id"],
        "status": status,
        "label": osmosis.get("label"),
        "reward": row.get("reward"),
        "remove_sample": row.get("status") == "skipped",
        "metrics": {k: whole(v) for k, v in metrics.items()},
        "extra_fields": extra,
        "err_message": None,
        "err_category": row.get("error_type"),
        "final_messages": conversation(traj),
    }
    reason = extra.get("finish_reason")
    return completion | ({"finish_reason": reason} if isinstance(reason, str) else {})
