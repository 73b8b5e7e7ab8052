"""The run directory: `results.jsonl` streamed as rollouts finish, `summary.json` at the end.

Each finished rollout is one line written and flushed at once, so an interrupted run
loses nothing that finished and memory stays flat however long the run. `--resume` and
`--retry-failed` read the file back to learn which (row, epoch) pairs are done.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from rolloutctl.errors import InputError
from rolloutctl.eval.outcomes import Kind, classify, describe

__all__ = [
    "Outcome",
    "RunDirectory",
    "default_run_dir",
    "read_records",
    "read_records_in_row_order",
    "results_path",
]

RESULTS = "results.jsonl"
SUMMARY = "summary.json"
CONFIG = "config.json"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The few numbers of one record the summary needs (never its trajectory)."""

    row: int
    epoch: int
    status: str
    category: str | None
    finish_reason: str | None
    reward: float | None
    latency_ms: float | None
    llm_calls: int
    tokens: int
    violations: int
    kind: Kind = "passed"
    message: str | None = None  # why it did not pass, shortened

    @classmethod
    def of(cls, record: dict[str, Any]) -> Outcome:
        metrics = record.get("metrics") or {}
        return cls(
            row=int(record["row"]),
            epoch=int(record.get("epoch", 0)),
            status=str(record.get("status")),
            category=record.get("error_category"),
            finish_reason=record.get("finish_reason"),
            reward=record.get("reward"),
            latency_ms=record.get("latency_ms"),
            llm_calls=int(metrics.get("num_llm_calls") or 0),
            tokens=int(metrics.get("prompt_tokens") or 0) + int(metrics.get("response_tokens") or 0)
            or int(metrics.get("total_tokens") or 0),  # an SDK run may know only the total
            violations=len(record.get("violations") or []),
            kind=classify(record),
            message=describe(record),
        )


def default_run_dir(name: str, root: Path = Path("runs")) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return root / f"{stamp}-{name}"


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a results.jsonl, one at a time, in the order they finished; a torn
    last line is skipped."""
    with path.open("rb") as lines:
        for line in lines:
            record = _record(line)
            if record is not None:
                yield record


def read_records_in_row_order(path: Path) -> Iterator[dict[str, Any]]:
    """The records by (row, epoch), as a dataset lists them: one pass notes where each
    starts, then each is read again from there, so memory holds offsets, not records."""
    places: list[tuple[int, int, int]] = []
    with path.open("rb") as lines:
        offset = 0
        for line in lines:
            record = _record(line)
            if record is not None:
                places.append((_number(record["row"]), _number(record.get("epoch")), offset))
            offset += len(line)
        for *_, start in sorted(places):
            lines.seek(start)
            record = _record(lines.readline())
            if record is not None:
                yield record


def _record(line: bytes) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) and "row" in record else None


def _number(value: Any) -> int:
    return value if isinstance(value, int) else 0


def results_path(run: Path) -> Path:
    """The results.jsonl of a run directory (or the file itself); InputError if missing."""
    path = run / RESULTS if run.is_dir() else run
    if not path.is_file():
        raise InputError(f"{run}: no {RESULTS} here (not an eval run directory)")
    return path


class RunDirectory:
    """Owns one run's files; `open_results` appends, `keep_only` drops records first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.results = path / RESULTS
        self._file: IO[bytes] | None = None

    def create(self, config: dict[str, Any]) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--output {self.path}: {exc.strerror or exc}") from None
        (self.path / CONFIG).write_text(json.dumps(config, indent=2) + "\n")

    def config(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / CONFIG).read_text())
        except (OSError, ValueError):
            return {}

    def outcomes(self) -> list[Outcome]:
        return [Outcome.of(r) for r in read_records(self.results)] if self.results.exists() else []

    def keep_only(self, keep: set[tuple[int, int]]) -> None:
        """Rewrite results.jsonl with only the records of the `keep` (row, epoch) pairs."""
        if not self.results.exists():
            return
        staged = self.results.with_suffix(".jsonl.tmp")
        with staged.open("wb") as out:
            for record in read_records(self.results):
                if (record["row"], record.get("epoch", 0)) in keep:
                    out.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        os.replace(staged, self.results)

    def cut_torn_tail(self) -> int:
        """Truncate a last line that a crash left without its newline; the bytes cut.

        Every record is written with its newline in one write, so a line without one
        is the fragment of a write that never finished: appending after it would glue
        the next record onto it and lose both.
        """
        if not self.results.exists():
            return 0
        with self.results.open("rb+") as file:
            size = file.seek(0, os.SEEK_END)
            keep = _end_of_last_line(file, size)
            if keep < size:
                file.truncate(keep)
        return size - keep

    def open_results(self) -> None:
        self._file = self.results.open("ab")

    def write(self, record: dict[str, Any]) -> None:
        assert self._file is not None, "open_results first"
        self._file.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def write_summary(self, summary: dict[str, Any]) -> None:
        (self.path / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")


def _end_of_last_line(file: IO[bytes], size: int, chunk: int = 65536) -> int:
    """The offset just past the file's last newline (0 if it has none), reading backwards."""
    end = size
    while end > 0:
        start = max(0, end - chunk)
        file.seek(start)
        at = file.read(end - start).rfind(b"\n")
        if at >= 0:
            return start + at + 1
        end = start
    return 0
