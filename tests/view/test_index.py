"""The index, the summary, the rows query and compare, on real eval runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rolloutctl.view.compare import compare_runs
from rolloutctl.view.index import ResultsIndex
from rolloutctl.view.query import QueryError, RowQuery, page_of
from rolloutctl.view.safety import shown
from rolloutctl.view.summary import run_summary
from tests.view.conftest import Runs


def indexed(path: Path) -> ResultsIndex:
    index = ResultsIndex(path / "results.jsonl")
    index.refresh()
    return index


def rows(index: ResultsIndex, **params: str) -> list[tuple[int, int]]:
    total, positions = page_of(index, RowQuery.parse(params))
    found = [(index.outcomes[p].row, index.outcomes[p].epoch) for p in positions]
    assert total >= len(found)
    return found


def test_growing_file_is_read_from_the_last_offset_and_a_torn_line_waits(runs, tmp_path):
    lines = (runs.a / "results.jsonl").read_bytes().splitlines(keepends=True)
    path = tmp_path / "results.jsonl"
    path.write_bytes(b"".join(lines[:4]) + lines[4][:25])
    index = ResultsIndex(path)
    assert index.refresh() and len(index) == 4
    assert not index.refresh()  # nothing new: a stat, no read
    end = index.end
    with path.open("ab") as file:
        file.write(lines[4][25:] + b"\n" + b"".join(lines[5:]))  # a blank line is skipped
    assert index.refresh() and len(index) == 12 and index.end > end
    for position in range(len(index)):
        record = index.record(position)
        assert (record["row"], record.get("epoch", 0)) == (
            index.outcomes[position].row,
            index.outcomes[position].epoch,
        )
    staged = tmp_path / "staged.jsonl"
    staged.write_bytes(b"".join(lines[:2]))
    os.replace(staged, path)  # what --retry-failed does
    assert index.refresh() and len(index) == 2


def test_summary_failures_and_pass_interval(runs: Runs) -> None:
    summary = run_summary(indexed(runs.b))
    assert summary["rollouts"] == 12 and summary["status"] == {"COMPLETED": 11, "ERROR": 1}
    groups = {g["category"]: g for g in summary["failures"]}
    assert set(groups) == {"agent_error", "grader_error", "low_reward"}
    assert groups["agent_error"]["messages"][0]["message"].endswith("exploded on purpose")
    assert groups["agent_error"]["messages"][0]["examples"] == [[9, 0]]
    assert summary["histograms"]["reward"]["bars"][-1] == {"from": 1.0, "to": 1.0, "count": 9}
    low, high = summary["pass"]["pass_rate_ci95"]
    assert low < summary["pass"]["pass_rate"] < high
    assert "not_passed" not in summary and "failed_rows" not in summary


def test_rows_query_filters_sorts_and_pages(runs: Runs) -> None:
    index = indexed(runs.b)
    assert rows(index, status="ERROR") == [(9, 0)]
    assert rows(index, category="grader_error") == [(11, 0)]
    assert rows(index, failed="1") == [(8, 0), (9, 0), (11, 0)]
    assert rows(index, max_reward="0") == [(8, 0)]  # 9 (an ERROR) has no reward
    assert rows(index, q="NEEDLE") == [(10, 0)] and rows(index, q="q7") == [(7, 0)]
    assert rows(index, sort="reward", order="desc")[-1] == (11, 0)  # no reward: last
    assert rows(index, per_page="5", page="3") == [(10, 0), (11, 0)]
    assert rows(index, epoch="1") == []
    for bad in ({"sort": "x"}, {"epoch": "one"}, {"max_reward": "nan"}, {"per_page": "0"}):
        with pytest.raises(QueryError, match=next(iter(bad))):
            RowQuery.parse(bad)


def test_compare_two_runs_of_one_dataset(runs: Runs, tmp_path: Path) -> None:
    a, b = indexed(runs.a), indexed(runs.b)
    result = compare_runs(a, b, changed_only=True, page=1, per_page=50)
    assert result["counts"] == {"fixed": 2, "broken": 1, "changed": 1, "unchanged": 8, "missing": 0}
    assert [(r["row"], r["change"]) for r in result["rows"]] == [
        (6, "fixed"), (7, "fixed"), (9, "broken"), (11, "changed"),
    ]  # fmt: skip
    shutil.copytree(runs.a, tmp_path / "short")
    lines = (tmp_path / "short" / "results.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "short" / "results.jsonl").write_bytes(b"".join(lines[:6]))
    short = indexed(tmp_path / "short")
    assert compare_runs(short, a, False, 1, 50)["counts"]["missing"] == 6


def test_shown_hides_secrets_and_makes_controls_visible() -> None:
    body = {
        "server_url": "https://bob:hunter2@example.com/x?api_key=abc&n=1",
        "server-key": "sk-1",
        "api_key": "sk-2",
        "prompt_tokens": 17,
        "nested": [{"Authorization": "Bearer t"}, "\x1b[31mred\x07"],
    }
    assert shown(body) == {
        "server_url": "https://***@example.com/x?api_key=***&n=1",
        "server-key": "***",
        "api_key": "***",
        "prompt_tokens": 17,
        "nested": [{"Authorization": "***"}, "\\e[31mred\\x07"],
    }
