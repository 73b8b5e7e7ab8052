"""`bench --protocol osmosis`: v1's closed loop, each rollout driven by the SDK's client.

Same workload as v1 (the calculator question whose answer takes one `add` call, two LLM
turns), same trainer, same figures; each rollout is posted and long-polled with the
SDK's own `RolloutClient` (see `driver.drive_rollout`) and sent with its answer as the
label, so the server's grader runs too. The SDK's client is used, not a leaner one:
`bench_cpu_ms_per_rollout` against `server_cpu_ms_per_rollout` in the same run says
which side costs more (BENCHMARKS.md has the figures).
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import time
from collections.abc import AsyncIterator

import httpx
from osmosis_ai.rollout.client import RolloutClient

from rolloutctl.bench.config import BenchConfig, calculator_init
from rolloutctl.bench.driver import Bench, Progress
from rolloutctl.bench.load import run_bench
from rolloutctl.bench.result import BenchResult
from rolloutctl.bench.server_process import ServerSpec
from rolloutctl.bench.tally import Phase
from rolloutctl.errors import InitError
from rolloutctl.osmosis.driver import OsmosisRequest, drive_rollout
from rolloutctl.trainer.starter import RolloutHandle

__all__ = ["OsmosisBench", "run_osmosis_bench"]

SUCCESS = "success"


class OsmosisBench(Bench):
    """Bench over the 0.3 protocol; one shared httpx client sized for the long polls."""

    client: RolloutClient

    async def run(self, progress: Progress | None = None) -> BenchResult:
        # Each rollout in flight holds a long-poll connection while its next one is posted.
        # Idle connections are dropped after 2 s, before a server with uvicorn's default
        # 5 s keep-alive closes them: reusing one it has just closed is a ReadError.
        limits = httpx.Limits(
            max_connections=2 * self.config.concurrency + 10, keepalive_expiry=2.0
        )
        async with httpx.AsyncClient(limits=limits) as http:
            key = self.config.server_key
            self.client = RolloutClient(url=self.server_urls[0], http_client=http, api_key=key)
            return await super().run(progress)

    async def _one(self, phase: Phase, index: int) -> None:
        rollout_id = f"{phase.prefix}-{index}"
        init = calculator_init(rollout_id, index)
        label = str(index % 97 + index % 13 + 1)
        request = OsmosisRequest(init["messages"], rollout_id, label=label, metadata=None)
        started = time.perf_counter()
        try:
            completion = await drive_rollout(
                self.trainer, self.client, request, self.config.timeout
            )
        except InitError as error:
            phase.init_failed(error)
            return
        if completion is None:  # cancelled after the timeout: counted as lost
            state = self.trainer.records.state(rollout_id)
            phase.unanswered.append(RolloutHandle(rollout_id, [], 202, state))
            return
        phase.latencies.append((time.perf_counter() - started) * 1000)
        status = str(completion.get("status"))
        phase.statuses[status] += 1
        if status != SUCCESS:
            phase.categories[str(completion.get("err_category"))] += 1

    def _result(self, phase: Phase, wall: float, lost: int) -> BenchResult:
        """v1's figures, with 0.3's `success` as the completed status."""
        result = super()._result(phase, wall, lost)
        result.completed = phase.statuses[SUCCESS]
        result.errors = result.accepted - result.lost - result.completed
        return result


@contextlib.asynccontextmanager
async def _artifacts() -> AsyncIterator[str]:
    """The spawned server's artifact root, removed after the run (one directory a rollout)."""
    with tempfile.TemporaryDirectory(prefix="rolloutctl-bench-osmosis-") as path:
        yield path


async def run_osmosis_bench(
    config: BenchConfig,
    server_url: str | None = None,
    spec: ServerSpec | None = None,
    progress: Progress | None = None,
) -> BenchResult:
    """`run_bench` over the 0.3 protocol; a spawned server is `serve --protocol osmosis`."""
    async with _artifacts() as artifacts:
        if spec is not None:
            extra = ("--protocol", "osmosis", "--artifacts-dir", artifacts)
            spec = dataclasses.replace(spec, extra_args=extra)
        urls = (server_url,) if server_url else ()
        return await run_bench(config, urls, spec, progress, driver=OsmosisBench)
