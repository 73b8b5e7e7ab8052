"""A trajectory file read twice instead of held, so that `diff` of two 200 MB files
keeps about one turn of each in memory.

The first pass checks the document as `load_trajectory` does and keeps all of it but
its turns and final messages, which are counted as they pass (the summary needs only
their totals); the second yields the turns in order. Only rolloutctl's own format is
streamed: for a completion payload or an ATIF file the first pass says so, and the
caller reads it whole with `load_trajectory`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from rolloutctl.jsonstream import ObjectReader
from rolloutctl.trajectory.diff import END, Side, Source, turn_source
from rolloutctl.trajectory.document import (
    check_native,
    check_turn,
    load_trajectory,
    reading,
    scrub,
    scrubbed,
)
from rolloutctl.trajectory.summary import TurnTally, summarize

__all__ = ["check_trajectory", "stream_trajectory"]

LAZY = frozenset({"turns", "final_added", "final_messages", "steps"})  # long arrays


def stream_trajectory(path: Path) -> Side | None:
    """The rollout in the trajectory file at `path`, its turns read as they are used;
    None for a foreign document. A TrajectoryFormatError, as `load_trajectory` gives,
    for a file it would refuse."""
    tally = TurnTally()
    with reading(path):
        raw, problem = _scan(path, tally)
        if "format" not in raw:
            return None
        traj = scrub(check_native(raw))
        if problem is not None:
            raise problem
    summary = summarize(traj)
    return Side(replace(summary, metrics=tally.metrics(traj)), _sources(path))


def check_trajectory(path: Path) -> None:
    """The TrajectoryFormatError `load_trajectory` would raise for `path`, if any, found
    holding at most a turn at a time of a file in rolloutctl's format."""
    if stream_trajectory(path) is None:
        load_trajectory(path)


def _members(path: Path, checked: bool = True) -> Iterator[tuple[str, Any]]:
    with path.open(encoding="utf-8") as file:
        yield from ObjectReader(file, LAZY, checked).members()


def _scan(path: Path, tally: TurnTally) -> tuple[dict[str, Any], ValueError | None]:
    """Every member but the long arrays, each of which becomes [] if all its items are
    objects and [None] if not, so that `check_native` judges it as before; and the
    first turn `check_turn` refuses, which waits until the whole document is judged."""
    raw: dict[str, Any] = {}
    problems: list[ValueError] = []
    for key, value in _members(path):
        if not isinstance(value, Iterator):
            raw[key] = value
            continue
        items = _counted(value, tally, problems) if key == "turns" else value
        raw[key] = [] if all(isinstance(item, dict) for item in items) else [None]
    return raw, problems[0] if problems else None


def _counted(turns: Iterator[Any], tally: TurnTally, problems: list[ValueError]) -> Iterator[Any]:
    for turn in turns:
        if isinstance(turn, dict) and not problems:
            try:
                check_turn(turn)
            except ValueError as exc:
                problems.append(exc)
            else:
                tally.add(turn)
        yield turn


def _sources(path: Path) -> Iterator[Source]:
    final: list[Any] = []
    with reading(path):
        for key, value in _members(path, checked=False):  # the first pass checked them
            if key == "turns":
                yield from (turn_source(scrubbed(turn)) for turn in value)
            elif key == "final_added":
                final = [scrubbed(message) for message in value]
    yield END, final, None
