"""What the paths given to `view` hold: eval run directories (rolloutctl's and the
Osmosis SDK's) and trajectory files.

Each thing found gets a short key for its URLs (its directory or file name, made
unique). A request names a key, never a path, so the app can open only files found
here: there is no path to climb out of with `../`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolloutctl.errors import InputError
from rolloutctl.eval.results import CONFIG, RESULTS, SUMMARY
from rolloutctl.eval.sdk_runs import eval_run, sdk_run_dir
from rolloutctl.trajectory.document import is_number
from rolloutctl.trajectory.stream import check_trajectory
from rolloutctl.view.index import ResultsIndex
from rolloutctl.view.sdk_index import SdkRunIndex

__all__ = ["Catalog", "Run", "SdkRun", "TrajectoryFile", "make_run", "open_run"]

ATIF_NAME = "trajectory.json"  # the file name the SDK and `export --format atif` write
PEEK_BYTES = 4096  # enough of a .json file to tell a trajectory from anything else
_TRAJECTORY_MARKS = (b'"rolloutctl.trajectory"', b'"ATIF-')
_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Run:
    """One eval run directory and the index of its results.jsonl."""

    key: str
    path: Path
    index: ResultsIndex = field(init=False)

    def __post_init__(self) -> None:
        self.index = ResultsIndex(self.path / RESULTS)

    def config(self) -> dict[str, Any]:
        return _json_object(self.path / CONFIG)

    def final_summary(self) -> dict[str, Any]:
        return _json_object(self.path / SUMMARY)

    def in_progress(self) -> bool:
        """No summary.json yet, or results.jsonl changed after it was written (a resume)."""
        try:
            summary = (self.path / SUMMARY).stat().st_mtime
        except OSError:
            return True
        try:
            return (self.path / RESULTS).stat().st_mtime > summary
        except OSError:
            return False


class SdkRun(Run):
    """An Osmosis SDK eval run directory (`eval.sdk_runs`): its rows from index.jsonl,
    its name, dataset and state from metrics.json's `eval_run`."""

    def __post_init__(self) -> None:
        self.index = SdkRunIndex(self.path)

    def config(self) -> dict[str, Any]:
        run = eval_run(self.path)
        names = {"agent": "rollout_name", "dataset": "dataset_name", "model": "model_name",
                 "started_at": "started_at", "name": "name"}  # fmt: skip
        return {ours: run[theirs] for ours, theirs in names.items() if theirs in run}

    def final_summary(self) -> dict[str, Any]:
        run = eval_run(self.path)
        if run.get("status") in (None, "running"):
            return {}
        wall_s = run["duration_ms"] / 1000 if is_number(run.get("duration_ms")) else None
        return {"interrupted": run["status"] != "finished", "this_session": {"wall_s": wall_s}}

    def in_progress(self) -> bool:
        return eval_run(self.path).get("status") in (None, "running")


def make_run(key: str, path: Path) -> Run:
    """The run in directory `path`, of whichever kind it is."""
    return (SdkRun if sdk_run_dir(path) else Run)(key, path)


def open_run(path: Path) -> Run:
    """The run `path` names (its directory, results.jsonl or index.jsonl), indexed;
    InputError when it is no run."""
    directory = path.parent if path.is_file() else path
    if not (sdk_run_dir(directory) or (directory / RESULTS).is_file()):
        raise InputError(f"{path}: not an eval run (no {RESULTS} nor an SDK index.jsonl)")
    run = make_run(directory.name, directory)
    run.index.refresh()
    return run


@dataclass
class TrajectoryFile:
    key: str
    path: Path


class Catalog:
    """The runs and trajectory files under the given paths, found again on each `scan`."""

    def __init__(self, paths: list[Path]) -> None:
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise InputError(f"{missing[0]}: no such file or directory")
        for path in paths:  # a file named on the command line is refused at once, as replay would
            if path.is_file() and path.name != RESULTS and not sdk_run_dir(path):
                check_trajectory(path)
        self.paths = [p.resolve() for p in paths]
        self.runs: dict[str, Run] = {}
        self.files: dict[str, TrajectoryFile] = {}
        self._keys: dict[Path, str] = {}
        self.scan()

    def scan(self) -> None:
        """Find runs and files added since the last scan; known ones keep their keys."""
        for path in self.paths:
            for found in _runs_under(path):
                key = self._key(found)
                if key not in self.runs:
                    self.runs[key] = make_run(key, found)
            for found in _trajectories_under(path):
                key = self._key(found)
                self.files.setdefault(key, TrajectoryFile(key, found))

    def _key(self, path: Path) -> str:
        if path in self._keys:
            return self._keys[path]
        name = f"{path.parent.name}-{path.name}" if path.name == ATIF_NAME else path.name
        base = _KEY_CHARS.sub("-", name).lstrip(".-") or "run"
        key, n = base, 1
        while key in self._keys.values():
            n += 1
            key = f"{base}-{n}"
        self._keys[path] = key
        return key

    def refresh(self) -> None:
        """Index what every run appended since the last refresh."""
        for run in self.runs.values():
            run.index.refresh()


def _runs_under(path: Path, depth: int = 2) -> list[Path]:
    """`path` itself if it is a run; else the runs among its children and grandchildren."""
    if path.is_file():
        return [path.parent] if path.name == RESULTS or sdk_run_dir(path) else []
    if (path / RESULTS).is_file() or (path / CONFIG).is_file() or sdk_run_dir(path):
        return [path]
    if depth == 0:
        return []
    try:
        children = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
    return [run for child in children for run in _runs_under(child, depth - 1)]


def _trajectories_under(path: Path) -> list[Path]:
    """`path` itself if it is a file; else its .json trajectories and those of `export
    --format atif` (one folder per rollout, each with a trajectory.json)."""
    if path.is_file():
        return [path] if path.name != RESULTS and not sdk_run_dir(path) else []
    if (path / RESULTS).is_file() or sdk_run_dir(path):
        return []
    try:
        found = [*path.glob("*.json"), *path.glob(f"*/{ATIF_NAME}")]
        return sorted(p for p in found if p.is_file() and _looks_like_trajectory(p))
    except OSError:
        return []


def _looks_like_trajectory(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            head = file.read(PEEK_BYTES)
    except OSError:
        return False
    return any(mark in head for mark in _TRAJECTORY_MARKS)


def _json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
