"""ESC, OSC, CSI and C1 sequences in model text never reach the terminal raw.

Every command that prints model or server text is run in a real pty (its rich mode,
colours on), fed a prompt full of escape sequences, and its output is searched for them.
"""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import httpx
import pexpect
import pytest

from tests.eval.conftest import write_jsonl
from tests.helpers import CLI_BOUND, free_port, rolloutctl_bin

pytestmark = pytest.mark.timeout(600)

HOSTILE = (
    "title\x1b]0;pwned\x07 clear\x1b[2J link\x1b]8;;http://evil.example\x1b\\x\x1b]8;;\x1b\\"
    " c1\x9b31mred dcs\x1bPq\x1b\\ c1osc\x9d0;t\x9c del\x7f"
)
RAW = ["\x1b]", "\x1b[2J", "\x1b\\", "\x1bP", "\x9b", "\x9d", "\x9c", "\x07", "\x7f"]


def terminal(*args: str, env: dict | None = None) -> tuple[pexpect.spawn, io.StringIO]:
    child = pexpect.spawn(
        rolloutctl_bin(), list(args), encoding="utf-8", timeout=CLI_BOUND, dimensions=(50, 200),
        env=env,
    )  # fmt: skip
    child.logfile_read = transcript = io.StringIO()
    return child, transcript


def finished(args: list[str]) -> str:
    child, transcript = terminal(*args)
    child.expect(pexpect.EOF)
    child.close()
    return transcript.getvalue()


def assert_safe(output: str, what: str) -> None:
    found = [seq for seq in RAW if seq in output]
    assert found == [], f"{what} printed raw {found!r}"
    assert "\\e]0;pwned" in output, f"{what} did not show the sequence as text"


@pytest.fixture(scope="module")
def hostile_runs(tmp_path_factory) -> dict[str, Path]:
    """Two saved rollouts of the echo agent and policy, one with the hostile prompt."""
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, prompt in (("a", HOSTILE), ("b", "plain words")):
        paths[name] = folder / f"{name}.json"
        output = finished(
            ["try", "--example", "echo", "--policy", "echo", "--prompt", prompt,
             "--save", str(paths[name])]
        )  # fmt: skip
        if name == "a":
            assert_safe(output, "try's live view")
    return paths


def test_replay_and_diff_show_escapes_as_text(hostile_runs):
    assert_safe(finished(["replay", str(hostile_runs["a"])]), "replay")
    diff = finished(["diff", str(hostile_runs["a"]), str(hostile_runs["b"])])
    assert_safe(diff, "diff")
    assert "first difference" in diff


def test_the_mock_trainers_console_shows_escapes_as_text():
    port = free_port()
    child, transcript = terminal("mock-trainer", "--port", str(port), "--policy", "echo")
    try:
        child.expect("mock trainer")
        body = {"model": "m", "rollout_id": "r-hostile", "messages": [
            {"role": "user", "content": HOSTILE}]}  # fmt: skip
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        child.expect("chat →")
        child.expect("ms")
    finally:
        child.sendintr()
        child.expect(pexpect.EOF)
        child.close()
    assert_safe(transcript.getvalue(), "mock-trainer")


def test_evals_summary_and_failure_list_show_escapes_as_text(tmp_path):
    grader = tmp_path / "g.py"
    grader.write_text(
        textwrap.dedent(f"""
        def score(completion, row):
            raise ValueError({HOSTILE!r})
    """)
    )
    dataset = write_jsonl(tmp_path / "d.jsonl", [{"prompt": HOSTILE, "ground_truth": "x"}])
    run_dir = tmp_path / "run"
    for name, mode in (("rich", []), ("plain", ["--plain"])):
        args = ["eval", str(dataset), "--example", "echo", "--policy", "echo", "--grader",
                f"{grader}:score", "-o", str(run_dir / name), *mode]  # fmt: skip
        output = finished(args)
        assert "grader_error" in output and "ValueError" in output
        assert_safe(output, f"eval {' '.join(mode)}")
    record = json.loads((run_dir / "rich" / "results.jsonl").read_text())
    assert "\x1b]0;pwned" in record["grader_error"]  # the file keeps the text as it was
