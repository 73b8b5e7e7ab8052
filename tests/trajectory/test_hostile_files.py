"""Hostile files and options against export, replay, diff, view, eval, try, validate and
init: no escape, exit 2, one line."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from rolloutctl.trajectory.document import load_trajectory
from tests.helpers import CLI_BOUND, rolloutctl_bin


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [rolloutctl_bin(), *args], capture_output=True, text=True, timeout=CLI_BOUND, cwd=cwd
    )


@pytest.fixture(scope="module")
def tried(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "try.json"
    result = run("try", "--example", "calculator", "--save", str(path), "--json")
    assert result.returncode == 0, result.stderr
    return path


def test_export_atif_never_writes_outside_its_directory(tried, tmp_path):
    escape = f"/tmp/rolloutctl-escape-{uuid.uuid4().hex}"
    ids = ["../../up", escape, "a/b", "a_b", "..", ".", "A_B", "ok", ""]
    traj = load_trajectory(tried)
    run_dir = tmp_path / "work" / "run"
    run_dir.mkdir(parents=True)
    with (run_dir / "results.jsonl").open("w") as results:
        for row, rollout_id in enumerate(ids):
            record = {"row": row, "epoch": 0, "status": "COMPLETED", "reward": 1.0}
            record["trajectory"] = traj | {"rollout_id": rollout_id}
            results.write(json.dumps(record) + "\n")
    out = tmp_path / "work" / "out"
    result = run("export", str(run_dir), "--format", "atif", "-o", str(out), cwd=run_dir)
    assert result.returncode == 0, result.stderr
    assert not Path(escape).exists()
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["out", "run"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    folders = sorted(p.name for p in out.iterdir())
    expected = ["_.._up", escape.replace("/", "_"), "a_b", "a_b-2", "rollout-5", "rollout-6"]
    assert folders == sorted([*expected, "A_B-3", "ok", "rollout-9"])
    for folder in out.iterdir():
        assert (folder / "trajectory.json").is_file()


def deep_file(path: Path, depth: int = 200_000) -> Path:
    path.write_text('{"format": "rolloutctl.trajectory", "x": ' + "[" * depth + "]" * depth + "}")
    return path


def test_files_nested_200000_deep_exit_2_with_one_line_everywhere(tried, tmp_path):
    deep = deep_file(tmp_path / "deep.json")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text('{"row": 0, "x": ' + "[" * 200_000 + "\n")
    dataset = tmp_path / "d.jsonl"
    dataset.write_text("[" * 200_000 + "]" * 200_000 + "\n")
    cases = [
        (["replay", str(deep)], "nested deeper than 100 levels"),
        (["diff", str(deep), str(tried)], "nested deeper than 100 levels"),
        (["diff", str(tried), str(deep)], "nested deeper than 100 levels"),
        (["export", str(deep)], "nested deeper than 100 levels"),
        (["export", str(deep), "--format", "atif", "-o", str(tmp_path / "o")], "nested deeper"),
        (["replay", f"{run_dir}:0"], "no result for row 0"),
        (["eval", str(dataset), "--example", "calculator"], f"{dataset}:1: row 0: nested"),
        (
            [
                "init",
                "http://127.0.0.1:9",
                "--trainer-url",
                "http://127.0.0.1:9",
                "--messages",
                str(deep),
            ],
            "nested deeper than 100 levels",
        ),
    ]
    assert_refused(cases)


def assert_refused(cases: list[tuple[list[str], str]]) -> None:
    """Each command exits 2 with one line holding its fragment, never a traceback."""
    for args, fragment in cases:
        result = run(*args)
        assert result.returncode == 2, (args[:3], result.stderr)
        assert fragment in result.stderr, (args[:3], result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, (args[:3], result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr


OPTION = '{"a": ' + "[" * 60_000 + "]" * 60_000 + "}"  # an argument holds up to 128 KiB
NOWHERE = "http://127.0.0.1:9"
CALCULATOR = ["--example", "calculator"]
DEEP_CASES = {  # {deep}, {script} and {tried} are files; the fragment the one line holds
    "view": (["view", "{deep}", "--port", "0"], "{deep}: nested deeper than 100 levels"),
    "view two": (["view", "{tried}", "{deep}", "--port", "0"], "{deep}: nested deeper"),
    "try script": (["try", *CALCULATOR, "--policy", "script", "--script", "{script}"],
                   "script {script}: nested deeper than 100 levels"),
    "try metadata": (["try", *CALCULATOR, "--metadata", OPTION], "--metadata: nested deeper"),
    "try extra fields": (["try", *CALCULATOR, "--protocol", "osmosis", "--extra-fields", OPTION],
                         "--extra-fields: nested deeper than 100 levels"),
    "validate": (["validate", *CALCULATOR, "--metadata", OPTION], "--metadata: nested deeper"),
    "init": (["init", NOWHERE, "--trainer-url", NOWHERE, "--metadata", OPTION], "--metadata: "),
}  # fmt: skip


@pytest.mark.parametrize("case", list(DEEP_CASES))
def test_deep_files_and_options_of_view_try_validate_and_init_exit_2(tried, tmp_path, case):
    files = {"deep": deep_file(tmp_path / "deep.json"), "tried": tried,
             "script": tmp_path / "script.json"}  # fmt: skip
    files["script"].write_text("[" + "[" * 200_000 + "]" * 200_000 + "]")
    args, fragment = DEEP_CASES[case]
    for name, path in files.items():
        args = [str(path) if arg == f"{{{name}}}" else arg for arg in args]
        fragment = fragment.replace(f"{{{name}}}", str(path))
    assert_refused([(args, fragment)])
