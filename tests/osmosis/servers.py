"""0.3 rollout servers as real processes: rolloutctl's adapter, the SDK-only example, peers."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.helpers import CLI_BOUND, HOST, free_port, rolloutctl_bin

ROOT = Path(__file__).resolve().parents[2]
SDK_CALCULATOR = ROOT / "examples" / "osmosis" / "sdk_calculator.py"
TEMPLATE_SERVER = Path(__file__).resolve().parent / "template_server.py"
STARTUP_S = 120.0  # a bound, not a wait: on a machine at load 30 a start took over 30 s


@contextlib.contextmanager
def process_server(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `argv` (a server on `port`) until /health answers; yield its URL; stop it."""
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, env=env
        )
        url = f"http://{HOST}:{port}"
        try:
            _wait_up(process, url, stderr)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_up(process: subprocess.Popen, url: str, stderr: object) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr.seek(0)  # type: ignore[attr-defined]
            raise RuntimeError(f"server exited: {stderr.read().decode()[-2000:]}")  # type: ignore[attr-defined]
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/health", timeout=2.0).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"no server at {url} within {STARTUP_S:g} s")


@contextlib.contextmanager
def adapter_server(artifacts: Path, *extra: str) -> Iterator[str]:
    """`rolloutctl serve --example calculator --protocol osmosis`."""
    port = free_port()
    argv = [rolloutctl_bin(), "serve", "--example", "calculator", "--protocol", "osmosis"]
    argv += ["--port", str(port), "--artifacts-dir", str(artifacts), *extra]
    with process_server(argv, port) as url:
        yield url


@contextlib.contextmanager
def sdk_server() -> Iterator[str]:
    """The calculator written on the SDK alone (no rolloutctl import)."""
    port = free_port()
    with process_server([sys.executable, str(SDK_CALCULATOR), "--port", str(port)], port) as url:
        yield url


@contextlib.contextmanager
def template_server(artifacts: Path) -> Iterator[str]:
    """`tests/osmosis/template_server.py`: built as the SDK's template builds a server,
    its port from `_OSMOSIS_ROLLOUT_PORT` (as `osmosis eval run` gives it)."""
    port = free_port()
    env = {**os.environ, "_OSMOSIS_ROLLOUT_PORT": str(port),
           "_OSMOSIS_ROLLOUT_ARTIFACT_ROOT": str(artifacts)}  # fmt: skip
    with process_server([sys.executable, str(TEMPLATE_SERVER)], port, env) as url:
        yield url


def cli_at_once(*command_lines: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """`rolloutctl ARGS` for each command line, all running at the same time (each
    mostly waits on the server under test); their results in the same order."""
    processes = [
        subprocess.Popen([rolloutctl_bin(), *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for args in command_lines
    ]  # fmt: skip
    done = []
    for process in processes:  # none waits on another: a full pipe only pauses its writer
        stdout, stderr = process.communicate(timeout=CLI_BOUND)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return done
