"""In-memory vs Redis record store, interleaved in one run, and the cost of one claim.

Each round runs the same `rolloutctl bench --json` workload on: the in-memory store
(and, with --baseline, another checkout's binary, for a paired before/after), one
replica on Redis, and N replicas on Redis behind bench's balancer. Rounds alternate
scenarios so a machine whose load drifts hurts them alike. Then it times the Redis
claim itself (`SET NX GET`, the one round-trip Redis adds to an init) in-process.
It starts its own redis-server (Debian package) in a temporary directory.

    uv run python -m benchmarks.store [--runs 3] [--rollouts 2000] [--replicas 3]
        [--baseline /path/to/other/.venv/bin/rolloutctl]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rolloutctl.bench.procstats import sample
from rolloutctl.server.store.base import RolloutRecord
from rolloutctl.server.store.redis import RedisStore
from tests.helpers import RedisServer

BIN = str(Path(sys.executable).with_name("rolloutctl"))
COLUMNS = ("rollouts_per_s", "p50", "p95", "server_cpu_ms_per_rollout", "redis_cpu_ms",
           "store_round_trips_per_rollout", "duplicates", "lost", "other_cpu_busy")  # fmt: skip


def bench(binary: str, args: list[str], redis: RedisServer) -> dict:
    assert redis.process is not None
    before = sample(redis.process.pid)
    done = subprocess.run([binary, *args], capture_output=True, text=True, check=False)
    after = sample(redis.process.pid)
    record = json.loads(done.stdout)
    record.update(record.pop("latency_ms"))
    spent = (after.cpu_s - before.cpu_s) if before and after else 0.0
    record["redis_cpu_ms"] = spent * 1000 / record["rollouts"]
    record["store_round_trips_per_rollout"] = record.get("store_round_trips_per_rollout") or 0.0
    return record


async def time_claims(url: str, count: int) -> tuple[float, float]:
    """Wall and CPU microseconds of one claim, sequential, through the real client."""
    store = RedisStore(url, prefix=f"claims-{uuid.uuid4().hex[:6]}")
    await store.start()
    body = b'{"rollout_id": "x", "tools": []}'
    try:
        for i in range(200):  # warm the connection and the code paths
            await store.claim(RolloutRecord(f"warm-{i}", body))
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for i in range(count):
            await store.claim(RolloutRecord(f"claim-{i}", body))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        await store.aclose()
    return wall * 1e6 / count, cpu * 1e6 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rollouts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--baseline", help="another rolloutctl binary, run as 'baseline'")
    options = parser.parse_args()
    load = ["bench", "--example", "calculator", "--json", "--warmup", "200", "--rollouts",
            str(options.rollouts), "--concurrency", str(options.concurrency)]  # fmt: skip
    with tempfile.TemporaryDirectory() as directory:
        redis = RedisServer(Path(directory))
        redis.start()
        try:
            scenarios = {"memory": (BIN, load)}
            if options.baseline:
                scenarios = {"baseline memory": (options.baseline, load), **scenarios}
            scenarios["redis x1"] = (BIN, [*load, "--store", redis.url])
            replicated = [*load, "--store", redis.url, "--replicas", str(options.replicas)]
            scenarios[f"redis x{options.replicas}"] = (BIN, replicated)
            runs: dict[str, list[dict]] = {name: [] for name in scenarios}
            for _ in range(options.runs):
                for name, (binary, args) in scenarios.items():
                    runs[name].append(record := bench(binary, args, redis))
                    print(name, {c: round(record[c], 3) for c in COLUMNS}, file=sys.stderr)
            wall_us, cpu_us = asyncio.run(time_claims(redis.url, 5000))
        finally:
            redis.stop()
    print(f"| scenario | {' | '.join(COLUMNS)} |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name, records in runs.items():
        cells = [f"{statistics.median(r[c] for r in records):,.2f}" for c in COLUMNS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"one Redis claim (SET NX GET), sequential: {wall_us:.0f} µs wall, "
          f"{cpu_us:.0f} µs client CPU")  # fmt: skip


if __name__ == "__main__":
    main()
