"""eval survives its own faults: kill -9, a torn results line, a changed resume, secrets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.eval.conftest import gated_agent, records, write_jsonl
from tests.helpers import rolloutctl_bin, run_cli, run_cli_batch, wait_for

pytestmark = pytest.mark.timeout(900)


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def gone(pid: int) -> bool:
    """No such process, or only its zombie (dead, waiting for init to reap it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_kill_9_takes_the_server_along_and_resume_repairs_a_torn_line(tmp_path):
    gate = tmp_path / "gate"
    agent = gated_agent(tmp_path, gate)
    dataset = write_jsonl(
        tmp_path / "d.jsonl", [{"prompt": f"What is {i} + 1?"} for i in range(12)]
    )
    run_dir = tmp_path / "run"
    command = [rolloutctl_bin(), "eval", str(dataset), f"{agent}:agent", "--concurrency", "2"]
    eval_process = subprocess.Popen(
        [*command, "-o", str(run_dir), "--plain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        results = run_dir / "results.jsonl"
        wait_for(lambda: results.exists() and results.read_text().count("\n") >= 2, "2 results")
        (server,) = children(eval_process.pid)
        argv = Path(f"/proc/{server}/cmdline").read_bytes().split(b"\0")
        port = int(argv[argv.index(b"--port") + 1])
    finally:
        eval_process.send_signal(signal.SIGKILL)
        eval_process.wait(timeout=60)
    wait_for(lambda: gone(server), "the server's exit after eval's SIGKILL")
    wait_for(lambda: refused(port), "the server's port closing")

    kept = records(run_dir)
    with results.open("ab") as file:  # a crash in the middle of writing the next record
        file.write(json.dumps(kept[-1]).encode()[:40])
    gate.touch()
    resumed = run_cli(*command[1:], "--resume", str(run_dir), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert "the last line was cut short (40 bytes" in resumed.stderr
    assert sorted(r["row"] for r in records(run_dir)) == list(range(12))
    assert json.loads(resumed.stdout)["this_session"]["rollouts"] == 12 - len(kept)
    assert os.path.getsize(results) == len(results.read_bytes())  # every line parsed above


def test_no_url_credentials_in_config_and_a_changed_resume_is_refused(served_calculator, tmp_path):
    dataset = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "What is 6 * 7?", "ground_truth": 42}])
    run_dir = tmp_path / "run"
    with_password = served_calculator.replace("http://", "http://someone:hunter2secret@")
    first = run_cli("eval", str(dataset), "--server-url", with_password, "-o", str(run_dir))
    assert first.returncode == 0, first.stderr
    saved = (run_dir / "config.json").read_text()
    assert "hunter2secret" not in saved and "someone" not in saved
    assert json.loads(saved)["server_url"] == served_calculator
    grader = tmp_path / "g.py"
    grader.write_text("def score(completion, row):\n    return 1.0\n")
    resume = ["eval", str(dataset), "--resume", str(run_dir)]
    policy, grading, other_agent = run_cli_batch(
        [*resume, "--server-url", served_calculator, "--policy", "echo"],
        [*resume, "--server-url", served_calculator, "--grader", f"{grader}:score"],
        [*resume, "--example", "echo"],
    )
    for result, named in ((policy, "policy"), (grading, "grader")):
        assert result.returncode == 2, result.stderr
        assert f"{run_dir} was run with {named}" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert other_agent.returncode == 2 and "was run with agent" in other_agent.stderr
