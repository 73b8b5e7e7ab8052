"""The same calculator workload over both protocols, in one run: the figures of BENCHMARKS.md.

Three servers, each driven closed-loop by `rolloutctl bench` (runs interleaved, medians
printed as a Markdown table):

- `v1`: rolloutctl's own server (`bench --example calculator`, spawned by bench);
- `osmosis-adapter`: the same agent served by the SDK's server through rolloutctl's
  adapter (`bench --example calculator --protocol osmosis`, spawned by bench);
- `osmosis-sdk`: `examples/osmosis/sdk_calculator.py`, written on the SDK alone, spawned
  here and benched with `--server-url`; its CPU time is read from /proc around the run
  (no warm-up anywhere, so every server's figure covers the same rollouts).

    uv run python benchmarks/osmosis_servers.py [--runs 3] [--rollouts 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from rolloutctl.bench.procstats import sample
from rolloutctl.net.sockets import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).with_name("rolloutctl"))
COLUMNS = ("rollouts_per_s", "p50", "p95", "server_cpu_ms_per_rollout", "server_cpu_share",
           "bench_cpu_ms_per_rollout", "bench_cpu_share", "completed", "errors", "lost",
           "violations", "other_cpu_busy")  # fmt: skip


def bench(args: list[str]) -> dict:
    done = subprocess.run([BIN, "bench", "--json", *args], capture_output=True, text=True)
    if not done.stdout.strip():
        raise SystemExit(f"bench {args} failed: {done.stderr[-500:]}")
    record = json.loads(done.stdout)  # exit 1 (a lost rollout, a violation) still has figures
    record.update(record.pop("latency_ms"))
    return record


@contextlib.contextmanager
def sdk_server(max_concurrent: int) -> Iterator[tuple[str, int]]:
    port = free_port("127.0.0.1")
    script = ROOT / "examples" / "osmosis" / "sdk_calculator.py"
    argv = [sys.executable, str(script), "--port", str(port)]
    process = subprocess.Popen([*argv, "--max-concurrent", str(max_concurrent)])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/health").status_code == 200:
                    break
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(30)


def bench_sdk_server(args: list[str], max_concurrent: int) -> dict:
    with sdk_server(max_concurrent) as (url, pid):
        before = sample(pid)
        record = bench(["--server-url", url, "--protocol", "osmosis", *args])
        after = sample(pid)
    if before and after:
        spent = after.cpu_s - before.cpu_s
        record["server_cpu_ms_per_rollout"] = spent * 1000 / record["rollouts"]
        record["server_cpu_share"] = spent / record["wall_s"]
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rollouts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    options = parser.parse_args()
    load = ["--rollouts", str(options.rollouts), "--concurrency", str(options.concurrency)]
    slots = max(options.concurrency, 100)  # what bench gives the servers it spawns
    runs: dict[str, list[dict]] = {"v1": [], "osmosis-adapter": [], "osmosis-sdk": []}
    for number in range(options.runs):
        runs["v1"].append(bench(["--example", "calculator", *load]))
        runs["osmosis-adapter"].append(
            bench(["--example", "calculator", "--protocol", "osmosis", *load])
        )
        runs["osmosis-sdk"].append(bench_sdk_server(load, slots))
        print(f"run {number + 1}: " + ", ".join(
            f"{name} {r[-1]['rollouts_per_s']:.0f}/s" for name, r in runs.items()
        ), file=sys.stderr)  # fmt: skip
    print("| server | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name, records in runs.items():
        cells = [f"{statistics.median(r[c] or 0 for r in records):,.2f}" for c in COLUMNS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(json.dumps(runs, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
