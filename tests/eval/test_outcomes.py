"""Typed eval outcomes against a real flaky model server: errors are not the model's failures."""

from __future__ import annotations

import json

import pytest

from tests.eval.conftest import arithmetic_rows, records, write_jsonl
from tests.eval.flaky_upstream import answer, upstream, url_of
from tests.helpers import run_cli

pytestmark = pytest.mark.timeout(900)


def eval_with(model_url: str, dataset, run_dir, *extra: str):
    return run_cli(
        "eval",
        str(dataset),
        "--example",
        "calculator",
        "--policy",
        "proxy",
        "--upstream",
        model_url,
        "-o",
        str(run_dir),
        "--json",
        *extra,
        timeout=600,
    )


def by_row(run_dir) -> dict[int, dict]:
    return {r["row"]: r for r in records(run_dir)}


def clean_outcomes(rows: list[dict]) -> dict[int, str]:
    """What each row scores when the upstream drops nothing: its answer rule is known."""
    right = [answer(row["prompt"]) == f"The answer is {row['ground_truth']}." for row in rows]
    return {index: "passed" if ok else "failed" for index, ok in enumerate(right)}


def test_a_flaky_upstream_gives_the_clean_pass_rate_and_retry_errors_leaves_none(tmp_path):
    # Eight rows: five of them doomed (two for two rollouts), passed and failed among both.
    questions = arithmetic_rows(8)
    dataset = write_jsonl(tmp_path / "d.jsonl", questions)
    clean_rows = clean_outcomes(questions)
    assert set(clean_rows.values()) == {"passed", "failed"}

    with upstream(flaky=True) as model:
        flaky = eval_with(url_of(model), dataset, tmp_path / "flaky")
        assert model.dropped > 0
    assert flaky.returncode == 1, flaky.stderr
    summary = json.loads(flaky.stdout)
    rows = by_row(tmp_path / "flaky")
    errored = sorted(row for row, r in rows.items() if r["outcome"] == "error")
    assert errored and len(errored) < len(questions)
    for row in errored:
        assert rows[row]["reward"] is None  # never a reward of 0 for what the model never saw
        assert rows[row]["error_category"] == "trainer_server_error"
    listed = [i for i in summary["not_passed"] if i["outcome"] == "error"]
    assert [i["row"] for i in listed] == errored
    assert all("upstream" in i["message"] for i in listed)
    survivors = [clean_rows[row] for row in rows if row not in errored]
    assert summary["pass"]["judged"] == len(survivors)
    assert summary["pass"]["pass_rate"] == survivors.count("passed") / len(survivors)
    assert summary["outcomes"]["error"] == len(errored)

    with upstream(flaky=True) as model:
        retried = eval_with(url_of(model), dataset, tmp_path / "retried", "--retry-errors", "3")
    assert retried.returncode == 0, retried.stderr
    summary = json.loads(retried.stdout)
    assert summary["outcomes"]["error"] == 0
    clean_passed = list(clean_rows.values()).count("passed")
    assert summary["pass"]["pass_rate"] == clean_passed / len(questions)
    rows = by_row(tmp_path / "retried")
    assert {row: r["outcome"] for row, r in rows.items()} == clean_rows
    again = {row: r["attempts"] for row, r in rows.items() if "attempts" in r}
    assert sorted(again) == errored  # the same conversations are doomed in every run
    for attempts in again.values():
        assert [a["outcome"] for a in attempts[:-1]] == ["error"] * (len(attempts) - 1)
        assert attempts[-1]["outcome"] in ("passed", "failed")
        assert len({a["rollout_id"] for a in attempts}) == len(attempts)


def test_a_raising_grader_is_a_grader_error_and_exit_1(tmp_path):
    grader = tmp_path / "grade.py"
    grader.write_text("def score(completion, row):\n    return row['metadata']['missing']\n")
    dataset = write_jsonl(tmp_path / "d.jsonl", arithmetic_rows(2))
    result = run_cli(
        "eval",
        str(dataset),
        "--example",
        "calculator",
        "--grader",
        f"{grader}:score",
        "-o",
        str(tmp_path / "run"),
        "--plain",
    )
    assert result.returncode == 1, result.stderr
    assert "grader_error 2" in result.stdout
    assert "row 0 epoch 0  grader_error  grader_error: KeyError: 'missing'" in result.stdout
    assert f"rolloutctl replay {tmp_path / 'run'}:0:0" in result.stdout
    assert f"rolloutctl view {tmp_path / 'run'}" in result.stdout
    assert all(r["outcome"] == "grader_error" for r in records(tmp_path / "run"))
