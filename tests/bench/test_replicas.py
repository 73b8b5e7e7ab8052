"""`bench` against several replicas: the round-robin balancer, --server-url lists, Redis."""

from __future__ import annotations

import asyncio
import subprocess

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from rolloutctl.agent.loader import load_example
from rolloutctl.bench.balancer import balancing
from rolloutctl.bench.config import BenchConfig
from rolloutctl.bench.load import run_bench
from rolloutctl.bench.result import passed
from rolloutctl.bench.server_process import ServerSpec
from rolloutctl.server.app import create_app
from rolloutctl.server.settings import ServerSettings
from tests.helpers import HOST, rolloutctl_bin, run_server

CONFIG = BenchConfig(rollouts=60, concurrency=6, warmup=3, timeout=60.0, final_wait=5.0)


def named(name: str) -> Starlette:
    async def who(request: Request) -> PlainTextResponse:
        return PlainTextResponse(name)

    return Starlette(routes=[Route("/", who)])


def test_the_balancer_sends_each_new_connection_to_the_next_upstream() -> None:
    with run_server(named("a")) as a, run_server(named("b")) as b, run_server(named("c")) as c:
        upstreams = [(HOST, int(url.rsplit(":", 1)[1])) for url in (a, b, c)]

        async def six_connections() -> list[str]:
            async with balancing(upstreams) as url:
                answers = []
                for _ in range(6):
                    async with httpx.AsyncClient() as client:  # a new connection each time
                        answers.append((await client.get(url + "/")).text)
                return answers

        assert asyncio.run(six_connections()) == ["a", "b", "c", "a", "b", "c"]


def test_inits_go_round_robin_over_several_server_urls() -> None:
    apps = [create_app(load_example("calculator"), ServerSettings()) for _ in range(2)]
    with run_server(apps[0]) as first, run_server(apps[1]) as second:
        result = asyncio.run(run_bench(CONFIG, server_urls=[first, second]))
        done = [httpx.get(f"{url}/health").json()["completed_rollouts"] for url in (first, second)]
    assert passed(result) and result.replicas == 2 and result.delivered == 60
    assert done == [30 + 2, 30 + 1]  # 60 measured, 3 warm-up
    assert result.store_round_trips_per_rollout is None  # in memory: nothing shared


def test_replicas_on_redis_behind_the_balancer(redis_server) -> None:
    spec = ServerSpec(example="calculator", store=redis_server.url)
    result = asyncio.run(run_bench(CONFIG, spec=spec, replicas=2))
    assert passed(result), result
    assert (result.delivered, result.lost, result.duplicates) == (60, 0, 0)
    assert result.replicas == 2 and result.store == redis_server.url
    trips = result.store_round_trips_per_rollout
    assert trips is not None and 1 <= trips < 10  # one claim each, writes coalesced
    assert result.server_cpu_ms_per_rollout is not None


def test_replicas_and_store_are_for_spawned_servers_only() -> None:
    done = subprocess.run(
        [rolloutctl_bin(), "bench", "--server-url", "http://127.0.0.1:9", "--replicas", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "rolloutctl: error: --replicas and --store are for spawned servers, not --server-url"
    )
