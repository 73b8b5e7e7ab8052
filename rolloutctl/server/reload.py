"""`serve --reload`: restart the server whenever the agent's code changes, as uvicorn does.

The server runs in a child process (the same command line without --reload); this
process only watches the folders of the agent's code and, on a change to a .py file,
stops the child as SIGTERM stops `serve` (in-flight rollouts end with an `ERROR
shutdown` completion) and starts a new one. A child that fails to load the edited code
exits; the next change starts it again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import watchfiles

from rolloutctl.children import die_with_parent

__all__ = ["reload_dirs", "serve_with_reload"]

STOP_TIMEOUT = 30.0  # seconds a stopping child may drain before it is killed


def reload_dirs(target: str | None, example_dir: Path | None) -> list[Path]:
    """Where the agent's code lives: the folder of a file target, the current folder for
    a module target, the examples folder for --example."""
    if target is None:
        return [example_dir or Path.cwd()]
    location = target.rpartition(":")[0] if ":" in target else target
    if location.endswith(".py") or os.sep in location:
        return [Path(location).resolve().parent]
    return [Path.cwd()]


def serve_with_reload(args: Sequence[str], dirs: Sequence[Path]) -> int:
    """Run `rolloutctl ARGS` and restart it on every change of a .py file under `dirs`."""
    command = [sys.executable, "-m", "rolloutctl", *args]
    env = {**os.environ, "ROLLOUTCTL_RELOAD": "0"}  # the child serves; only we watch
    shown = ", ".join(str(d) for d in dirs)
    print(f"rolloutctl: watching {shown} for changes (--reload)", file=sys.stderr, flush=True)
    child = _start(command, env)
    signal.signal(signal.SIGTERM, _interrupt)  # stop the child, as Ctrl-C does
    try:
        for changes in watchfiles.watch(*dirs, watch_filter=watchfiles.PythonFilter()):
            names = ", ".join(sorted({Path(path).name for _, path in changes}))
            print(f"rolloutctl: {names} changed: restarting", file=sys.stderr, flush=True)
            _stop(child)
            child = _start(command, env)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(child)
    return 0


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, preexec_fn=die_with_parent())


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM, a drain of up to STOP_TIMEOUT, then SIGKILL."""
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
