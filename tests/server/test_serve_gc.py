"""`rolloutctl.serve()` leaves the caller's garbage collector alone unless told otherwise.

Each case runs a real server in its own Python process (serving installs signal
handlers, so it needs a main thread of its own): a thread there waits for /health,
reports the process's GC settings while the server runs, then stops it with SIGINT.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.helpers import free_port

SCRIPT = """
import gc, json, os, signal, sys, threading, time
import httpx
import rolloutctl
from rolloutctl.agent.loader import load_example

port, tune = int(sys.argv[1]), sys.argv[2] == "tune"
before = gc.get_threshold(), gc.get_freeze_count()

def report():
    for _ in range(1200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    seen = {"before": before, "during": [gc.get_threshold(), gc.get_freeze_count()]}
    print(json.dumps(seen), flush=True)
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=report, daemon=True).start()
config = rolloutctl.ServeConfig(port=port, log_level="warning", tune_gc=tune)
rolloutctl.serve(load_example("echo"), config)
"""


def gc_while_serving(mode: str) -> tuple[Any, Any]:
    """The GC's (threshold, frozen count) before `serve`, and while it serves."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(free_port()), mode],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    return seen["before"], seen["during"]


def test_the_library_serve_keeps_the_callers_gc_settings() -> None:
    before, during = gc_while_serving("keep")
    assert during == before


def test_tune_gc_freezes_start_up_and_raises_the_threshold() -> None:
    (threshold, frozen), (tuned_threshold, tuned_frozen) = gc_while_serving("tune")
    assert tuned_threshold[0] > threshold[0]
    assert tuned_frozen > frozen
