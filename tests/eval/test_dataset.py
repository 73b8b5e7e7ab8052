"""Reading datasets: formats, column mapping, bad rows and row selection."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
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
    assert broken == BadRow(1, 3, "'metadata' is not valid JSON")
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
