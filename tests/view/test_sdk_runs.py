"""`rolloutctl view` over a folder of Osmosis SDK eval runs (as `.osmosis/evals/` holds
them), written by the SDK's own code (tests/osmosis/sdk_run.py), in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from osmosis_ai.eval.local.results import Materializer, RunIdentity, select_attempts
from osmosis_ai.eval.local.state import TerminalRecord

from rolloutctl.view import Catalog, create_app
from tests.helpers import CLI_BOUND, rolloutctl_bin, run_server
from tests.osmosis.sdk_run import RUN_A, RUN_B, write_sdk_runs
from tests.view.conftest import Tab

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def evals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("osmosis-evals")
    write_sdk_runs(root, {"sdk-a": RUN_A, "sdk-b": RUN_B})
    return root


@pytest.fixture(scope="module")
def sdk_viewer(evals: Path) -> Iterator[str]:
    """The real `rolloutctl view` over the folder of SDK runs; yields its base URL."""
    process = subprocess.Popen(
        [rolloutctl_bin(), "view", str(evals)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "2 runs (7 rollouts)" in banner, banner
        yield process.stdout.readline().strip().rstrip("/")
    finally:
        process.terminate()
        process.wait(timeout=CLI_BOUND)


def test_sdk_runs_are_listed_with_the_sdks_own_pass_rate(sdk_viewer: str, evals: Path) -> None:
    listed = httpx.get(sdk_viewer + "/api/runs", timeout=60).json()["runs"]
    runs = {run["slug"]: run for run in listed}
    for name in ("sdk-a", "sdk-b"):
        sdk_summary = json.loads((evals / name / "metrics.json").read_text())["summary"]
        assert runs[name]["pass_rate"] == sdk_summary["pass_rate"], name
        assert runs[name]["rollouts"] == sdk_summary["total_samples"]
    assert runs["sdk-a"]["agent"] == "calculator" and runs["sdk-a"]["dataset"] == "arith.jsonl"
    assert runs["sdk-a"]["errors"] == 1 and not runs["sdk-a"]["in_progress"]


def test_an_sdk_run_shows_its_rows_and_a_rollouts_turns(sdk_viewer: str, tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto(sdk_viewer + "/")
    page.get_by_role("link", name="sdk-a", exact=True).click()
    expect(page).to_have_url(re.compile(r"/run/sdk-a$"))
    expect(page.locator("#rows-total")).to_have_text("4 rollouts match")
    expect(page.locator("#rows tbody")).to_contain_text("What is 4 * 5?")
    expect(page.locator("#rows tbody")).to_contain_text("agent_error")
    page.locator("#rows tbody tr[data-row='1'] a").click()
    expect(page).to_have_url(re.compile(r"/run/sdk-a/row/1/0$"))
    call = page.locator("#turns tr.call").first
    expect(call).to_contain_text("multiply")
    expect(call.locator("td.result")).to_contain_text("20")
    expect(page.locator("#answer")).to_contain_text("The answer is 20.")
    assert tab.errors == []


def test_two_sdk_runs_compare_row_by_row(sdk_viewer: str, tab: Tab) -> None:
    from playwright.sync_api import expect

    tab.page.goto(sdk_viewer + "/compare?a=sdk-a&b=sdk-b&changed=1")
    expect(tab.page.locator("#compare-total")).to_have_text("3 rows")
    changes = tab.page.locator("#compare-rows tbody tr")
    assert {r.get_attribute("data-row"): r.get_attribute("data-change") for r in changes.all()} == {
        "0": "missing", "1": "fixed", "2": "fixed"
    }  # fmt: skip
    assert tab.errors == []


def test_an_sdk_run_being_written_is_followed(evals: Path, tmp_path: Path) -> None:
    """The SDK's Materializer rewrites the run after each result: the viewer shows each
    state, running then finished. The results are sdk-a's, read back by the SDK's own
    record parser."""
    source, live = evals / "sdk-a", tmp_path / "live"
    shutil.copytree(source / "rollout_trials", live / "rollout_trials", symlinks=True)
    lines = (source / "index.jsonl").read_text().splitlines()
    records = [TerminalRecord.from_payload(json.loads(line), where="index") for line in lines]

    def materialize(done: list[TerminalRecord], status: str) -> None:
        identity = RunIdentity(local_run_id="live", run_name="live", dataset_name="arith.jsonl",
                               model_name="mock", rollout_name="calculator",
                               started_at="2026-12-05T03:00:00Z", status=status)  # fmt: skip
        attempts = select_attempts({r.key: r for r in done}, trials_dir=live / "rollout_trials")
        Materializer(live).refresh(attempts, identity=identity, pass_threshold=1.0,
                                   sampled_rows=3, total_dataset_rows=3, total_runs=4)  # fmt: skip

    materialize(records[:1], "running")
    with run_server(create_app(Catalog([live]))) as url:
        state = httpx.get(f"{url}/api/runs/live/state", timeout=60).json()
        assert (state["rollouts"], state["in_progress"]) == (1, True)
        materialize(records, "finished")
        state = httpx.get(f"{url}/api/runs/live/state", timeout=60).json()
        assert (state["rollouts"], state["in_progress"]) == (4, False)
        rows = httpx.get(f"{url}/api/runs/live/rows", timeout=60).json()["rows"]
        assert [row["reward"] for row in rows] == [1.0, 1.0, 0.0, None]
