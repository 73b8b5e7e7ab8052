"""One rollout by name, for `replay` and `diff`: a trajectory file, or `RUN:ROW[:EPOCH]`.

An eval run keeps its rollouts in one results.jsonl; `RUN:ROW` picks the one of a row
(epoch 0 unless `:EPOCH` says otherwise) out of it, reading one line at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rolloutctl.errors import InputError
from rolloutctl.eval.results import RESULTS, read_records, results_path
from rolloutctl.trajectory.diff import Side
from rolloutctl.trajectory.document import load_trajectory
from rolloutctl.trajectory.stream import stream_trajectory

__all__ = ["load_rollout", "open_rollout", "split_row"]


def load_rollout(spec: str) -> dict[str, Any]:
    """The trajectory that `spec` names (a file, or `RUN:ROW[:EPOCH]`)."""
    path = _trajectory_file(spec)
    if path is not None:
        return load_trajectory(path)
    base, row, epoch = split_row(spec)
    for record in read_records(results_path(Path(base))):
        if record["row"] == row and record.get("epoch", 0) == epoch:
            return record.get("trajectory") or {}
    raise InputError(f"{base}: no result for row {row} epoch {epoch}")


def open_rollout(spec: str) -> Side:
    """The rollout `spec` names, for `diff`: a trajectory file in rolloutctl's format is
    read as it is compared (`stream_trajectory`); anything else is loaded whole."""
    path = _trajectory_file(spec)
    side = stream_trajectory(path) if path is not None else None
    return side or Side.of(load_rollout(spec))


def _trajectory_file(spec: str) -> Path | None:
    path = Path(spec)
    return path if path.is_file() and path.name != RESULTS and path.suffix != ".jsonl" else None


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
