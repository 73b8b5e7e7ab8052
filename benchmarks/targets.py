"""Run every performance target of BENCHMARKS.md three times and print the medians.

Each scenario is one `rolloutctl bench ... --json` command (the server under test is
spawned by bench as its own process); the start-up targets time the real console
script. Prints a Markdown table to paste into BENCHMARKS.md, plus the raw runs.

    uv run python benchmarks/targets.py [--runs 3] [--only c32,c128,...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = str(Path(sys.executable).with_name("rolloutctl"))
CALC = ["bench", "--example", "calculator", "--json"]
SCENARIOS = {
    "c32": [*CALC, "--rollouts", "5000", "--concurrency", "32", "--warmup", "300"],
    "c128": [*CALC, "--rollouts", "5000", "--concurrency", "128", "--warmup", "300"],
    "c32-info": [*CALC, "--rollouts", "3000", "--concurrency", "32", "--warmup", "300",
                 "--server-log-level", "info"],
    "1000x2s": [*CALC, "--max-concurrent", "1000", "--llm-latency-ms", "2000",
                "--rollouts", "1000", "--concurrency", "1000"],
    "2000x5s": [*CALC, "--llm-latency-ms", "5000", "--rollouts", "2000", "--concurrency", "2000"],
    "faults": [*CALC, "--fail-rate", "0.1", "--fail-completed-rate", "0.1", "--rollouts", "1000"],
}  # fmt: skip
COLUMNS = ("rollouts_per_s", "p50", "p95", "server_cpu_ms_per_rollout", "server_cpu_share",
           "bench_cpu_share", "rss_growth", "delivered", "errors", "lost", "duplicates",
           "other_cpu_busy")  # fmt: skip


def bench(args: list[str]) -> dict:
    done = subprocess.run([BIN, *args], capture_output=True, text=True, check=False)
    record = json.loads(done.stdout)
    record.update(record.pop("latency_ms"))
    before, after = record["server_rss_before_mib"], record["server_rss_after_mib"]
    record["rss_growth"] = after - before
    return record


def wall(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([BIN, *args], capture_output=True, check=False)
    return time.perf_counter() - started


def median_row(name: str, runs: list[dict]) -> str:
    cells = [f"{statistics.median(r[c] for r in runs):,.2f}" for c in COLUMNS]
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default=",".join([*SCENARIOS, "startup"]))
    options = parser.parse_args()
    chosen = options.only.split(",")
    rows = [f"| scenario | {' | '.join(COLUMNS)} |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name in (n for n in SCENARIOS if n in chosen):
        runs = [bench(SCENARIOS[name]) for _ in range(options.runs)]
        for run in runs:
            print(name, {c: round(run[c], 3) for c in COLUMNS}, file=sys.stderr)
        rows.append(median_row(name, runs))
    print("\n".join(rows))
    if "startup" in chosen:
        for label, args in (("--help", ["--help"]), ("try", ["try", "--example", "calculator"])):
            times = [wall(args) for _ in range(options.runs)]
            print(f"rolloutctl {label}: median {statistics.median(times):.2f} s "
                  f"(runs: {', '.join(f'{t:.2f}' for t in times)})")  # fmt: skip


if __name__ == "__main__":
    main()
