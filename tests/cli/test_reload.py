"""`serve --reload`: an edit to the agent's file restarts the server with the new code."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx

from tests.helpers import CLI_BOUND, free_port, rolloutctl_bin

AGENT = """\
from rolloutctl import Agent


class Named(Agent):
    name = "{name}"

    async def run(self, ctx):
        await ctx.chat()


agent = Named()
"""


def agent_name(url: str) -> str | None:
    """The name the server at `url` reports, or None while nothing answers."""
    try:
        return httpx.get(f"{url}/health", timeout=5).json().get("agent")
    except httpx.HTTPError:
        return None


def wait_for_name(url: str, name: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + CLI_BOUND
    while agent_name(url) != name:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, f"the server never reported {name!r}"
        time.sleep(0.1)


def test_an_edit_restarts_the_server_with_the_new_code(tmp_path):
    source = tmp_path / "named.py"
    source.write_text(AGENT.format(name="first"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [rolloutctl_bin(), "serve", f"{source}:agent", "--port", str(port), "--reload"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_name(url, "first", process)
        source.write_text(AGENT.format(name="second"))
        wait_for_name(url, "second", process)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=CLI_BOUND)
    assert process.returncode == 0, stderr
    assert "named.py changed: restarting" in stderr
    assert agent_name(url) is None  # the child went with its parent


def test_reload_with_workers_is_a_usage_error():
    result = subprocess.run(
        [rolloutctl_bin(), "serve", "--example", "echo", "--reload", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=CLI_BOUND,
    )
    assert result.returncode == 2 and "--reload serves one worker" in result.stderr
