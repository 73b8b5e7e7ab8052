"""SIGTERM under `serve --protocol osmosis`: results stay readable, the rest fail, no 500.

Two rollouts are running, each held at its model call, when the server gets SIGTERM.
Once the server refuses new rollouts (503), its /health says so, as the SDK's own server
does while it drains. Then one model answer is let through: that rollout finishes within
the grace period, and the SDK's own `RolloutClient` reads its `success` after the signal.
The other stays held past the grace and is read as `failure` with the shutdown reason;
the server exits 0 and never answers 500.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from osmosis_ai.rollout.client import RolloutClient, RolloutProtocolError

from rolloutctl.check.turns import answer
from rolloutctl.trainer import MockTrainer
from rolloutctl.trainer.rollout_chat import chat_base_url
from tests.helpers import HOST, free_port, rolloutctl_bin, run_server

GRACE_S = 6.0
QUESTION = [{"role": "user", "content": "What is 2 + 3?"}]
IDS = ("quick", "held")


class Gate:
    """The trainer's app, with each rollout's model call held until its gate opens."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.arrived = {rollout_id: threading.Event() for rollout_id in IDS}
        self.opened = {rollout_id: threading.Event() for rollout_id in IDS}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        rollout_id = scope.get("path", "").removeprefix("/v1/rollouts/").split("/")[0]
        if rollout_id in self.opened:
            self.arrived[rollout_id].set()
            await asyncio.to_thread(self.opened[rollout_id].wait)
        await self.app(scope, receive, send)

    def open_all(self) -> None:
        for opened in self.opened.values():
            opened.set()


def test_results_are_read_after_sigterm_and_what_runs_on_ends_as_a_shutdown_failure(
    tmp_path: Path,
) -> None:
    trainer = MockTrainer()
    for rollout_id in IDS:
        trainer.plan_rollout(rollout_id, [answer("The answer is 5.")])
    gate = Gate(trainer.app)
    port = free_port()
    argv = [rolloutctl_bin(), "serve", "--example", "calculator", "--protocol", "osmosis",
            "--port", str(port), "--shutdown-grace", str(GRACE_S),
            "--artifacts-dir", str(tmp_path)]  # fmt: skip
    with run_server(gate) as trainer_url:
        server = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            url = f"http://{HOST}:{port}"
            wait_until_up(url)
            seen = asyncio.run(during_shutdown(server, url, gate, trainer_url))
        finally:
            gate.open_all()  # the held answer now goes to a rollout that has ended
            try:
                _, stderr = server.communicate(timeout=60)  # it ends by itself after the drain
            except subprocess.TimeoutExpired:
                server.kill()
                _, stderr = server.communicate(timeout=60)
    assert seen["refused"] == 503
    lifecycle = seen["health"]["lifecycle"]
    assert lifecycle["accepting_rollouts"] is False
    assert lifecycle["active_rollouts"] >= 2  # the two held (and any admitted before the 503)
    assert seen["health"]["status"] == "ok"  # the SDK's own server says "ok" while it drains
    quick, held = seen["quick"], seen["held"]
    assert quick.status.value == "success", quick
    assert [m["content"] for m in quick.sample.messages][-1] == "The answer is 5."
    assert held.status.value == "failure", held
    assert held.err_message.startswith(f"shutdown: still running when the server's {GRACE_S:g} s")
    assert server.returncode == 0, stderr
    assert " 500 " not in stderr and "CancelledError" not in stderr


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not come up")


async def during_shutdown(
    server: subprocess.Popen[str], url: str, gate: Gate, trainer_url: str
) -> dict[str, Any]:
    """Both rollouts at their model call, SIGTERM; what the server answers from then on."""
    client = RolloutClient(url=url)
    try:
        handles = [
            await client.run_rollout_async(
                initial_messages=QUESTION,
                chat_completions_url=chat_base_url(trainer_url, rollout_id),
                rollout_id=rollout_id,
                grade=False,
            )
            for rollout_id in IDS
        ]
        for rollout_id in IDS:
            assert await asyncio.to_thread(gate.arrived[rollout_id].wait, 60), rollout_id
        server.send_signal(signal.SIGTERM)
        async with httpx.AsyncClient() as http:
            seen: dict[str, Any] = {"refused": await refused_status(http, url)}
        seen["health"] = await client.health()  # while both still run
        gate.opened["quick"].set()
        try:
            quick, held = await asyncio.wait_for(
                asyncio.gather(*(handle.result_task for handle in handles)), GRACE_S + 60
            )
        except RolloutProtocolError as exc:  # a 500 from the long poll
            raise AssertionError(f"a result poll failed: {exc}") from exc
    finally:
        await client.aclose()
    return {**seen, "quick": quick, "held": held}


async def refused_status(http: httpx.AsyncClient, url: str) -> int:
    """A new rollout, once the server has begun to drain: 503."""
    body = {"rollout_id": "late", "initial_messages": QUESTION,
            "chat_completions_url": "http://127.0.0.1:9/v1", "grade": False}  # fmt: skip
    deadline = time.monotonic() + 30
    while (status := (await http.post(url + "/rollout", json=body)).status_code) == 202:
        assert time.monotonic() < deadline, "still admitting rollouts after SIGTERM"
        body["rollout_id"] = f"late-{time.monotonic_ns()}"  # admitted before the drain began
        await asyncio.sleep(0.05)
    return status
