"""The SDK's own CLI drives us: `osmosis eval run` with `rolloutctl serve --protocol osmosis`
as the entrypoint, following the recipe in docs/osmosis.md as it is written.

The test writes the recipe's files into a fresh git workspace (the checkout's path in
place of `/path/to/rolloutctl`) and runs its commands. The model is rolloutctl's mock
trainer, served in this process on a free port in place of the recipe's
`rolloutctl mock-trainer --port 9001 &`. `osmosis eval run` then does all it does for a
user: `uv sync` of the rollout's environment (from uv's cache, the checkout editable),
the entrypoint started through `uv run`, its LiteLLM bridge, the rows sent through
`RolloutClient`. The rewards it reports must be those the dataset's labels call for.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from itertools import takewhile
from pathlib import Path
from typing import Any

from rolloutctl.trainer import MockTrainer
from tests.helpers import CLI_BOUND, run_cli_batch, run_server
from tests.osmosis.servers import ROOT

DOC = ROOT / "docs" / "osmosis.md"
SECTION = re.compile(r"\*\*Run under the SDK's own `osmosis eval run`\.\*\*(.*?)\n\*\*", re.S)
FILE = re.compile(r"^`([\w./-]+)`(?: \([^)]*\))?:\n\n```\w+\n(.*?)^```", re.S | re.M)
COMMANDS = re.compile(r"^```bash\n(git init.*?)^```", re.S | re.M)
CHECKOUT = "/path/to/rolloutctl"
DIRECTORIES = ("rollouts", "configs/eval", "configs/training", "data")
# Each row's final answer (the calculator policy's) and the reward its label calls for:
# numbers compare as numbers ("16.0" is 16), never as substrings ("4" is not in 42).
ANSWERS = ["The answer is 5.", "The answer is 16.", "The answer is 4.", "The answer is 42."]
REWARDS = [1.0, 1.0, 0.0, 0.0]


def test_osmosis_eval_run_drives_rolloutctl_serve_as_its_entrypoint(tmp_path: Path) -> None:
    section = recipe_section()
    workspace = tmp_path / "workspace"
    write_files(workspace, section)
    labels = [json.loads(line)["ground_truth"] for line in dataset_lines(workspace)]
    trainer = MockTrainer()
    with run_server(trainer.app) as trainer_url:
        done = run_commands(workspace, section, trainer_url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    (metrics,) = (workspace / ".osmosis" / "evals").glob("*/metrics.json")  # the one run
    run = metrics.parent
    index = sorted(read_jsonl(run / "index.jsonl"), key=lambda line: line["row_index"])
    assert [line["status"] for line in index] == ["success"] * len(labels)
    assert [line["reward"] for line in index] == REWARDS
    summary = json.loads(metrics.read_text())["summary"]
    assert (summary["graded"], summary["passed"], summary["pass_rate"]) == (4, 2, 0.5)
    for row, line in enumerate(index):
        saved = json.loads((run / "trajectories" / f"row_{row}_run_0.json").read_text())
        assert saved["steps"][-1]["message"] == ANSWERS[row]
        assert saved["extra"]["osmosis"]["label"] == labels[row]
        # written by the SDK inside rolloutctl's server, under the artifact root it was given
        assert (run / "rollout_trials" / line["rollout_id"] / "trajectory.json").is_file()
    tools = json.loads((run / "trajectories" / "row_1_run_0.json").read_text())["steps"]
    assert [step["tool_calls"][0]["function_name"] for step in tools[1:3]] == ["add", "multiply"]
    # and rolloutctl reads the run the SDK's CLI wrote ("Reading `osmosis eval run` results")
    replayed, exported = run_cli_batch(
        ["replay", f"{run}:1", "--plain"], ["export", str(run), "--format", "jsonl"]
    )
    assert "-> multiply(a=8, b=2)" in replayed.stdout, replayed.stderr
    assert [json.loads(line)["reward"] for line in exported.stdout.splitlines()] == REWARDS


def test_the_readme_shows_the_recipes_entrypoint() -> None:
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"`osmosis eval run` can drive.*?```python\n(.*?)```", readme, re.S)
    assert shown, "README.md does not show the entrypoint"
    assert shown.group(1) in dict(FILE.findall(recipe_section()))["rollouts/calc/main.py"]


def recipe_section() -> str:
    found = SECTION.search(DOC.read_text())
    assert found, f"{DOC} has no `osmosis eval run` recipe"
    return found.group(1)


def write_files(workspace: Path, section: str) -> None:
    for directory in DIRECTORIES:
        (workspace / directory).mkdir(parents=True, exist_ok=True)
    files = FILE.findall(section)
    assert {path for path, _ in files} >= {"rollouts/calc/main.py", "data/rows.jsonl"}
    for path, text in files:
        (workspace / path).parent.mkdir(parents=True, exist_ok=True)
        (workspace / path).write_text(text.replace(CHECKOUT, str(ROOT)))


def dataset_lines(workspace: Path) -> list[str]:
    return (workspace / "data" / "rows.jsonl").read_text().splitlines()


def run_commands(
    workspace: Path, section: str, trainer_url: str
) -> subprocess.CompletedProcess[str]:
    """The recipe's commands in order; the one that starts the model is this process's trainer."""
    found = COMMANDS.search(section)
    assert found, "the recipe has no commands"
    lines = found.group(1).replace("\\\n", " ").splitlines()
    commands = [shlex.split(line) for line in lines if line.strip()]
    (git, trainer, osmosis) = commands
    assert trainer[:3] == ["rolloutctl", "mock-trainer", "--port"] and trainer[-1] == "&"
    subprocess.run(git, cwd=workspace, check=True)
    env_words = list(takewhile(lambda word: "=" in word, osmosis))
    stated = dict(word.split("=", 1) for word in env_words)
    given = {k: v.replace(f"http://127.0.0.1:{trainer[3]}", trainer_url) for k, v in stated.items()}
    argv = osmosis[len(env_words) :]
    assert argv[0] == "osmosis"
    return subprocess.run(
        [str(Path(sys.executable).parent / "osmosis"), *argv[1:]],
        cwd=workspace, env=environment(given), capture_output=True, text=True, timeout=CLI_BOUND,
    )  # fmt: skip


def environment(given: dict[str, str]) -> dict[str, str]:
    """The recipe's variables, plus what a loopback-only machine needs: the interpreter of
    this test for the rollout's environment (uv would download one), and LiteLLM's cost
    map from its package rather than the network."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(given, UV_PYTHON=sys.executable, LITELLM_LOCAL_MODEL_COST_MAP="True")
    return env


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
