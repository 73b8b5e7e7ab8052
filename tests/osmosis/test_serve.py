"""`serve --protocol osmosis`: banner, artifacts location, clean exit, option errors."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import HOST, free_port, rolloutctl_bin, run_cli_batch
from tests.osmosis.servers import STARTUP_S, process_server


def test_the_banner_names_the_protocol_and_where_artifacts_go() -> None:
    artifacts = Path(tempfile.mkdtemp(prefix="rc-"))  # short: the banner is 80 columns wide
    port = free_port()
    argv = [rolloutctl_bin(), "serve", "--example", "calculator", "--protocol", "osmosis"]
    argv += ["--port", str(port), "--artifacts-dir", str(artifacts), "--server-key", "in-key"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            try:  # the SDK wants the inbound key on /health too
                health = httpx.get(
                    f"http://{HOST}:{port}/health", headers={"Authorization": "Bearer in-key"}
                )
                assert httpx.get(f"http://{HOST}:{port}/health").status_code == 401
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health.json()["status"] == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=STARTUP_S)
    assert process.returncode == 0
    assert "Osmosis SDK 0.3 rollout server" in stderr
    assert f"artifacts  {artifacts.resolve()}" in stderr
    shutil.rmtree(artifacts)
    assert "in-key" not in stderr


@pytest.fixture(scope="module")
def usage_errors() -> dict[str, subprocess.CompletedProcess[str]]:
    """The option errors of this module, from one process: none starts any work."""
    serve = ["serve", "--example", "calculator"]
    no_protocol, unloadable = run_cli_batch(
        [*serve, "--grader", "graders.py:reward"],
        [*serve, "--protocol", "osmosis", "--grader", "no_such_module_here:reward"],
    )
    return {"no protocol": no_protocol, "unloadable grader": unloadable}


def test_osmosis_only_options_need_the_protocol(usage_errors) -> None:
    done = usage_errors["no protocol"]
    assert done.returncode == 2
    assert "--grader and --artifacts-dir need --protocol osmosis" in done.stderr


def test_an_unloadable_grader_is_a_usage_error(usage_errors) -> None:
    done = usage_errors["unloadable grader"]
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_without_port_it_listens_where_osmosis_eval_run_says(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "_OSMOSIS_ROLLOUT_PORT": str(port)}
    argv = [rolloutctl_bin(), "serve", "--example", "calculator", "--protocol", "osmosis"]
    with process_server([*argv, "--artifacts-dir", str(tmp_path)], port, env) as url:
        assert httpx.get(url + "/health", timeout=30).json()["status"] == "ok"
    bad = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                         env={**os.environ, "_OSMOSIS_ROLLOUT_PORT": "eighty"})  # fmt: skip
    assert bad.returncode == 2
    assert (
        bad.stderr
        == "rolloutctl: error: _OSMOSIS_ROLLOUT_PORT='eighty' is not a port number (0-65535)\n"
    )
