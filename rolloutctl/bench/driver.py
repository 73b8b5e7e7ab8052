"""The closed loop of `rolloutctl bench`: C workers each start a calculator rollout
through one MockTrainer and wait for its completion, until N rollouts are done; then
the figures of the run, from the trainer's records and the servers' /proc and /health.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

from rolloutctl.bench.breakdown import tool_ms
from rolloutctl.bench.config import BenchConfig, calculator_init
from rolloutctl.bench.probes import store_round_trips
from rolloutctl.bench.procstats import PeakRss, ProcSample, machine_cpu, sample, sample_all
from rolloutctl.bench.result import BenchResult
from rolloutctl.bench.tally import Phase, add_costs, add_machine, percentiles
from rolloutctl.errors import InitError
from rolloutctl.observe.scrape import read_metrics, server_side
from rolloutctl.trainer import MockTrainer

__all__ = ["PROGRESS_INTERVAL", "Bench", "Progress"]

Progress = Callable[[int, int], None]  # (rollouts finished, rollouts in all)
PROGRESS_INTERVAL = 0.1


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
        except InitError as error:
            phase.init_failed(error)
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
            concurrency=min(config.concurrency, phase.total),  # the workers that ran
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
            rollouts_per_s=(accepted - lost) / wall if wall else 0.0,  # delivered ones only
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
