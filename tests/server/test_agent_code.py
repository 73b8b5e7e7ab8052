"""Ordinary agent code on a real server: sync tools, tracebacks, shutdown."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import httpx

from rolloutctl import ToolLoopAgent, tool
from tests.helpers import free_port, init_body, post_init, rolloutctl_bin, wait_healthy
from tests.recording_trainer import assistant, call


class Sleepy(ToolLoopAgent):
    """Its `nap` blocks the way library code does: each call waits in its worker thread
    until all three calls are in (so none waits for another) and the test lets them go."""

    name = "sleepy"

    def __init__(self) -> None:
        self.all_in = threading.Event()
        self.gate = threading.Barrier(3, action=self.all_in.set, timeout=120)
        self.release = threading.Event()

    @tool
    def nap(self, seconds: float) -> str:
        """Sleep the way blocking library code does."""
        self.gate.wait()
        self.release.wait(120)
        return "rested"

    def tools(self, request: Any) -> list[Any]:
        return [self.nap]


def test_sync_tools_block_neither_each_other_nor_health(trainer, start_server):
    """By events, not a clock: the three blocking calls are running at the same time, and
    /health answers while all of them block."""
    agent = Sleepy()
    server = start_server(agent)
    ids = ["s1", "s2", "s3"]
    for rollout_id in ids:
        trainer.script(rollout_id, assistant("", tool_calls=[call("nap", {"seconds": 1})]))
    with httpx.Client(base_url=server, timeout=120) as client:
        for rollout_id in ids:
            assert post_init(server, init_body(trainer, rollout_id)).status_code == 202
        assert agent.all_in.wait(120), "the three sync tool calls never ran at once"
        assert client.get("/health").status_code == 200  # while all three still block
        agent.release.set()
    assert all(trainer.wait(i)["final_messages"][3]["content"] == "rested" for i in ids)


AGENT = '''
from rolloutctl import Agent, RolloutResult, ToolLoopAgent, tool


class Buggy(Agent):
    name = "buggy"

    async def run(self, ctx):
        await ctx.chat()
        raise ValueError("my loop has a bug")


@tool
def explode(n: int) -> str:
    """Always fails."""
    raise KeyError("tool bug here")


class Tools(ToolLoopAgent):
    name = "tools"
    tool_list = (explode,)


agent = Buggy()
'''


def serve_file(tmp_path, attr: str, *args: str) -> tuple[subprocess.Popen, str]:
    path = tmp_path / "buggy_agent.py"
    path.write_text(textwrap.dedent(AGENT))
    port = free_port()
    command = [rolloutctl_bin(), *filter(None, args[:1]), "serve", f"{path}:{attr}"]
    process = subprocess.Popen(
        [*command, "--port", str(port), *args[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process)
    return process, url


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return output


def test_an_error_rollout_is_a_warning_with_its_category(trainer, tmp_path):
    process, url = serve_file(tmp_path, "agent", "", "--log-level", "warning")
    post_init(url, init_body(trainer, "b1"))
    assert trainer.wait("b1")["status"] == "ERROR"
    output = stop(process)
    assert "rollout b1 ERROR category=agent_error" in output
    assert "WARNING" in output and "Traceback" not in output


def test_debug_logs_the_agents_traceback_at_the_users_line(trainer, tmp_path):
    process, url = serve_file(tmp_path, "agent", "--debug")
    post_init(url, init_body(trainer, "b2"))
    trainer.wait("b2")
    output = stop(process)
    assert "Traceback" in output
    assert 'buggy_agent.py", line 10, in run' in output
    assert "ValueError: my loop has a bug" in output


def test_debug_logs_a_failing_tools_traceback(trainer, tmp_path):
    process, url = serve_file(tmp_path, "Tools", "", "--log-level", "debug")
    trainer.script("t1", assistant("", tool_calls=[call("explode", {"n": 1})]))
    post_init(url, init_body(trainer, "t1"))
    assert trainer.wait("t1")["final_messages"][3]["content"].startswith("Error: KeyError")
    output = stop(process)
    assert 'buggy_agent.py", line 16, in explode' in output


def test_json_logs_carry_the_rollout_fields(trainer, tmp_path):
    process, url = serve_file(tmp_path, "agent", "", "--json-logs")
    post_init(url, init_body(trainer, "j1"))
    trainer.wait("j1")
    lines = [json.loads(line) for line in stop(process).splitlines() if line.startswith("{")]
    ended = next(line for line in lines if line.get("status") == "ERROR")
    assert ended["rollout_id"] == "j1" and ended["category"] == "agent_error"
    assert ended["level"] == "warning"


def test_control_characters_in_ids_are_escaped_in_plain_logs(trainer, tmp_path):
    process, url = serve_file(tmp_path, "agent", "")
    forged = "x\n12:00:00 INFO    rollout forged COMPLETED\x1b[2J"
    post_init(url, init_body(trainer, forged))
    trainer.wait(forged)
    output = stop(process)
    assert "\x1b[2J" not in output
    assert "\n12:00:00 INFO    rollout forged" not in output
    assert "rollout x\\n12:00:00 INFO    rollout forged COMPLETED\\x1b[2J ERROR category=" in output


def test_shutdown_logs_every_pending_delivery_as_failed(tmp_path):
    """The trainer's completed endpoint hangs; every rollout's delivery is named as failed."""
    hang = textwrap.dedent(
        """
        import asyncio, sys
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route
        import uvicorn

        async def chat(request):
            return JSONResponse({"choices": [{"message": {"role": "assistant", "content": "hi"}}]})

        async def completed(request):
            await asyncio.sleep(3600)

        app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                                Route("/v1/rollout/completed", completed, methods=["POST"])])
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
        """
    )
    (tmp_path / "hang.py").write_text(hang)
    trainer_port = free_port()
    trainer = subprocess.Popen([sys.executable, str(tmp_path / "hang.py"), str(trainer_port)])
    try:
        port = free_port()
        server = subprocess.Popen(
            [rolloutctl_bin(), "serve", "-e", "echo", "--port", str(port),
             "--shutdown-grace", "0.5", "--http-timeout", "3600"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, server)
        wait_healthy(f"http://127.0.0.1:{trainer_port}", trainer)  # any answer will do
        deadline = time.monotonic() + 30
        body = {"server_url": f"http://127.0.0.1:{trainer_port}", "messages": []}
        for index in range(5):
            post_init(url, {**body, "rollout_id": f"d{index}"})
        while httpx.get(f"{url}/health").json()["completed_rollouts"] < 5:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        output = stop(server)
    finally:
        trainer.kill()
        trainer.wait()
    for index in range(5):
        assert f"rollout d{index}: completion delivery failed" in output
