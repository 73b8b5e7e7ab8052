"""Reading datasets: formats, column mapping, bad rows and row selection."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from rolloutctl.errors import InputError
from rolloutctl.eval.dataset import BadRow, Row, parse_columns, parse_row_spec, read_dataset


def test_jsonl_rows_keep_their_index_and_line_across_blank_and_bad_lines(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps({"prompt": "hi", "system": "be brief", "id": "a", "max_turns": 3}) + "\n"
        "\n"
        "[1, 2]\n"
        + json.dumps({"messages": [{"role": "user", "content": "x"}], "ground_truth": 4})
        + "\n"
    )
    first, bad, last = read_dataset(path)
    assert isinstance(first, Row) and first.id == "a" and first.max_turns == 3
    assert first.messages == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert bad == BadRow(1, 3, "a row must be an object, not list")
    assert isinstance(last, Row) and (last.index, last.line, last.id) == (2, 4, "2")
    assert last.ground_truth == 4


def test_csv_with_mapped_columns_and_json_cells(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(
        "question,answer,metadata,max_turns\n"
        '"What is 1 + 1?",2,"{""level"": 1}",4\n'
        '"multi\nline",x,not json,2\n'
        ",3,,\n"
    )
    rows = read_dataset(path, parse_columns(["prompt=question", "ground_truth=answer"]))
    good, broken, empty = rows
    assert isinstance(good, Row) and good.ground_truth == "2" and good.metadata == {"level": 1}
    assert good.max_turns == 4 and good.line == 2
    assert broken == BadRow(1, 3, "'metadata' is not valid JSON (Expecting value at column 1)")
    assert isinstance(empty, BadRow) and empty.line == 5 and "prompt" in empty.reason


def test_parquet_rows(tmp_path):
    path = tmp_path / "d.parquet"
    table = pa.table({"prompt": ["What is 2 * 3?", "What is 1 - 1?"], "ground_truth": [6, 0]})
    pq.write_table(table, path)
    rows = read_dataset(path)
    assert [(r.index, r.ground_truth) for r in rows if isinstance(r, Row)] == [(0, 6), (1, 0)]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"messages": []}, "'messages' must be a non-empty list"),
        ({"messages": [{"content": "x"}]}, "messages[0] must be an object with a 'role'"),
        ({"prompt": "x", "max_turns": 0}, "'max_turns' must be a positive integer"),
        ({"prompt": "x", "completion_params": [1]}, "'completion_params' must be an object"),
        ({"messages": "hello"}, "'messages' must be a non-empty list of message objects, not a"),
        ({"prompt": 42}, "'prompt' must be a non-empty string, not an int (42)"),
        ({"prompt": ""}, "'prompt' must be a non-empty string, not an empty string"),
        ({"id": 1, "question": "q"}, "no 'messages' or 'prompt' column; the row's columns: id,"),
        (
            {"prompt": "x", "metadata": {"n": 2**70}},
            "metadata.n: the integer 1180591620717411303424 does not fit in 64 bits",
        ),
    ],
)
def test_bad_rows_say_why(tmp_path, row, reason):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(row) + "\n")
    (bad,) = read_dataset(path)
    assert isinstance(bad, BadRow) and reason in bad.reason


def test_row_spec_and_column_errors():
    assert parse_row_spec("3,7,10-12") == {3, 7, 10, 11, 12}
    for spec in ("x", "5-2", "-1", "1,,2"):
        with pytest.raises(InputError):
            parse_row_spec(spec)
    with pytest.raises(InputError, match="FIELD=COLUMN"):
        parse_columns(["answer"])


def test_values_rolloutctl_cannot_carry_fail_their_row_only(tmp_path):
    deep: dict[str, Any] = {"prompt": "x", "metadata": {}}
    inner = deep["metadata"]
    for _ in range(300):
        inner["a"] = {}
        inner = inner["a"]
    lines = [
        json.dumps(deep),
        '{"prompt": "x", "completion_params": {"temperature": NaN}}',
        '{"prompt": "x", "ground_truth": Infinity}',
        "[" * 200_000 + "]" * 200_000,
        json.dumps({"prompt": "fine"}),
        '{"id": 1, "prompt": "What is 2 + 2 and some more words to pad", "x": nope}',
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rows = read_dataset(path)
    reasons = [r.reason if isinstance(r, BadRow) else None for r in rows]
    assert str(reasons[0]).startswith("metadata.a.a.a.")
    assert str(reasons[0]).endswith(": nested deeper than 100 levels")
    assert (
        reasons[1] == "completion_params.temperature: nan is not a JSON number (NaN and "
        "Infinity are not)"
    )
    assert str(reasons[2]).startswith("ground_truth: inf is not a JSON number")
    assert reasons[3] == "nested deeper than 100 levels"
    assert reasons[4] is None
    assert reasons[5] == f"not JSON (Expecting value at column {lines[5].index('nope') + 1})"
    assert [r.line for r in rows] == [1, 2, 3, 4, 5, 6]


def test_a_missing_mapped_column_and_a_directory_say_so(tmp_path):
    path = tmp_path / "arith.csv"
    path.write_text("id,question,answer\n1,What is 2+2?,4\n")
    (bad,) = read_dataset(path, {"prompt": "questoin"})
    assert isinstance(bad, BadRow)
    assert bad.reason == (
        "no column prompt=questoin (from --column); the row's columns: id, question, answer"
    )
    (unmapped,) = read_dataset(path)
    assert isinstance(unmapped, BadRow)
    assert "the row's columns: id, question, answer" in unmapped.reason
    with pytest.raises(InputError, match="is a directory; give a JSONL, CSV or Parquet file"):
        read_dataset(tmp_path)
