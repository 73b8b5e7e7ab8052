"""Real eval runs for the viewer tests, the real `rolloutctl view` over them, one Chromium.

Runs A and B are two evals of one dataset (B by an agent that explodes on one row and
a lenient grader), H is a run whose script policy answers with markup, escape codes
and `javascript:` links. All are made by the real `rolloutctl eval` once per session
(per xdist worker), and the browser is shared by every test of the session.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page

from tests.eval.conftest import write_jsonl
from tests.helpers import CLI_BOUND, rolloutctl_bin

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SECRETS = ("s3cret-pass", "abc123token", "sk-server-secret")


def dataset_rows() -> list[dict]:
    """Rows 0-5 pass in both runs; 6 and 7 are fixed by B's grader; 9 breaks in B;
    8 fails in both (a tool error); 11's grader raises in B; 10 carries a search needle."""
    rows = [{"id": f"q{i}", "prompt": f"What is {i + 2} + {i + 3}?", "ground_truth": 2 * i + 5}
            for i in range(6)]  # fmt: skip
    return [
        *rows,
        {"id": "q6", "prompt": "What is 10 + 20?", "ground_truth": 31},
        {"id": "q7", "prompt": "What is 4 * 5?", "ground_truth": 21},
        {"id": "q8", "prompt": "What is 7 / 0?", "ground_truth": 0},
        {"id": "q9", "prompt": "Please explode: what is 2 + 2?", "ground_truth": 4},
        {"id": "q10", "prompt": "What is 3 + 4? needle-in-prompt", "ground_truth": 7},
        {"id": "q11", "prompt": "What is 1 + 1?", "ground_truth": "grader-explodes"},
    ]


HOSTILE_SCRIPT = [
    {
        "role": "assistant",
        "content": "<script>window.__pwned=1</script>thinking",
        "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "<img src=x onerror=window.__pwned=2>",
            "arguments": json.dumps({"a": "<script>window.__pwned=3</script>",
                                     "b": "javascript:window.__pwned=4"})}}],
    },
    {
        "role": "assistant",
        "content": 'Final: <img src=x onerror=window.__pwned=5> '
        '<a href="javascript:window.__pwned=6">click me</a> \x1b]0;owned\x07\x1b[31mred',
    },
]  # fmt: skip
HOSTILE_PROMPT = '<img src=x onerror="window.__pwned=7"> javascript:window.__pwned=8 \x1b[2J'


def evaluate_all(logs: Path, *evals: list[str]) -> None:
    """Run every `rolloutctl eval ARGS` at once (each mostly waits on its own server);
    their stderr goes to files in `logs`, so no pipe fills while another is waited on."""
    processes = []
    for index, args in enumerate(evals):
        with (logs / f"eval-{index}.err").open("w") as stderr:
            command = [rolloutctl_bin(), "eval", *args, "--json"]
            processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr))
    try:
        for index, process in enumerate(processes):
            process.wait(timeout=CLI_BOUND)
            assert process.returncode in (0, 1), (logs / f"eval-{index}.err").read_text()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class Runs:
    root: Path
    a: Path
    b: Path
    hostile: Path


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Made once per test run: the first xdist worker to get here makes them under a
    lock in the run's temporary folder, and the others read them (nothing writes to them)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "viewer-runs"
    with (shared / "viewer-runs.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "made").exists():
            make_runs(root)
            (root / "made").touch()
    return Runs(root, root / "run-a", root / "run-b", root / "hostile")


def make_runs(root: Path) -> None:
    root.mkdir()
    data = write_jsonl(root.parent / "arith.jsonl", dataset_rows())
    a, b, hostile = root / "run-a", root / "run-b", root / "hostile"
    agent = HERE / "explosive.py"
    script = root.parent / "hostile-script.json"
    script.write_text(json.dumps(HOSTILE_SCRIPT))
    hostile_data = write_jsonl(
        root.parent / "hostile.jsonl",
        [{"id": "<b>id</b>", "prompt": HOSTILE_PROMPT, "ground_truth": 1}],
    )
    evaluate_all(
        root.parent,
        [str(data), "--example", "calculator", "-o", str(a)],
        [str(data), str(agent), "--grader", f"{agent}:lenient", "-o", str(b)],
        [str(hostile_data), "--example", "calculator", "--policy", "script",
         "--script", str(script), "-o", str(hostile)],
    )  # fmt: skip
    config = json.loads((hostile / "config.json").read_text())
    config["server_url"] = f"http://admin:{SECRETS[0]}@10.0.0.9:9000/?api_key={SECRETS[1]}"
    config["server_key"] = SECRETS[2]
    (hostile / "config.json").write_text(json.dumps(config))


@pytest.fixture(scope="session")
def viewer(runs: Runs) -> Iterator[str]:
    """`rolloutctl view ROOT` (the real binary) on a free port; yields its base URL."""
    process = subprocess.Popen(
        [rolloutctl_bin(), "view", str(runs.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), (banner, url, process.stderr)
        yield url.rstrip("/")
    finally:
        process.terminate()
        process.wait(timeout=CLI_BOUND)


# Module scope: playwright's sync API keeps an event loop running in this thread while the
# browser is open, so a later test of another module in the same xdist worker could not
# call asyncio.run(); pytest closes it as soon as the worker moves to another module.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # generous: the machine may be busy

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A page with what it saw: dialogs opened and script errors thrown."""

    page: Page
    dialogs: list[str]
    errors: list[str]


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)  # generous: the machine may be busy
    seen = Tab(page, [], [])

    def on_dialog(dialog: Dialog) -> None:
        seen.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    yield seen
    context.close()
