"""One rollout by name, for `replay` and `diff`: a trajectory file, or `RUN:ROW[:EPOCH]`.

An eval run keeps its rollouts in one results.jsonl; `RUN:ROW` picks the one of a row
(epoch 0 unless `:EPOCH` says otherwise) out of it, reading one line at a time. RUN may
also be an Osmosis SDK eval run (its directory or its index.jsonl, see `sdk_runs`), and
a trajectory file inside one is read with the facts its index row holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rolloutctl.errors import InputError
from rolloutctl.eval.results import RESULTS, read_records, read_records_in_row_order, results_path
from rolloutctl.eval.sdk_runs import (
    PROJECTIONS,
    TRIALS,
    projection_name,
    read_index,
    sdk_record,
    sdk_records,
    sdk_run_dir,
)
from rolloutctl.trajectory.diff import Side
from rolloutctl.trajectory.document import load_trajectory
from rolloutctl.trajectory.stream import stream_trajectory

__all__ = ["is_run", "load_rollout", "open_rollout", "run_records", "split_row"]


def load_rollout(spec: str) -> dict[str, Any]:
    """The trajectory that `spec` names (a file, or `RUN:ROW[:EPOCH]`)."""
    path = _trajectory_file(spec)
    if path is not None:
        return _in_sdk_run(path.resolve()) or load_trajectory(path)
    base, row, epoch = split_row(spec)
    run = sdk_run_dir(Path(base))
    if run is not None:
        found = _sdk_rollout(run, lambda r: (r["row_index"], r["run_index"]) == (row, epoch))
    else:
        found = _results_rollout(Path(base), row, epoch)
    if found is None:
        raise InputError(f"{base}: no result for row {row} epoch {epoch}")
    return found


def open_rollout(spec: str) -> Side:
    """The rollout `spec` names, for `diff`: a trajectory file in rolloutctl's format is
    read as it is compared (`stream_trajectory`); anything else is loaded whole."""
    path = _trajectory_file(spec)
    side = stream_trajectory(path) if path is not None else None
    return side or Side.of(load_rollout(spec))


def _trajectory_file(spec: str) -> Path | None:
    path = Path(spec)
    return path if path.is_file() and path.name != RESULTS and path.suffix != ".jsonl" else None


def _results_rollout(run: Path, row: int, epoch: int) -> dict[str, Any] | None:
    for record in read_records(results_path(run)):
        if record["row"] == row and record.get("epoch", 0) == epoch:
            return record.get("trajectory") or {}
    return None


def _sdk_rollout(run: Path, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """The trajectory of the first index row `match` picks, with that row's facts."""
    for row in read_index(run):
        if match(row):
            trajectory: dict[str, Any] = sdk_record(run, row)["trajectory"]
            return trajectory
    return None


def _in_sdk_run(path: Path) -> dict[str, Any] | None:
    """A trajectory file an SDK run wrote (`trajectories/row_R_run_N.json` or
    `rollout_trials/ID/trajectory.json`), read with its index row's status and reward."""
    folder = path.parent
    if folder.name == PROJECTIONS and (run := sdk_run_dir(folder.parent)):
        return _sdk_rollout(run, lambda r: projection_name(r) == path.name)
    if folder.parent.name == TRIALS and (run := sdk_run_dir(folder.parent.parent)):
        return _sdk_rollout(run, lambda r: r.get("rollout_id") == folder.name)
    return None


def is_run(path: Path) -> bool:
    """Whether `path` is an eval run: rolloutctl's (or its results.jsonl) or the SDK's."""
    return sdk_run_dir(path) is not None or (path / RESULTS).is_file() or path.name == RESULTS


def run_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of either kind of run, in row order."""
    run = sdk_run_dir(path)
    if run is not None:
        yield from sdk_records(run)
        return
    yield from read_records_in_row_order(results_path(path))


def split_row(spec: str) -> tuple[str, int, int]:
    """`RUN:ROW[:EPOCH]` as (RUN, ROW, EPOCH); InputError naming what is missing."""
    parts = spec.split(":")
    numbers: list[int] = []
    while len(parts) > 1 and parts[-1].isdigit() and len(numbers) < 2:
        numbers.insert(0, int(parts.pop()))
    if numbers:
        return ":".join(parts), numbers[0], numbers[1] if len(numbers) > 1 else 0
    if not Path(spec).exists():
        raise InputError(f"{spec}: no such file")
    raise InputError(
        f"{spec} is an eval run: name one rollout as {spec}:ROW (or {spec}:ROW:EPOCH), "
        f"or see them all with 'rolloutctl view {spec}'"
    )
