"""Screenshots of `rolloutctl view` in the headless Chromium the tests use.

Serves two runs of one dataset with the real binary and saves the run page of A, the
rollout of ROW in A, and the compare page (only changed rows, ROW side by side):

    uv run python scripts/view_screenshots.py OUT_DIR RUN_A RUN_B ROW

docs/view.png is OUT_DIR/run.png of two runs of a 300-row arithmetic dataset (2 epochs,
some ground truths wrong), the second by tests/view/explosive.py with its grader.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def main(out: Path, run_a: Path, run_b: Path, row: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    binary = str(Path(sys.executable).with_name("rolloutctl"))
    viewer = subprocess.Popen([binary, "view", str(run_a), str(run_b)], stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        assert viewer.stdout is not None
        viewer.stdout.readline()
        base = viewer.stdout.readline().strip().rstrip("/")
        a, b = run_a.name, run_b.name
        shots = {
            "run.png": (f"/run/{a}", "#rows tbody tr"),
            "rollout.png": (f"/run/{a}/row/{row}/0", "#turns"),
            "compare.png": (f"/compare?a={a}&b={b}&changed=1&row={row}&epoch=0", ".side-by-side"),
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1360, "height": 1500})
            for name, (path, ready) in shots.items():
                page.goto(base + path)
                page.wait_for_selector(ready)
                page.evaluate("window.scrollTo(0, 0)")
                page.screenshot(path=str(out / name))
            browser.close()
    finally:
        viewer.terminate()
        viewer.wait(timeout=60)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
