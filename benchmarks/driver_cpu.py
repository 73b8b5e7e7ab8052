"""D: the CPU `rolloutctl bench`'s own process spends per rollout, two versions paired.

On two cores the driver's CPU is taken from the server it measures: two workers reach
at most 2·S1 / (S2 + D) times one worker (BENCHMARKS.md, issue 24). This starts one
`rolloutctl serve` (this checkout's, default agent benchmarks/cpu_agent.py:agent) and
benches it with version A's and version B's engine alternately (A B, B A, ...), each
run in a fresh process that imports rolloutctl from that version's source folder
(`--a-src`/`--b-src`; default: this checkout). It prints D per run and the median of
the per-pair ratios A/B. Make a folder of another version with e.g.
`git archive main rolloutctl | tar -x -C /tmp/main-src`.

    uv run python benchmarks/driver_cpu.py --a-src /tmp/main-src [--pairs 4]
        [--rollouts 1200] [--warmup 200] [--concurrency 32] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from pathlib import Path

from rolloutctl.bench.server_process import ServerSpec, spawn_servers

HERE = Path(__file__).resolve().parent
CHILD = """
import json, sys
from rolloutctl.bench.config import BenchConfig
from rolloutctl.bench.load import run_bench
from rolloutctl.eventloop import run_interruptible
url, rollouts, warmup, concurrency = sys.argv[1], *map(int, sys.argv[2:5])
config = BenchConfig(rollouts=rollouts, warmup=warmup, concurrency=concurrency)
result = run_interruptible(run_bench(config, server_urls=[url]), fast_loop=True)
print(json.dumps({"d": result.bench_cpu_ms_per_rollout, "rate": result.rollouts_per_s,
                  "bad": result.errors + result.lost + result.violations,
                  "other": result.other_cpu_busy, "source": __import__("rolloutctl").__file__}))
"""


async def bench_with(src: Path, url: str, options: argparse.Namespace) -> dict[str, float]:
    """One bench run whose engine is imported from `src`; its figures."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    args = [str(options.rollouts), str(options.warmup), str(options.concurrency)]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-c", CHILD, url, *args),
        env=env,
        cwd=src,  # `-c` puts the working folder first on sys.path
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    figures: dict[str, float] = json.loads(out)
    return figures


async def run(options: argparse.Namespace) -> None:
    extra = ("--workers", str(options.workers)) if options.workers > 1 else ()
    spec = ServerSpec(target=options.target, max_concurrent=100, extra_args=extra)
    sides = {"A": Path(options.a_src).resolve(), "B": Path(options.b_src).resolve()}
    ratios = []
    async with spawn_servers(spec) as (server,):
        for pair in range(options.pairs):
            order = ("A", "B") if pair % 2 == 0 else ("B", "A")
            seen = {name: await bench_with(sides[name], server.url, options) for name in order}
            for name in ("A", "B"):
                f = seen[name]
                print(
                    f"pair {pair + 1} {name}: D {f['d']:.3f} ms  {f['rate']:.0f}/s  "
                    f"bad {f['bad']}  other load {f['other'] or 0:.2f}  ({f['source']})",
                    file=sys.stderr,
                )
            ratios.append(seen["A"]["d"] / seen["B"]["d"])
    print(f"D A/B: {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-src", default=str(HERE.parent))
    parser.add_argument("--b-src", default=str(HERE.parent))
    parser.add_argument("--target", default=str(HERE / "cpu_agent.py") + ":agent")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--rollouts", type=int, default=1200)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
