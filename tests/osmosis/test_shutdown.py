"""SIGTERM under `serve --protocol osmosis`: results stay readable, the rest fail, no 500.

Two rollouts run when the server gets SIGTERM: one whose model answers within the grace
period, one whose answer is held past it. The SDK's own `RolloutClient` reads both
results after the signal: the first `success`, the second `failure` with the shutdown
reason; a new rollout is refused with 503, and the server exits 0.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from osmosis_ai.rollout.client import RolloutClient, RolloutProtocolError

from rolloutctl.check.turns import answer
from rolloutctl.trainer import MockTrainer
from rolloutctl.trainer.rollout_chat import chat_base_url
from tests.helpers import HOST, free_port, rolloutctl_bin, run_server

GRACE_S = 8.0
QUESTION = [{"role": "user", "content": "What is 2 + 3?"}]


def test_results_are_read_after_sigterm_and_what_runs_on_ends_as_a_shutdown_failure(
    tmp_path: Path,
) -> None:
    trainer = MockTrainer()
    trainer.plan_rollout("quick", [answer("The answer is 5.")], delay=4.0)
    trainer.plan_rollout("held", [answer("The answer is 5.")], delay=120.0)
    port = free_port()
    argv = [rolloutctl_bin(), "serve", "--example", "calculator", "--protocol", "osmosis",
            "--port", str(port), "--shutdown-grace", str(GRACE_S),
            "--artifacts-dir", str(tmp_path)]  # fmt: skip
    with run_server(trainer.app) as trainer_url:
        server = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            url = f"http://{HOST}:{port}"
            wait_until_up(url)
            results = asyncio.run(during_shutdown(server, url, trainer, trainer_url))
        finally:
            try:
                _, stderr = server.communicate(timeout=60)  # it ends by itself after the drain
            except subprocess.TimeoutExpired:
                server.kill()
                _, stderr = server.communicate(timeout=60)
    quick, held, refused = results
    assert quick.status.value == "success", quick
    assert [m["content"] for m in quick.sample.messages][-1] == "The answer is 5."
    assert held.status.value == "failure", held
    assert held.err_message.startswith("shutdown: still running when the server's 8 s")
    assert refused == 503
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
    server: subprocess.Popen[str], url: str, trainer: MockTrainer, trainer_url: str
) -> tuple[Any, Any, int]:
    client = RolloutClient(url=url)
    try:
        handles = [
            await client.run_rollout_async(
                initial_messages=QUESTION,
                chat_completions_url=chat_base_url(trainer_url, rollout_id),
                rollout_id=rollout_id,
                grade=False,
            )
            for rollout_id in ("quick", "held")
        ]
        await chatting(trainer, ("quick", "held"))
        server.send_signal(signal.SIGTERM)
        async with httpx.AsyncClient() as http:
            refused = await refused_status(http, url)
        try:
            quick, held = await asyncio.wait_for(
                asyncio.gather(*(handle.result_task for handle in handles)), GRACE_S + 60
            )
        except RolloutProtocolError as exc:  # a 500 from the long poll
            raise AssertionError(f"a result poll failed: {exc}") from exc
    finally:
        await client.aclose()
    return quick, held, refused


async def chatting(trainer: MockTrainer, ids: tuple[str, ...]) -> None:
    """Until both rollouts have called the model (they are then running)."""
    deadline = time.monotonic() + 60
    while not all(rid in trainer.records.rollouts for rid in ids):
        assert time.monotonic() < deadline, "the rollouts never called the model"
        await asyncio.sleep(0.05)


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
