"""Reading an eval dataset: JSONL, CSV, or Parquet (with the optional `pyarrow`).

Every row keeps its position in the file (`index`, what `--rows` selects and what the
results name) and its line, so a bad row is reported as `FILE:LINE: why` and skipping
it never renumbers the rows after it: a resumed run must see the same indices.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolloutctl.errors import DatasetError, InputError, JsonLimitError
from rolloutctl.jsonlimits import check_value, loads

FIELDS = (
    "messages",
    "prompt",
    "system",
    "ground_truth",
    "metadata",
    "completion_params",
    "max_turns",
    "id",
)

__all__ = [
    "BadRow",
    "Row",
    "parse_columns",
    "parse_row_spec",
    "read_dataset",
]
_JSON_FIELDS = ("messages", "metadata", "completion_params")  # JSON text in a CSV cell
# the columns of an `osmosis eval` dataset (ground_truth and metadata have our names)
SDK_COLUMNS = {"prompt": "user_prompt", "system": "system_prompt"}


@dataclass(frozen=True, slots=True)
class Row:
    index: int  # position among the file's rows, from 0
    line: int  # where it starts in the file (Parquet: its row number from 1)
    id: str
    messages: list[dict[str, Any]]
    ground_truth: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    completion_params: dict[str, Any] = field(default_factory=dict)
    max_turns: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The row as a grader sees it."""
        return {
            "index": self.index,
            "id": self.id,
            "messages": self.messages,
            "ground_truth": self.ground_truth,
            "metadata": self.metadata,
            "completion_params": self.completion_params,
            "max_turns": self.max_turns,
        }


@dataclass(frozen=True, slots=True)
class BadRow:
    index: int
    line: int
    reason: str


def parse_columns(pairs: list[str] | None) -> dict[str, str]:
    """`--column field=column` pairs: which column of the file holds each row field."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, column = pair.partition("=")
        if not sep or not column or name not in FIELDS:
            raise InputError(
                f"--column {pair!r} must look like FIELD=COLUMN with FIELD one of: "
                + ", ".join(FIELDS)
            )
        mapping[name] = column
    return mapping


def read_dataset(path: Path, columns: dict[str, str] | None = None) -> list[Row | BadRow]:
    """Every row of `path` in order, bad ones as BadRow; DatasetError if unreadable."""
    columns = columns or {}
    if path.is_dir():
        raise DatasetError(f"{path} is a directory; give a JSONL, CSV or Parquet file")
    if not path.is_file():
        raise DatasetError(f"no such dataset file: {path}")
    records = _records(path)
    cells = path.suffix.lower() == ".csv"  # only CSV holds objects as JSON text
    try:
        return [_row(index, line, raw, columns, cells) for index, (line, raw) in enumerate(records)]
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_records(path)
    if suffix in (".parquet", ".pq"):
        return _parquet_records(path)
    return _jsonl_records(path)


def _jsonl_records(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, text in enumerate(lines, 1):
            if not text.strip():
                continue
            try:
                yield number, loads(text, finite=True)
            except json.JSONDecodeError as exc:
                yield number, ValueError(f"not JSON ({exc.msg} at column {exc.colno})")
            except ValueError as exc:  # JsonLimitError, or past Python's digits limit
                yield number, ValueError(str(exc))


def _csv_records(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:  # reads the header, so line numbers start after it
            return
        line = reader.line_num + 1
        for record in reader:
            yield line, {key: value for key, value in record.items() if value not in (None, "")}
            line = reader.line_num + 1


def _parquet_records(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        raise DatasetError(
            f"{path}: reading Parquet needs pyarrow (pip install 'rolloutctl[parquet]')"
        ) from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises its own error types for broken files
        raise DatasetError(f"{path}: not a readable Parquet file: {exc}") from None
    yield from enumerate(table.to_pylist(), 1)


def _row(index: int, line: int, raw: Any, columns: dict[str, str], cells: bool) -> Row | BadRow:
    if isinstance(raw, Exception):
        return BadRow(index, line, str(raw))
    if not isinstance(raw, dict):
        return BadRow(index, line, f"a row must be an object, not {type(raw).__name__}")
    try:
        values = {name: _value(raw, name, columns) for name in FIELDS}
        check_value(values)  # a Parquet row can hold NaN too
        if cells:
            _parse_cells(values)
        return _build(index, line, values, _ColumnHint(raw, columns))
    except ValueError as exc:
        return BadRow(index, line, str(exc))


def _value(raw: dict[str, Any], name: str, columns: dict[str, str]) -> Any:
    """The field's column (`--column` chooses it); else the Osmosis SDK's name for it."""
    value = raw.get(columns.get(name, name))
    if value is None and name not in columns and name in SDK_COLUMNS:
        return raw.get(SDK_COLUMNS[name])
    return value


@dataclass(frozen=True)
class _ColumnHint:
    """The row's columns and the --column mapping, to name what is missing."""

    raw: dict[str, Any]
    columns: dict[str, str]

    def missing(self) -> str:
        names = ", ".join(str(key) for key in self.raw) or "none"
        mapped = [f"{f}={c}" for f, c in self.columns.items() if c not in self.raw]
        if mapped:
            return f"no column {', '.join(mapped)} (from --column); the row's columns: {names}"
        return (
            f"no 'messages' or 'prompt' column; the row's columns: {names} "
            "(--column prompt=COLUMN reads the prompt from another one)"
        )


def _parse_cells(values: dict[str, Any]) -> None:
    for name in _JSON_FIELDS:
        if isinstance(values[name], str):
            values[name] = _json_cell(name, values[name])


def _build(index: int, line: int, values: dict[str, Any], hint: _ColumnHint) -> Row:
    return Row(
        index=index,
        line=line,
        id=str(values["id"]) if values["id"] is not None else str(index),
        messages=_messages(values, hint),
        ground_truth=values["ground_truth"],
        metadata=_object("metadata", values["metadata"]),
        completion_params=_object("completion_params", values["completion_params"]),
        max_turns=_max_turns(values["max_turns"]),
    )


def _json_cell(name: str, text: str) -> Any:
    try:
        return loads(text, finite=True)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name!r} is not valid JSON ({exc.msg} at column {exc.colno})") from None
    except JsonLimitError as exc:
        raise ValueError(f"{name!r}: {exc}") from None


def _messages(values: dict[str, Any], hint: _ColumnHint) -> list[dict[str, Any]]:
    messages, prompt, system = values["messages"], values["prompt"], values["system"]
    if messages is not None:
        if not isinstance(messages, list) or not messages:
            raise ValueError(
                f"'messages' must be a non-empty list of message objects, not "
                f"{_kind(messages)} (a plain question goes in 'prompt')"
            )
        for number, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise ValueError(f"messages[{number}] must be an object with a 'role'")
        return messages
    if prompt is None:
        raise ValueError(hint.missing())
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"'prompt' must be a non-empty string, not {_kind(prompt)}")
    head = [{"role": "system", "content": str(system)}] if system else []
    return [*head, {"role": "user", "content": prompt}]


def _kind(value: Any) -> str:
    """`a string`, `an int (42)`: what a user wrote, briefly."""
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name} ({str(value)[:20]})"


def _object(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name!r} must be an object")
    return value


def _max_turns(value: Any) -> int | None:
    if value is None:
        return None
    try:
        turns = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"'max_turns' must be a positive integer, not {value!r}") from None
    if turns < 1 or str(turns) != str(value).strip():
        raise ValueError(f"'max_turns' must be a positive integer, not {value!r}")
    return turns


def parse_row_spec(spec: str) -> set[int]:
    """`"3,7,10-20"`: row indices (from 0; ranges inclusive)."""
    chosen: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise InputError(f"--rows: {part!r} is not N or N-M (e.g. '3,7,10-20')") from None
        if first < 0 or last < first:
            raise InputError(f"--rows: {part!r} is not a range of row indices from 0")
        chosen.update(range(first, last + 1))
    return chosen
