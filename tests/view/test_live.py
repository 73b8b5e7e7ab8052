"""A run that eval is still writing: the open page gains rows without a reload."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from rolloutctl.view import Catalog, create_app
from tests.helpers import run_server
from tests.view.conftest import Runs, Tab

pytestmark = pytest.mark.timeout(600)
BOUND_MS = 120_000  # generous: the page polls every 1.5 s, the machine may be busy


def test_a_run_being_written_updates_in_place(runs: Runs, tab: Tab, tmp_path) -> None:
    from playwright.sync_api import expect

    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(runs.a / "config.json", live / "config.json")
    lines = (runs.a / "results.jsonl").read_bytes().splitlines(keepends=True)
    results = live / "results.jsonl"
    results.write_bytes(b"")
    with run_server(create_app(Catalog([live]))) as url:
        page = tab.page
        page.goto(url + "/run/live")
        page.evaluate("window.__sentinel = 'same page'")
        expect(page.locator("#in-progress")).to_be_visible()
        expect(page.locator("#rows-total")).to_have_text("0 rollouts match")
        with results.open("ab") as file:
            file.write(b"".join(lines[:5]) + lines[5][:40])  # a torn sixth line
        expect(page.locator("#rows-total")).to_have_text("5 rollouts match", timeout=BOUND_MS)
        expect(page.locator("#live")).to_contain_text("in progress", timeout=BOUND_MS)
        with results.open("ab") as file:
            file.write(lines[5][40:] + b"".join(lines[6:]))
        expect(page.locator("#rows-total")).to_have_text("12 rollouts match", timeout=BOUND_MS)
        expect(page.locator("#summary")).to_contain_text("12 rollouts so far")
        (live / "summary.json").write_text(json.dumps({"rollouts": 12}))
        expect(page.locator("#in-progress")).to_have_count(0, timeout=BOUND_MS)
        expect(page.locator("#summary .card").first).to_contain_text(re.compile(r"12\s"))
        assert page.evaluate("window.__sentinel") == "same page"  # never reloaded
    assert tab.errors == []
