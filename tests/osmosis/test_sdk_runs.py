"""`replay`, `export` and `diff` read Osmosis SDK eval run directories, as the SDK writes
them (tests/osmosis/sdk_run.py), through the real `rolloutctl` binary."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from osmosis_ai.eval.local.results import read_valid_trajectory
from osmosis_ai.rollout.trajectory.atif import Trajectory as SdkAtif

from tests.eval.conftest import write_jsonl
from tests.helpers import CLI_BOUND, run_cli, run_cli_batch
from tests.osmosis.sdk_run import KEY, QUESTIONS, RUN_A, RUN_B, SYSTEM, write_sdk_runs


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sdk-runs")
    return write_sdk_runs(root, {"sdk-a": RUN_A, "sdk-b": RUN_B})


def index_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "index.jsonl").read_text().splitlines()]


def osmosis_extra(run: Path, rollout_id: str) -> dict:
    return json.loads((run / "rollout_trials" / rollout_id / "trajectory.json").read_text())[
        "extra"
    ]["osmosis"]


def test_replay_shows_a_row_of_an_sdk_run_with_its_turns_and_tokens(sdk: dict[str, Path]) -> None:
    run = sdk["sdk-a"]
    first = index_rows(run)[0]
    sample = osmosis_extra(run, first["rollout_id"])["sample_metrics"]
    *rows, wrong, failed = run_cli_batch(
        ["replay", f"{run}:0", "--plain"],
        ["replay", f"{run}/index.jsonl:0:0", "--plain"],
        ["replay", f"{run}:1", "--json"],  # row 1's label was wrong: reward 0
        ["replay", f"{run}:2", "--plain"],  # the SDK saved no trajectory for it
    )
    for shown in rows:
        assert shown.returncode == 0, shown.stderr
        assert "-> multiply(a=8, b=2)" in shown.stdout
        assert "assistant  The answer is 16." in shown.stdout
        tokens = f"{int(sample['prompt_tokens'])} prompt + {int(sample['response_tokens'])} "
        assert f"tokens       {tokens}completion" in shown.stdout
        assert f"rollout      {first['rollout_id']}" in shown.stdout
    completion = json.loads(wrong.stdout)["completion"]
    assert (completion["status"], completion["reward"]) == ("success", 0.0)
    assert completion["label"] == "21"
    assert failed.returncode == 0, failed.stderr
    assert re.search(r"status +failure", failed.stdout)
    assert "agent_error" in failed.stdout


def test_replay_of_the_index_alone_says_how_to_name_a_row(sdk: dict[str, Path]) -> None:
    index = sdk["sdk-a"] / "index.jsonl"
    shown, missing = run_cli_batch(["replay", str(index)], ["replay", f"{sdk['sdk-a']}:7"])
    assert shown.returncode == 2
    assert f"name one rollout as {index}:ROW" in shown.stderr
    assert "not JSON" not in shown.stderr and "Traceback" not in shown.stderr
    assert missing.returncode == 2 and "no result for row 7 epoch 0" in missing.stderr


def test_a_trajectory_file_inside_an_sdk_run_is_read_with_its_index_row(
    sdk: dict[str, Path],
) -> None:
    run = sdk["sdk-a"]
    row = index_rows(run)[2]  # row 1, reward 0.0
    paths = (run / "trajectories" / "row_1_run_0.json",
             run / "rollout_trials" / row["rollout_id"] / "trajectory.json")  # fmt: skip
    for shown in run_cli_batch(*(["replay", str(path), "--json"] for path in paths)):
        assert shown.returncode == 0, shown.stderr
        traj = json.loads(shown.stdout)
        assert traj["rollout_id"] == row["rollout_id"]
        assert traj["completion"]["reward"] == row["reward"] == 0.0
        assert traj["protocol"] == "osmosis"


def test_export_jsonl_writes_every_row_in_row_order(sdk: dict[str, Path]) -> None:
    run = sdk["sdk-a"]
    exported, completed = run_cli_batch(
        ["export", str(run / "index.jsonl"), "--format", "jsonl"],
        ["export", str(run), "--format", "jsonl", "--only-completed"],
    )
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    rows = index_rows(run)
    assert [line["rollout_id"] for line in lines] == [row["rollout_id"] for row in rows]
    assert [line["status"] for line in lines] == ["success", "success", "success", "failure"]
    assert [line.get("reward") for line in lines] == [row.get("reward") for row in rows]
    assert lines[0]["final_messages"][-1]["content"] == "The answer is 16."
    assert lines[0]["metrics"]["num_llm_calls"] == 3
    assert KEY not in exported.stdout
    assert "exported 3 of 4 rollouts" in completed.stderr


def test_export_atif_of_an_sdk_run_keeps_every_field_the_sdk_wrote(
    sdk: dict[str, Path], tmp_path: Path
) -> None:
    run, out = sdk["sdk-a"], tmp_path / "atif"
    exported = run_cli("export", str(run), "--format", "atif", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "exported 3 of 4 rollouts" in exported.stderr  # row 2 saved no messages
    for row in index_rows(run)[:3]:
        rollout_id = row["rollout_id"]
        original = json.loads((run / "rollout_trials" / rollout_id / "trajectory.json").read_text())
        again = read_valid_trajectory(out / rollout_id / "trajectory.json", rollout_id=rollout_id)
        assert again is not None  # the SDK's own check: it parses, and its identity matches
        SdkAtif.model_validate(again)
        for field in ("trajectory_id", "session_id", "agent"):
            assert again[field] == original[field], field
        assert again["extra"]["osmosis"] == original["extra"]["osmosis"]
        messages = [(s["source"], s["message"]) for s in again["steps"]]
        assert messages == [(s["source"], s["message"]) for s in original["steps"]]


def test_diff_of_two_sdk_runs_goes_row_by_row(sdk: dict[str, Path]) -> None:
    a, b = str(sdk["sdk-a"]), str(sdk["sdk-b"])
    shown, plain, itself, one = run_cli_batch(
        ["diff", a, f"{b}/index.jsonl", "--json"],
        ["diff", a, b, "--plain"],
        ["diff", a, a, "--plain"],
        ["diff", f"{a}:0", f"{a}:0:1", "--plain"],
    )
    assert shown.returncode == 1, shown.stderr
    body = json.loads(shown.stdout)
    assert body["same"] is False
    assert body["counts"] == {"fixed": 2, "broken": 0, "changed": 0, "unchanged": 1, "missing": 1}
    changes = {(row["row"], row["epoch"]): row["change"] for row in body["rows"]}
    assert changes == {(0, 0): "unchanged", (0, 1): "missing", (1, 0): "fixed", (2, 0): "fixed"}
    assert "row 2 epoch 0  fixed    ERROR reward None (agent_error) -> COMPLETED" in plain.stdout
    assert itself.returncode == 0 and "4 unchanged" in itself.stdout
    assert one.returncode == 0 and "same messages" in one.stdout


def test_diff_of_an_sdk_run_with_a_rolloutctl_eval_run(
    sdk: dict[str, Path], tmp_path: Path
) -> None:
    rows = [{"user_prompt": question, "system_prompt": SYSTEM["content"], "ground_truth": label}
            for question, label in QUESTIONS.values()]  # fmt: skip
    data, ours = write_jsonl(tmp_path / "arith.jsonl", rows), tmp_path / "ours"
    evaluated = run_cli("eval", str(data), "--example", "calculator", "--protocol", "osmosis",
                        "-o", str(ours), "--json", timeout=CLI_BOUND)  # fmt: skip
    assert evaluated.returncode in (0, 1), evaluated.stderr
    shown = run_cli("diff", str(sdk["sdk-a"]), str(ours / "results.jsonl"), "--json")
    body = json.loads(shown.stdout)
    changes = {(row["row"], row["epoch"]): row["change"] for row in body["rows"]}
    # row 1 fails the same way in both (the label is wrong); row 2 failed only in the SDK run
    assert changes == {(0, 0): "unchanged", (0, 1): "missing", (1, 0): "unchanged",
                       (2, 0): "fixed"}  # fmt: skip
    assert shown.returncode == 1


def test_a_hostile_index_row_reads_nothing_outside_the_run(
    sdk: dict[str, Path], tmp_path: Path
) -> None:
    """A row naming a rollout id that climbs out of rollout_trials/ (the SDK never writes
    one) and a torn last line: the row shows without a trajectory, the line is skipped."""
    run = tmp_path / "hostile"
    shutil.copytree(sdk["sdk-a"], run)
    outside = tmp_path / "secret"
    (outside / "trajectory.json").parent.mkdir()
    shutil.copy(run / "trajectories" / "row_0_run_0.json", outside / "trajectory.json")
    row = {"row_index": 9, "run_index": 0, "rollout_id": "../../secret", "status": "success"}
    with (run / "index.jsonl").open("a") as index:
        index.write(json.dumps(row) + '\n{"row_index": 10, "run_in')
    shown, exported = run_cli_batch(
        ["replay", f"{run}:9", "--json"], ["export", str(run), "--format", "jsonl"]
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["turns"] == []
    assert "exported 5 of 5 rollouts" in exported.stderr
