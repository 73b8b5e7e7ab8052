"""The index of an Osmosis SDK eval run (`eval.sdk_runs`), shaped as a `ResultsIndex`.

The SDK replaces its index.jsonl whole after every result, so there is no tail to
follow: when the file changed, every row is indexed again. Each row's record (with its
trajectory, which the search text needs) is kept in memory by the row's own JSON, so a
live run reads each trajectory file once, not once per result.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rolloutctl.eval.sdk_runs import INDEX, pass_threshold, read_index, sdk_record
from rolloutctl.view.index import ResultsIndex, SearchChunk

__all__ = ["SdkRunIndex"]


class SdkRunIndex(ResultsIndex):
    """An SDK run's rows; `record` builds one again from its row and trajectory file."""

    def __init__(self, run: Path) -> None:
        self.run = run
        self.rows: list[dict[str, Any]] = []
        self.stamp: tuple[int, int, int] | None = None
        self.known: dict[str, dict[str, Any]] = {}  # a row's JSON -> its record
        super().__init__(run / INDEX)

    def refresh(self) -> bool:
        """Index the rows again when the SDK rewrote index.jsonl; True when it did."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return False
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp == self.stamp:
            return False
        self._reset(stat.st_ino)
        self.stamp, self.rows = stamp, read_index(self.run)
        threshold, chunk, known = pass_threshold(self.run), SearchChunk(0), {}
        for row in self.rows:
            key = json.dumps(row, sort_keys=True)
            known[key] = self.known.get(key) or sdk_record(self.run, row, threshold)
            self.add(known[key], 0, 0, chunk)
        chunk.seal()
        self.chunks.append(chunk)
        self.known = known
        return True

    def record(self, position: int) -> dict[str, Any]:
        return sdk_record(self.run, self.rows[position], pass_threshold(self.run))
