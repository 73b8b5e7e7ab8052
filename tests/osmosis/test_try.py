"""`try --protocol osmosis`: the 0.3 request fields, the tools really offered, no tools."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers import CLI_BOUND, rolloutctl_bin
from tests.osmosis.servers import cli_at_once, template_server


def try_osmosis(*args: str) -> subprocess.CompletedProcess[str]:
    return tries_at_once(list(args))[0]


def tries_at_once(*runs: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """`try --protocol osmosis ARGS` for each of `runs`, all running at the same time."""
    return cli_at_once(*(["try", "--protocol", "osmosis", *args] for args in runs))


def test_the_label_reaches_a_template_style_grader(tmp_path: Path) -> None:
    metadata, extra = '{"row": 7}', '{"trace": "t-1"}'
    with template_server(tmp_path) as url:
        graded, unlabelled, shown = tries_at_once(
            ["--server-url", url, "--label", "16", "--metadata", metadata, "--agent-timeout",
             "120", "--grader-timeout", "30", "--extra-fields", extra, "--json"],
            ["--server-url", url, "--json"],
            ["--server-url", url, "--label", "16", "--plain"],
        )  # fmt: skip
    assert graded.returncode == 0, graded.stdout + graded.stderr
    traj = json.loads(graded.stdout)
    assert traj["completion"]["reward"] == 1.0 and traj["completion"]["status"] == "success"
    sent = traj["init"]
    assert (sent["label"], sent["metadata"], sent["extra_fields"]) == (
        "16",
        {"row": 7},
        {"trace": "t-1"},
    )
    assert (sent["agent_timeout_sec"], sent["grader_timeout_sec"]) == (120.0, 30.0)
    assert [t["function"]["name"] for t in traj["tools"]] == ["add", "multiply"]
    assert json.loads(unlabelled.stdout)["completion"]["reward"] == 0.0  # ctx.label is None
    lines = shown.stdout.splitlines()
    assert "tools offered per request" in lines
    assert "tools add, multiply (as the first chat request offered them)" in lines


def test_a_workflow_that_offers_no_tools_gets_answers_without_tool_calls(tmp_path: Path) -> None:
    done = try_osmosis("--example", "echo", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    traj = json.loads(done.stdout)
    assert traj["violations"] == [] and traj["tools"] == []
    assert all(not turn["assistant"].get("tool_calls") for turn in traj["turns"])
    assert traj["completion"]["status"] == "success"


def test_the_osmosis_fields_are_refused_for_v1() -> None:
    done = subprocess.run([rolloutctl_bin(), "try", "--example", "echo", "--label", "16"],
                          capture_output=True, text=True, timeout=CLI_BOUND)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "rolloutctl: error: --label: only with --protocol osmosis\n"
