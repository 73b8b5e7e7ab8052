"""A run's results.jsonl indexed by byte offsets, so no page ever loads every trajectory.

One pass over the file keeps, per record, its offset and length, the few numbers of an
`Outcome`, and a short lower-cased text of its prompt and answer for the free-text
search. `refresh` reads only what was appended since the last call, so a run that
`eval` is still writing costs one `stat` per request; a file that shrank or was replaced
(`--retry-failed` rewrites it) is indexed again from the start.
"""

from __future__ import annotations

import os
import sys
from array import array
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from rolloutctl.eval.results import Outcome
from rolloutctl.view.records import failure_category, search_text

__all__ = ["ResultsIndex", "SearchChunk"]

SEARCH_CHARS = 400  # of the prompt and of the answer each, kept for the search
READ_BLOCK = 1 << 20


@dataclass(slots=True)
class SearchChunk:
    """The search texts of consecutive records, joined, with where each one starts."""

    first: int  # the position of its first record
    text: str = ""
    starts: array[int] = field(default_factory=lambda: array("q"))
    parts: list[str] = field(default_factory=list)  # while it is being built

    def add(self, text: str) -> None:
        self.starts.append(self.starts[-1] + len(self.parts[-1]) if self.parts else 0)
        self.parts.append(text)

    def seal(self) -> None:
        self.text, self.parts = "".join(self.parts), []

    def positions(self, needle: str) -> set[int]:
        found, at = set(), self.text.find(needle)
        while at >= 0:
            found.add(self.first + bisect_right(self.starts, at) - 1)
            at = self.text.find(needle, at + 1)
        return found


class ResultsIndex:
    """Offsets and outcomes of every complete line of one results.jsonl."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reset(None)

    def _reset(self, inode: int | None) -> None:
        self.offsets: array[int] = array("q")
        self.lengths: array[int] = array("q")
        self.outcomes: list[Outcome] = []
        self.failures: list[str | None] = []  # position -> failure category, or None
        self.by_key: dict[tuple[int, int], int] = {}  # (row, epoch) -> latest position
        self.chunks: list[SearchChunk] = []
        self.end = 0  # just after the last complete line read
        self.seen = -1  # the file's size when it was last read
        self.inode = inode
        self.generation = getattr(self, "generation", 0) + 1
        self._memo: dict[Any, Any] = {}

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """`compute()`, kept until the index changes (sorted orders, the live positions)."""
        stamp = (self.generation, len(self.outcomes))
        if self._memo.get("stamp") != stamp:
            self._memo = {"stamp": stamp}
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def live(self) -> list[int]:
        """Positions of the current records, in file order (a replaced line is left out)."""
        return self.memo("live", lambda: [p for p in range(len(self)) if self.current(p)])

    def __len__(self) -> int:
        return len(self.outcomes)

    def refresh(self) -> bool:
        """Index what was appended since the last call; True when records were added."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return False
        if stat.st_ino != self.inode or stat.st_size < self.end:
            self._reset(stat.st_ino)
        if stat.st_size == self.seen:  # nothing appended (a torn last line is not re-read)
            return False
        self.seen, count = stat.st_size, len(self.outcomes)
        with self.path.open("rb") as file:
            file.seek(self.end)
            self._read(file, stat.st_size)
        return len(self.outcomes) != count

    def _read(self, file: Any, size: int) -> None:
        chunk = SearchChunk(len(self.outcomes))
        while self.end < size:
            block = file.read(min(READ_BLOCK, size - self.end))
            last = block.rfind(b"\n")
            if last < 0:  # a line still being written (or longer than a block: read more)
                if len(block) < READ_BLOCK:
                    break
                block += file.readline()
                last = block.rfind(b"\n")
                if last < 0:
                    break
            self._lines(block[: last + 1], chunk)
            file.seek(self.end)
        if chunk.parts:
            chunk.seal()
            self.chunks.append(chunk)

    def _lines(self, block: bytes, chunk: SearchChunk) -> None:
        start = 0
        while start < len(block):
            stop = block.index(b"\n", start) + 1
            self._line(block[start:stop], self.end + start, chunk)
            start = stop
        self.end += len(block)

    def _line(self, line: bytes, offset: int, chunk: SearchChunk) -> None:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return
        if isinstance(record, dict) and "row" in record:
            self.add(record, offset, len(line), chunk)

    def add(self, record: dict[str, Any], offset: int, length: int, chunk: SearchChunk) -> None:
        """Index one record found at `offset` (`length` bytes long)."""
        position = len(self.outcomes)
        outcome = Outcome.of(record)
        self.offsets.append(offset)
        self.lengths.append(length)
        self.outcomes.append(outcome)
        self.by_key[(outcome.row, outcome.epoch)] = position
        category = failure_category(outcome)
        self.failures.append(sys.intern(category) if category else None)
        chunk.add(search_text(record, SEARCH_CHARS))

    def record(self, position: int) -> dict[str, Any]:
        """The full record at `position`, read from the file."""
        with self.path.open("rb") as file:
            file.seek(self.offsets[position])
            return orjson.loads(file.read(self.lengths[position]))

    def current(self, position: int) -> bool:
        """False for a record that a later line for the same (row, epoch) replaced."""
        outcome = self.outcomes[position]
        return self.by_key.get((outcome.row, outcome.epoch)) == position

    def matching(self, text: str) -> set[int]:
        """Positions whose prompt or answer holds `text` (case-insensitive)."""
        needle = text.casefold()
        return set().union(*(chunk.positions(needle) for chunk in self.chunks))
