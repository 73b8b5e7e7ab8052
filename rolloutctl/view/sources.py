"""What the paths given to `view` hold: eval run directories and trajectory files.

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
from rolloutctl.trajectory.stream import check_trajectory
from rolloutctl.view.index import ResultsIndex

__all__ = ["Catalog", "Run", "TrajectoryFile"]

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
            if path.is_file() and path.name != RESULTS:
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
                self.runs.setdefault(key, Run(key, found))
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
        return [path.parent] if path.name == RESULTS else []
    if (path / RESULTS).is_file() or (path / CONFIG).is_file():
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
        return [path] if path.name != RESULTS else []
    if (path / RESULTS).is_file():
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
