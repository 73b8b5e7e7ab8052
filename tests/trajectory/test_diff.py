"""`rolloutctl diff` of two try runs, a file with itself, and rows of an eval run."""

from __future__ import annotations

import json
import subprocess

import pytest

from rolloutctl.trajectory.diff import diff_trajectories
from rolloutctl.trajectory.document import blank_trajectory, new_turn
from tests.helpers import rolloutctl_bin


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([rolloutctl_bin(), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def two_tries(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diff")
    paths = []
    for name, prompt in (("a", "What is (5 + 3) * 2?"), ("b", "What is (5 + 3) * 3?")):
        path = folder / f"{name}.json"
        done = run("try", "--example", "calculator", "--prompt", prompt, "--save", str(path),
                   "--json")  # fmt: skip
        assert done.returncode == 0, done.stderr
        paths.append(path)
    return paths


def test_two_tries_with_different_prompts_differ_at_turn_1(two_tries):
    a, b = two_tries
    result = run("diff", str(a), str(b), "--plain")
    assert result.returncode == 1, result.stderr
    assert "first difference: turn 1" in result.stdout
    assert "-user: What is (5 + 3) * 2?" in result.stdout
    assert "+user: What is (5 + 3) * 3?" in result.stdout
    assert '+assistant -> multiply #2 {"a": 8, "b": 3}' in result.stdout
    as_json = json.loads(run("diff", str(a), str(b), "--json").stdout)
    assert as_json["same"] is False and as_json["first_difference"] == 1


def test_a_file_with_itself_is_the_same(two_tries):
    a, _ = two_tries
    result = run("diff", str(a), str(a), "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["same"] is True and body["diff"] == [] and body["summary"] == {}


def _traj(turns: list[tuple[list[dict], dict]], reward: float | None = None) -> dict:
    traj = blank_trajectory("r")
    for index, (added, assistant) in enumerate(turns, 1):
        traj["turns"].append(new_turn(index, added) | {"assistant": assistant})
    traj["completion"] = {"status": "COMPLETED", "reward": reward, "metrics": {}}
    return traj


def _call(call_id: str, arguments: str) -> dict:
    function = {"name": "add", "arguments": arguments}
    return {"role": "assistant", "tool_calls": [{"id": call_id, "function": function}]}


def test_ids_and_argument_spacing_do_not_count_but_a_later_turn_and_reward_do():
    user = {"role": "user", "content": "1 + 2?"}
    done = {"role": "assistant", "content": "3"}
    a = _traj([([user], _call("x1", '{"a":1,"b":2}')),
               ([{"role": "tool", "tool_call_id": "x1", "content": "3"}], done)], 1.0)  # fmt: skip
    b = _traj([([user], _call("y9", '{"a": 1, "b": 2}')),
               ([{"role": "tool", "tool_call_id": "y9", "content": "3"}], done)], 1.0)  # fmt: skip
    assert diff_trajectories(a, b).same
    c = _traj([([user], _call("y9", '{"a": 1, "b": 2}')),
               ([{"role": "tool", "tool_call_id": "y9", "content": "4"}], done)], 0.0)  # fmt: skip
    result = diff_trajectories(a, c)
    assert result.first_difference == 1  # the call's result belongs to the calling turn
    assert result.summary == {"reward": [1.0, 0.0]}
    assert result.lines.index("+tool #1: 4") < result.lines.index(" --- turn 2 ---")
    shorter = _traj([([user], _call("x1", '{"a":1,"b":2}'))])
    assert diff_trajectories(a, shorter).first_difference == 1  # a's call was answered


@pytest.mark.timeout(600)
def test_rows_of_an_eval_run_and_bad_specs(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "What is 1 + 2?"}\n{"prompt": "What is 1 + 2?"}\n'
                    '{"prompt": "What is 2 + 2?"}\n')  # fmt: skip
    run_dir = tmp_path / "run"
    done = run("eval", str(data), "--example", "calculator", "-o", str(run_dir), "--json")
    assert done.returncode == 0, done.stderr
    assert run("diff", f"{run_dir}:0", f"{run_dir}:1").returncode == 0
    different = run("diff", f"{run_dir}:0", f"{run_dir / 'results.jsonl'}:2:0", "--json")
    assert different.returncode == 1 and json.loads(different.stdout)["first_difference"] == 1
    for spec, fragment in [(f"{run_dir}:9", "no result for row 9"),
                           (str(run_dir), f"name one rollout as {run_dir}:ROW"),
                           (str(run_dir / "results.jsonl"), "is an eval run"),
                           (str(tmp_path / "nope.json"), "no such file")]:  # fmt: skip
        for command in (("diff", spec, f"{run_dir}:0"), ("replay", spec)):
            bad = run(*command)
            assert bad.returncode == 2 and fragment in bad.stderr, (command, bad.stderr)
            assert len(bad.stderr.strip().splitlines()) == 1
    for spec in (f"{run_dir}:2", f"{run_dir}:2:0", f"{run_dir / 'results.jsonl'}:2"):
        shown = run("replay", spec, "--plain")
        assert shown.returncode == 0, shown.stderr
        assert "What is 2 + 2?" in shown.stdout and "COMPLETED" in shown.stdout
