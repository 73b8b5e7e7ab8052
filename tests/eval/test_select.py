"""Choosing rows as pytest chooses tests: -k EXPR, and -x to stop at the first that fails."""

from __future__ import annotations

import json

import pytest

from rolloutctl.errors import InputError
from rolloutctl.eval.keywords import keyword_matcher, row_text
from tests.eval.conftest import records, write_jsonl
from tests.helpers import run_cli


@pytest.mark.parametrize(
    ("expression", "chosen"),
    [
        ("add", ["add-1", "add-2"]),
        ("ADD and not 2", ["add-1"]),
        ("mul or (add and 1)", ["add-1", "mul-1"]),
        ("not (add or mul)", ["sub-9"]),
        ("seven", ["mul-1"]),  # the text of the messages, not only the id
    ],
)
def test_keyword_expressions(expression, chosen):
    rows = {"add-1": "1 + 1", "add-2": "2 + 2", "mul-1": "seven * 1", "sub-9": "9 - 1"}
    matches = keyword_matcher(expression)
    found = [rid for rid, text in rows.items() if matches(row_text(rid, [{"content": text}]))]
    assert found == chosen


@pytest.mark.parametrize("bad", ["", "add and", "(add", "add )", "or add"])
def test_bad_keyword_expressions_are_input_errors(bad):
    with pytest.raises(InputError, match="-k"):
        keyword_matcher(bad)


def test_k_and_x_on_a_real_run(served_calculator, tmp_path):
    calculator = ["--server-url", served_calculator]  # one server for the four runs
    rows = [
        {"id": "add-1", "prompt": "What is 1 + 1?", "ground_truth": 2},
        {"id": "add-2", "prompt": "What is 2 + 2?", "ground_truth": 5},  # a wrong answer key
        {"id": "add-3", "prompt": "What is 3 + 3?", "ground_truth": 6},
        {"id": "mul-1", "prompt": "What is 3 * 3?", "ground_truth": 9},
    ]
    dataset = write_jsonl(tmp_path / "d.jsonl", rows)
    chosen = run_cli("eval", str(dataset), *calculator, "-k", "add and not 2",
                     "-o", str(tmp_path / "k"), "--json")  # fmt: skip
    assert chosen.returncode == 0, chosen.stderr
    assert sorted(r["id"] for r in records(tmp_path / "k")) == ["add-1", "add-3"]
    stopped_dir = tmp_path / "x"
    stopped = run_cli("eval", str(dataset), *calculator, "-x", "--concurrency",
                      "1", "-o", str(stopped_dir), "--plain")  # fmt: skip
    assert stopped.returncode == 1, stopped.stderr
    assert "stopped after row 1 (epoch 0) did not pass (-x)" in stopped.stderr
    assert [r["id"] for r in records(stopped_dir)] == ["add-1", "add-2"]
    summary = json.loads((stopped_dir / "summary.json").read_text())
    assert summary["stopped_at"] == [1, 0]
    resumed = run_cli("eval", str(dataset), *calculator, "--resume",
                      str(stopped_dir), "--json")  # fmt: skip
    assert sorted(r["id"] for r in records(stopped_dir)) == ["add-1", "add-2", "add-3", "mul-1"]
    assert resumed.returncode == 0, resumed.stderr  # a wrong answer is not an error
    none = run_cli("eval", str(dataset), *calculator, "-k", "div",
                   "-o", str(tmp_path / "none"))  # fmt: skip
    assert none.returncode == 2 and "no row matches -k 'div' to run" in none.stderr
