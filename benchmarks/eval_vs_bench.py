"""`rolloutctl eval` against `rolloutctl bench` on the same workload, as ratios.

Both spawn the calculator server as their own process and drive it from one mock
trainer with the calculator policy at the same concurrency; eval also builds and
writes every trajectory. Runs alternate (bench, eval, bench, eval, ...) so that the
load of a shared machine falls on both alike, and the medians are compared:

- rate: rollouts/s of the measured phase (bench's, and eval's from its first init to
  its last result, both without start-up);
- CPU: user+sys seconds of the whole command and its server child per rollout,
  start-up included for both;
- memory: the eval process's own peak RSS over N rows and over N/10 rows (flat when
  about equal; the server's records are not counted).

    uv run python benchmarks/eval_vs_bench.py [--rows 10000] [--concurrency 32] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = str(Path(sys.executable).with_name("rolloutctl"))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(args: list[str]) -> tuple[dict, float]:
    """(the command's JSON, CPU seconds it and its children used)."""
    before = children_cpu()
    done = subprocess.run([BIN, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout), children_cpu() - before


def dataset(path: Path, rows: int) -> Path:
    rng = random.Random(1)
    with path.open("w") as out:
        for _ in range(rows):
            a, b = rng.randint(1, 99), rng.randint(1, 99)
            out.write(json.dumps({"prompt": f"What is {a} + {b}?", "ground_truth": a + b}) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    n, c = options.rows, str(options.concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        data = dataset(Path(tmp) / "arith.jsonl", n)
        small = dataset(Path(tmp) / "small.jsonl", max(n // 10, 1))
        rates: dict[str, list[float]] = {"bench": [], "eval": []}
        cpu: dict[str, list[float]] = {"bench": [], "eval": []}
        rss: list[float] = []
        for run in range(options.runs):
            record, spent = measured(
                ["bench", "--example", "calculator", "--rollouts", str(n), "--concurrency", c,
                 "--json"]
            )  # fmt: skip
            rates["bench"].append(record["rollouts_per_s"])
            cpu["bench"].append(spent * 1000 / n)
            out = str(Path(tmp) / f"run{run}")
            summary, spent = measured(
                ["eval", str(data), "--example", "calculator", "--concurrency", c, "--json",
                 "-o", out]
            )  # fmt: skip
            assert summary["status"] == {"COMPLETED": n}, summary["status"]
            rates["eval"].append(summary["this_session"]["rollouts_per_s"])
            cpu["eval"].append(spent * 1000 / n)
            rss.append(summary["this_session"]["peak_rss_mib"])
            print(f"run {run + 1}: bench {rates['bench'][-1]:.0f}/s, eval "
                  f"{rates['eval'][-1]:.0f}/s, CPU ms/rollout {cpu['bench'][-1]:.2f} vs "
                  f"{cpu['eval'][-1]:.2f}, eval RSS {rss[-1]:.0f} MiB", flush=True)  # fmt: skip
        out = str(Path(tmp) / "small-run")
        small_summary, _ = measured(
            ["eval", str(small), "--example", "calculator", "--concurrency", c, "--json", "-o", out]
        )
    small_peak = small_summary["this_session"]["peak_rss_mib"]
    med = {k: statistics.median(v) for k, v in rates.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"\nrows {n}, concurrency {c}, medians of {options.runs}:")
    print(f"rate: bench {med['bench']:.0f}/s, eval {med['eval']:.0f}/s, "
          f"eval/bench {med['eval'] / med['bench']:.2f}")  # fmt: skip
    print(f"CPU ms per rollout (both processes, start-up included): bench "
          f"{med_cpu['bench']:.2f}, eval {med_cpu['eval']:.2f}, "
          f"eval/bench {med_cpu['eval'] / med_cpu['bench']:.2f}")  # fmt: skip
    print(f"eval peak RSS: {statistics.median(rss):.0f} MiB over {n} rows, "
          f"{small_peak:.0f} MiB over {max(n // 10, 1)} rows")  # fmt: skip


if __name__ == "__main__":
    main()
