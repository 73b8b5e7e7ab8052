"""`rolloutctl bench`: a closed-loop load generator for any RolloutServer.

C workers each start a calculator rollout through one MockTrainer (served in this
process) and wait for its completion, until N rollouts are done. The workload is two
LLM turns per rollout: one tool call, then the final answer. The trainer checks
every callback, so the same run counts ERROR completions, protocol violations,
duplicate completions and lost rollouts, the reliability side of performance.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from rolloutctl.bench.balancer import balancing
from rolloutctl.bench.breakdown import tool_ms
from rolloutctl.bench.procstats import PeakRss, ProcSample, machine_cpu, sample, sample_all
from rolloutctl.bench.report import BenchResult
from rolloutctl.bench.server_process import ProcessSpec, ServerSpec, spawn_servers
from rolloutctl.bench.tally import Phase, add_costs, add_machine, percentiles
from rolloutctl.errors import InitError, InitRefused
from rolloutctl.harness import serve_app
from rolloutctl.net.http_pool import HttpPool
from rolloutctl.observe.scrape import read_metrics, server_side
from rolloutctl.server.store import shown_store
from rolloutctl.trainer import MockTrainer, TrainerConfig
from rolloutctl.trainer import make_policy as make_trainer_policy

__all__ = [
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

Progress = Callable[[int, int], None]  # (rollouts finished, rollouts in all)
PROGRESS_INTERVAL = 0.1
SYSTEM = {"role": "system", "content": "You are a calculator. Use the tools, then answer."}


@dataclass(frozen=True)
class BenchConfig:
    rollouts: int = 1000
    concurrency: int = 32
    llm_latency_ms: float = 0.0
    fail_rate: float = 0.0
    fail_completed_rate: float = 0.0
    warmup: int = 0
    timeout: float = 120.0  # seconds a worker waits for one completion before moving on
    final_wait: float = 10.0  # extra seconds, at the end, for the completions still missing
    seed: int | None = None  # of the trainer's fault injection
    server_key: str | None = None  # the server's inbound key, if it wants one
    trainer_host: str = "127.0.0.1"  # where the server under test can reach the trainer
    # Inits in flight at once, hence connections the server holds for them: a trainer's
    # HTTP client pools its connections (httpx and aiohttp allow 100 by default).
    init_connections: int = 100
    # in every rollout_id, fresh per run unless given: a server remembers ids for an hour,
    # so a second run against the same --server-url must not repeat the first one's
    run_id: str | None = None


def calculator_init(rollout_id: str, index: int) -> dict[str, Any]:
    """An init whose answer takes exactly one `add` call; the numbers vary per rollout."""
    question = f"What is {index % 97} + {index % 13 + 1}?"
    return {
        "rollout_id": rollout_id,
        "messages": [SYSTEM, {"role": "user", "content": question}],
        "completion_params": {"temperature": 0.7},
        "max_turns": 4,
    }


class Bench:
    """Drives a server at `server_urls` (inits go round-robin over them). `replica_urls`
    are its processes, read for store figures (default: `server_urls`); `pids`, when
    the processes are ours, are sampled for CPU and memory."""

    def __init__(
        self,
        config: BenchConfig,
        trainer: MockTrainer,
        server_urls: Sequence[str],
        pids: Sequence[int] = (),
        replica_urls: Sequence[str] = (),
    ) -> None:
        self.config, self.trainer, self.pids = config, trainer, tuple(pids)
        self.server_urls, self.replica_urls = list(server_urls), list(replica_urls or server_urls)
        self._init_slots = asyncio.Semaphore(config.init_connections)
        self.run_id = config.run_id or uuid.uuid4().hex[:8]

    async def run(self, progress: Progress | None = None) -> BenchResult:
        if self.config.warmup:
            await self._closed_loop(Phase(f"warmup-{self.run_id}", self.config.warmup))
        phase = Phase(f"bench-{self.run_id}", self.config.rollouts)
        trips0 = await store_round_trips(self.replica_urls)
        metrics0 = await read_metrics(self.replica_urls, self.config.server_key)
        machine0, server0, self0 = machine_cpu(), self._server_sample(), sample()
        wall0 = time.perf_counter()
        peak = PeakRss(self.pids) if self.pids else None
        if peak:
            peak.start()
        with _ticking(phase, progress):
            await self._closed_loop(phase)
        wall = time.perf_counter() - wall0
        machine1, server1, self1 = machine_cpu(), self._server_sample(), sample()
        peak_bytes = await peak.stop() if peak else None
        lost = await self._final_wait(phase)
        trips1 = await store_round_trips(self.replica_urls)
        metrics1 = await read_metrics(self.replica_urls, self.config.server_key)
        result = self._result(phase, wall, lost)
        if metrics0 is not None and metrics1 is not None:
            result.server_metrics = server_side(metrics0, metrics1)
        if trips0 is not None and trips1 is not None:
            result.store_round_trips_per_rollout = (trips1 - trips0) / max(phase.total, 1)
        add_costs(result, (server0, server1), (self0, self1), peak_bytes)
        add_machine(result, machine0, machine1)
        return result

    def _server_sample(self) -> ProcSample | None:
        return sample_all(self.pids) if self.pids else None

    async def _closed_loop(self, phase: Phase) -> None:
        workers = min(self.config.concurrency, phase.total)
        await asyncio.gather(*(self._worker(phase) for _ in range(workers)))

    async def _worker(self, phase: Phase) -> None:
        while (index := phase.take()) is not None:
            await self._one(phase, index)
            phase.finished += 1

    async def _one(self, phase: Phase, index: int) -> None:
        rollout_id = f"{phase.prefix}-{index}"
        init = calculator_init(rollout_id, index)
        server_url = self.server_urls[index % len(self.server_urls)]
        started = time.perf_counter()
        try:
            async with self._init_slots:
                handle = await self.trainer.start_rollout(server_url, init, self.config.server_key)
        except InitRefused:
            phase.refused += 1
            return
        except InitError:
            phase.init_errors += 1
            return
        completion = await handle.wait(self.config.timeout)
        if completion is None:
            phase.unanswered.append(handle)
        else:
            phase.record(completion, time.perf_counter() - started)
            state = self.trainer.records.rollouts[rollout_id]
            phase.times.add(started, state.calls, state.completed_at, tool_ms(completion))

    async def _final_wait(self, phase: Phase) -> int:
        """Give the unanswered rollouts one more chance; those still silent are lost."""
        if not phase.unanswered:
            return 0
        waits = (h.wait(self.config.final_wait) for h in phase.unanswered)
        late = [c for c in await asyncio.gather(*waits) if c is not None]
        for completion in late:  # counted, but with no meaningful latency
            phase.statuses[completion.get("status", "?")] += 1
        return len(phase.unanswered) - len(late)

    def _result(self, phase: Phase, wall: float, lost: int) -> BenchResult:
        config = self.config
        rules = Counter(
            v.rule for v in self.trainer.violations() if not v.rollout_id.startswith("warmup-")
        )
        accepted = phase.total - phase.refused - phase.init_errors
        return BenchResult(
            server=" ".join(self.server_urls),
            replicas=len(self.replica_urls),
            rollouts=phase.total,
            concurrency=config.concurrency,
            warmup=config.warmup,
            llm_latency_ms=config.llm_latency_ms,
            fail_rate=config.fail_rate,
            fail_completed_rate=config.fail_completed_rate,
            init_connections=config.init_connections,
            wall_s=wall,
            accepted=accepted,
            completed=phase.statuses["COMPLETED"],
            errors=accepted - lost - phase.statuses["COMPLETED"],
            lost=lost,
            refused=phase.refused,
            init_errors=phase.init_errors,
            duplicates=rules["completion_duplicate"],
            violations=sum(rules.values()),
            violation_rules=dict(rules),
            error_categories=dict(phase.categories),
            rollouts_per_s=phase.total / wall if wall else 0.0,
            latency_ms=percentiles(phase.latencies),
            turn_ms=phase.times.summary(),
            cpu_count=os.cpu_count() or 1,
        )


@contextlib.contextmanager
def _ticking(phase: Phase, progress: Progress | None) -> Iterator[None]:
    """Report progress every 0.1 s from a side task, off the workers' hot path."""
    if progress is None:
        yield
        return

    async def tick() -> None:
        while True:
            progress(phase.finished, phase.total)
            await asyncio.sleep(PROGRESS_INTERVAL)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        progress(phase.finished, phase.total)


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


async def store_round_trips(urls: Sequence[str]) -> int | None:
    """The record-store round-trips the servers at `urls` made so far (from /health),
    summed; None when any of them keeps its records in memory or does not say."""
    total = 0
    async with HttpPool() as pool:
        for url in urls:
            try:
                response = await pool.request(b"GET", httpx.URL(url + "/health"), timeout=10.0)
                trips = response.json()["store"]["round_trips"]
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                return None
            if not isinstance(trips, int):
                return None
            total += trips
    return total


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
    trainer = MockTrainer(
        TrainerConfig(
            policy=make_trainer_policy("calculator"),
            latency_ms=config.llm_latency_ms,
            fail_rate=config.fail_rate,
            fail_completed_rate=config.fail_completed_rate,
            seed=config.seed,
        )
    )
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(quiet_trainer_logs())
        stack.push_async_callback(trainer.aclose)
        trainer.url = await stack.enter_async_context(
            serve_app(trainer.app, "the mock trainer", host=config.trainer_host)
        )
        bench = driver(config, trainer, server_urls)
        if spec is not None:
            servers = await stack.enter_async_context(spawn_servers(spec, replicas))
            urls = [server.url for server in servers]
            if replicas > 1:
                upstreams = [(spec.host, server.port) for server in servers]
                urls = [await stack.enter_async_context(balancing(upstreams))]
            pids = [server.pid for server in servers]
            bench = driver(config, trainer, urls, pids, [server.url for server in servers])
        with _settled_heap():
            result = await bench.run(progress)
    if spec is not None:
        result.server = spec.label
        if isinstance(spec, ServerSpec):
            result.store = shown_store(spec.store)
    return result


async def check_reachable(server_url: str) -> None:
    """ServerUnreachable (exit 3) when nothing answers at `server_url`, before any load."""
    from rolloutctl.check.v1.requests import health

    async with httpx.AsyncClient(timeout=10.0) as http:
        await health(http, server_url.rstrip("/"))
