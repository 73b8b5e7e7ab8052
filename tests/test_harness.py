"""`local_stack` and `serve_app`: real servers in the caller's loop, always shut down."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import httpx
import pytest

from rolloutctl.agent.loader import load_example
from rolloutctl.errors import CannotStartError
from rolloutctl.harness import local_stack, serve_app
from rolloutctl.server.inprocess import InProcessApp
from rolloutctl.server.settings import ServerSettings
from rolloutctl.trainer import TrainerConfig, make_policy


async def failing_startup(scope, receive, send) -> None:
    """An ASGI app whose lifespan startup fails."""
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no database"})


def refuses(url: str) -> bool:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) != 0


def test_a_rollout_through_the_stack_then_everything_is_closed():
    async def scenario() -> tuple[dict, list[str]]:
        config = TrainerConfig(policy=make_policy("echo"))
        settings = ServerSettings(shutdown_grace=0.5)
        async with local_stack(load_example("echo"), settings, config) as stack:
            async with httpx.AsyncClient() as client:
                health = (await client.get(f"{stack.server_url}/health")).json()
            assert health["agent"] == "echo"
            handle = await stack.start_rollout(
                {"rollout_id": "h-1", "messages": [{"role": "user", "content": "hi"}]}
            )
            completion = await handle.wait(10.0)
            urls = [stack.server_url, str(stack.trainer.url)]
        assert completion is not None
        return completion, urls

    completion, urls = asyncio.run(scenario())
    assert completion["status"] == "COMPLETED"
    assert completion["final_messages"][-1]["content"] == "hi"
    assert all(refuses(url) for url in urls)


def test_failed_startup_is_cannot_start():
    async def scenario() -> None:
        async with serve_app(failing_startup, "the broken app"):
            pytest.fail("the block must not run")

    with pytest.raises(CannotStartError, match="the broken app failed during startup"):
        asyncio.run(scenario())


def test_an_error_in_the_block_still_shuts_both_servers_down():
    urls: list[str] = []

    async def scenario() -> None:
        async with local_stack(load_example("calculator")) as stack:
            urls.extend([stack.server_url, str(stack.trainer.url)])
            raise KeyError("the caller's own failure")

    with pytest.raises(KeyError):
        asyncio.run(scenario())
    assert len(urls) == 2 and all(refuses(url) for url in urls)


def test_the_try_engine_imports_no_fastapi():
    """FastAPI costs about 0.3 s to import; the in-process server builds it only on demand."""
    code = "import sys, rolloutctl.trial; print('fastapi' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_in_process_server_answers_like_serve_also_with_an_inbound_key():
    async def scenario() -> tuple[int, int, int, dict]:
        settings = ServerSettings(shutdown_grace=0.5, api_key="inbound-secret")
        app = InProcessApp(load_example("echo"), settings)
        async with serve_app(app, "the RolloutServer") as url, httpx.AsyncClient() as client:
            init = {"rollout_id": "k-1", "server_url": "http://127.0.0.1:9", "messages": []}
            without = await client.post(f"{url}/v1/rollout/init", json=init)
            good = {"Authorization": "Bearer inbound-secret"}
            accepted = await client.post(f"{url}/v1/rollout/init", json=init, headers=good)
            status = await client.get(f"{url}/v1/rollout/k-1", headers=good)
            health = await client.get(f"{url}/health")
        return without.status_code, accepted.status_code, status.status_code, health.json()

    without, accepted, status, health = asyncio.run(scenario())
    assert (without, accepted, status) == (401, 202, 200)
    assert health["agent"] == "echo"
