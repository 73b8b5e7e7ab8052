"""`rolloutctl bench`'s engine: `run_bench` hosts the mock trainer, reaches or spawns the
servers, and runs the closed loop of `driver` against them.

The workload (`config`) is two LLM turns per rollout: one tool call, then the final
answer. The trainer checks every callback, so the same run counts ERROR completions,
protocol violations, duplicate completions and lost rollouts, the reliability side of
performance.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterator, Sequence

from rolloutctl.bench.balancer import balancing
from rolloutctl.bench.config import SYSTEM, BenchConfig, calculator_init
from rolloutctl.bench.driver import PROGRESS_INTERVAL, Bench, Progress
from rolloutctl.bench.probes import check_reachable, store_round_trips
from rolloutctl.bench.result import BenchResult
from rolloutctl.bench.server_process import ProcessSpec, ServerSpec, spawn_servers
from rolloutctl.harness import serve_app
from rolloutctl.server.store import shown_store
from rolloutctl.trainer import MockTrainer, TrainerConfig
from rolloutctl.trainer import make_policy as make_trainer_policy

__all__ = [  # all but run_bench and quiet_trainer_logs were defined here first
    "PROGRESS_INTERVAL",
    "SYSTEM",
    "Bench",
    "BenchConfig",
    "Progress",
    "calculator_init",
    "check_reachable",
    "quiet_trainer_logs",
    "run_bench",
    "store_round_trips",
]


async def run_bench(
    config: BenchConfig,
    server_urls: Sequence[str] = (),
    spec: ProcessSpec | None = None,
    progress: Progress | None = None,
    replicas: int = 1,
    driver: type[Bench] = Bench,
) -> BenchResult:
    """Bench the servers at `server_urls`, or spawn `replicas` of `spec` (behind a
    round-robin balancer when more than one); give exactly one of the two. `driver`
    speaks the protocol (`Bench`: v1)."""
    if bool(server_urls) == (spec is not None):
        raise ValueError("give exactly one of server_urls or spec")
    for url in server_urls:
        await check_reachable(url)
    trainer = _calculator_trainer(config)
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(quiet_trainer_logs())
        stack.push_async_callback(trainer.aclose)
        trainer.url = await stack.enter_async_context(
            serve_app(trainer.app, "the mock trainer", host=config.trainer_host)
        )
        servers = (server_urls, (), ()) if spec is None else await _spawned(stack, spec, replicas)
        with _settled_heap():
            result = await driver(config, trainer, *servers).run(progress)
    if spec is not None:
        result.server = spec.label
        if isinstance(spec, ServerSpec):
            result.store = shown_store(spec.store)
    return result


def _calculator_trainer(config: BenchConfig) -> MockTrainer:
    return MockTrainer(
        TrainerConfig(
            policy=make_trainer_policy("calculator"),
            latency_ms=config.llm_latency_ms,
            fail_rate=config.fail_rate,
            fail_completed_rate=config.fail_completed_rate,
            seed=config.seed,
        )
    )


async def _spawned(
    stack: contextlib.AsyncExitStack, spec: ProcessSpec, replicas: int
) -> tuple[list[str], list[int], list[str]]:
    """`replicas` servers of `spec`, closed with `stack`: the URLs to drive (one balancer
    in front of several), their pids, and each one's own URL."""
    servers = await stack.enter_async_context(spawn_servers(spec, replicas))
    urls = [server.url for server in servers]
    driven = urls
    if replicas > 1:
        upstreams = [(spec.host, server.port) for server in servers]
        driven = [await stack.enter_async_context(balancing(upstreams))]
    return driven, [server.pid for server in servers], urls


@contextlib.contextmanager
def _settled_heap() -> Iterator[None]:
    """The young generation collected per 10,000 allocations, not 700, while the load
    runs (as `serve` does): the trainer keeps every rollout's record, so at the default
    the collector ran every dozen rollouts and its older generations walked the growing
    heap. Set back after, since run_bench is a library call too (BENCHMARKS.md)."""
    threshold = gc.get_threshold()
    gc.set_threshold(10_000, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


@contextlib.contextmanager
def quiet_trainer_logs() -> Iterator[None]:
    """Violations are counted in the result; one warning line each would bury the bar."""
    logger = logging.getLogger("rolloutctl.trainer")
    previous, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = previous
