"""`rolloutctl eval` as a user runs it: the real binary, a real served agent."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pexpect
import pytest

from tests.eval.conftest import gated_agent, records, write_jsonl
from tests.helpers import CLI_BOUND, assert_plain_text, rolloutctl_bin, run_cli, run_cli_batch
from tests.trajectory.openai_format import problems

# Each test runs the real binary (and a spawned server) a few times: slow on a busy machine.
pytestmark = pytest.mark.timeout(600)


def test_200_arithmetic_rows_all_completed_with_reward_one(arithmetic, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(
        "eval",
        str(arithmetic(200)),
        "--example",
        "calculator",
        "-o",
        str(run_dir),
        "--concurrency",
        "16",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == {"COMPLETED": 200}
    assert summary["reward"]["mean"] == 1.0
    assert summary["pass"]["pass_rate"] == 1.0
    lines = records(run_dir)
    assert len(lines) == 200
    assert sorted(r["row"] for r in lines) == list(range(200))
    first = next(r for r in lines if r["row"] == 0)
    assert first["id"] == "q0" and first["finish_reason"] == "stop" and first["reward"] == 1.0
    assert first["trajectory"]["format"] == "rolloutctl.trajectory"
    assert first["trajectory"]["init"]["metadata"]["ground_truth"] is not None
    assert json.loads((run_dir / "summary.json").read_text())["rollouts"] == 200
    exported = run_cli(
        "export", str(run_dir), "--format", "openai", "--only-completed", "--min-reward", "1"
    )
    assert exported.returncode == 0, exported.stderr
    exported_lines = exported.stdout.splitlines()
    assert len(exported_lines) == 200
    assert [problems(line) for line in exported_lines] == [[]] * 200


def test_against_a_running_server_and_a_wrong_answer_scores_zero(served_calculator, tmp_path):
    rows: list[dict[str, Any]] = [
        {"prompt": "What is 6 * 7?", "ground_truth": 42},
        {"prompt": "What is 6 * 7?", "ground_truth": "41"},
        {"prompt": "What is 2 + 2?"},  # no ground truth: no reward
    ]
    dataset = write_jsonl(tmp_path / "d.jsonl", rows)
    run_dir = tmp_path / "run"
    result = run_cli(
        "eval", str(dataset), "--server-url", served_calculator, "-o", str(run_dir), "--json"
    )
    assert result.returncode == 0, result.stderr
    by_row = {r["row"]: r for r in records(run_dir)}
    assert [by_row[i]["reward"] for i in range(3)] == [1.0, 0.0, None]
    summary = json.loads(result.stdout)
    assert summary["status"] == {"COMPLETED": 3} and summary["reward"]["mean"] == 0.5
    server = summary["this_session"]["server_metrics"]  # read from the server's /metrics
    assert server["accepted"] == server["completed"] == 3


def test_bad_row_is_one_line_or_skipped(arithmetic, tmp_path):
    dataset = arithmetic(8)
    lines = dataset.read_text().splitlines()
    lines[2] = '{"prompt": ""}'
    lines[3] = "{not json"
    lines[4] = '{"prompt": "x", "metadata": ' + '{"a": ' * 300 + "1" + "}" * 301
    lines[5] = '{"prompt": "x", "completion_params": {"temperature": NaN}}'
    lines[6] = '{"prompt": "x", "metadata": {"n": ' + "9" * 25 + "}}"
    dataset.write_text("\n".join(lines) + "\n")
    result = run_cli("eval", str(dataset), "--example", "calculator", "-o", str(tmp_path / "a"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"rolloutctl: error: {dataset}:3: row 2: 'prompt' must be a non-empty string, not an "
        "empty string (--skip-bad-rows to go on without it)"
    ]
    assert "Traceback" not in result.stderr
    skipped = run_cli(
        "eval",
        str(dataset),
        "--example",
        "calculator",
        "--skip-bad-rows",
        "-o",
        str(tmp_path / "b"),
        "--json",
    )
    assert skipped.returncode == 0, skipped.stderr
    assert f"{dataset}:4: row 3: not JSON" in skipped.stderr
    assert f"{dataset}:5: row 4: metadata.a.a.a." in skipped.stderr
    assert "nested deeper than 100 levels (skipped)" in skipped.stderr
    assert f"{dataset}:6: row 5: completion_params.temperature: nan is not" in skipped.stderr
    assert f"{dataset}:7: row 6: metadata.n: the integer 9999" in skipped.stderr
    assert "does not fit in 64 bits (skipped)" in skipped.stderr
    assert "internal error" not in skipped.stderr
    assert sorted(r["row"] for r in records(tmp_path / "b")) == [0, 1, 7]
    assert json.loads(skipped.stdout)["skipped_rows"] == 5
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["skipped_rows"] == 5


def test_rows_limit_epochs_and_pass_at_k(arithmetic, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(
        "eval",
        str(arithmetic(30)),
        "--example",
        "calculator",
        "--rows",
        "3,7,10-20",
        "--limit",
        "5",
        "--epochs",
        "4",
        "-o",
        str(run_dir),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    keys = sorted((r["row"], r["epoch"]) for r in records(run_dir))
    assert keys == [(row, epoch) for row in (3, 7, 10, 11, 12) for epoch in range(4)]
    passes = json.loads(result.stdout)["pass"]
    assert passes["pass_at_k"] == {"1": 1.0, "2": 1.0, "4": 1.0}


ROWS = 12


def test_ctrl_c_keeps_what_finished_and_resume_redoes_nothing(tmp_path):
    gate = tmp_path / "gate"  # rows from 3 on wait for it: Ctrl-C comes while they wait
    slow = gated_agent(tmp_path, gate)
    dataset = write_jsonl(
        tmp_path / "d.jsonl", [{"prompt": f"What is {i} + 1?"} for i in range(ROWS)]
    )
    run_dir = tmp_path / "run"
    child = pexpect.spawn(
        rolloutctl_bin(),
        ["eval", str(dataset), f"{slow}:agent", "--concurrency", "2", "-o", str(run_dir)],
        encoding="utf-8",
        timeout=CLI_BOUND,
        dimensions=(40, 160),
    )

    child.expect("COMPLETED [1-9]")  # the live bar counts finished rollouts
    child.sendintr()
    child.expect("resume with: rolloutctl eval .* --resume " + str(run_dir))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    kept = records(run_dir)
    assert 0 < len(kept) < ROWS
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["rollouts"] == len(kept)
    gate.touch()
    resumed = run_cli(
        "eval",
        str(dataset),
        f"{slow}:agent",
        "--concurrency",
        "8",
        "--resume",
        str(run_dir),
        "--json",
    )
    assert resumed.returncode == 0, resumed.stderr
    after = json.loads(resumed.stdout)
    assert after["this_session"]["rollouts"] == ROWS - len(kept)
    assert sorted(r["row"] for r in records(run_dir)) == list(range(ROWS))
    again = run_cli("eval", str(dataset), f"{slow}:agent", "--resume", str(run_dir), "--json")
    assert json.loads(again.stdout)["this_session"]["rollouts"] == 0
    assert len(records(run_dir)) == ROWS


def test_retry_failed_reruns_only_the_errors_and_a_grader_scores(tmp_path):
    flag = tmp_path / "broken"
    flag.touch()
    agent = tmp_path / "flaky.py"
    agent.write_text(
        textwrap.dedent(f"""
        from pathlib import Path
        from rolloutctl import ToolLoopAgent

        class Flaky(ToolLoopAgent):
            name = "flaky"

            async def run(self, ctx):
                if ctx.request.metadata.get("flaky") and Path({str(flag)!r}).exists():
                    raise RuntimeError("flaky row")
                return await super().run(ctx)

        agent = Flaky()
    """)
    )
    grader = tmp_path / "grade.py"
    grader.write_text(
        "def score(completion, row):\n"
        "    return float(row['ground_truth'] in completion['final_messages'][-1]['content'])\n"
    )
    rows = [
        {"prompt": f"say {w}", "ground_truth": w, "metadata": {"flaky": w == "b"}} for w in "abc"
    ]
    dataset = write_jsonl(tmp_path / "d.jsonl", rows)
    run_dir = tmp_path / "run"
    common = [
        "eval",
        str(dataset),
        f"{agent}:agent",
        "--policy",
        "echo",
        "--grader",
        f"{grader}:score",
        "--json",
    ]
    first = run_cli(*common, "-o", str(run_dir))
    assert first.returncode == 1
    summary = json.loads(first.stdout)
    assert summary["status"] == {"COMPLETED": 2, "ERROR": 1}
    assert summary["error_categories"] == {"agent_error": 1} and summary["failed_rows"] == [1]
    flag.unlink()
    retried = run_cli(*common, "--retry-failed", str(run_dir))
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout)["this_session"]["rollouts"] == 1
    kept = records(run_dir)
    assert sorted(r["row"] for r in kept) == [0, 1, 2]
    assert all(r["status"] == "COMPLETED" and r["reward"] == 1.0 for r in kept)


def test_plain_summary_and_progress_lines_off_a_terminal(arithmetic, tmp_path):
    result = run_cli(
        "eval",
        str(arithmetic(3)),
        "--example",
        "calculator",
        "--plain",
        "-o",
        str(tmp_path / "run"),
    )
    assert result.returncode == 0, result.stderr
    assert (
        "eval: 3/3 (100%)" in result.stderr and "COMPLETED 3 ERROR 0 reward 1.000" in result.stderr
    )
    for label in ("status", "reward", "pass rate", "latency", "per rollout", "violations"):
        assert label in result.stdout
    assert "\x1b[" not in result.stdout
    assert_plain_text(result.stdout)


def test_usage_errors_are_one_line(tmp_path, arithmetic):
    dataset = arithmetic(2)
    cases = [
        (["eval", str(tmp_path / "none.jsonl"), "--example", "calculator"], "no such dataset"),
        (["eval", str(dataset), "--example", "calculator", "--rows", "x"], "--rows"),
        (["eval", str(dataset), "--example", "calculator", "--column", "bogus=x"], "--column"),
        (["eval", str(dataset), "--example", "calculator", "--grader", "nope"], "--grader"),
        (
            ["eval", str(dataset), "--resume", str(tmp_path), "--example", "calculator"],
            "config.json",
        ),
    ]
    for (args, fragment), result in zip(cases, run_cli_batch(*(a for a, _ in cases)), strict=True):
        assert result.returncode == 2, (args, result.stderr)
        assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1
