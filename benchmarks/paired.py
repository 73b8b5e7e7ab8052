"""Two servers benched side by side, run by run: the medians of the pairwise ratios.

On a shared machine an unpaired figure drifts by up to 2x within minutes; a ratio taken
between two runs made back to back drifts far less. This runs side A and side B
alternately (A then B, then B then A, ...), each as its own process driven by the same
`rolloutctl bench` engine (`rolloutctl.bench.load.run_bench`, which samples the CPU
of the server's whole process tree from /proc: under `--workers` the workers too),
and prints, per concurrency, the median over the pairs of A/B rollouts/s and A/B
server CPU ms per rollout.

A side is `rolloutctl` (this checkout's `serve`, default settings: --log-level info,
--max-concurrent 100), `ceiling` (benchmarks/ceiling_server.py), or the path of another
environment's python (its `rolloutctl serve`, e.g. a checkout of main, for before/after).
`--a-args`/`--b-args` add options to a side's serve (`{tmp}` is a fresh temporary folder
per run, on a `rolloutctl` side), `--target` serves another agent than the calculator.

    uv run python benchmarks/paired.py [--pairs 5] [--concurrency 1,32,128]
        [--a rolloutctl] [--b ceiling] [--rollouts 3000] [--warmup 300]
    uv run python benchmarks/paired.py --b rolloutctl --a-args "--store sqlite:///{tmp}/r.db"
    uv run python benchmarks/paired.py --b rolloutctl --a-args "--workers 2" \\
        --target benchmarks/cpu_agent.py:agent
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from rolloutctl.bench.config import BenchConfig
from rolloutctl.bench.load import run_bench
from rolloutctl.bench.result import BenchResult
from rolloutctl.bench.server_process import ProcessSpec, ServerSpec
from rolloutctl.eventloop import run_interruptible

CEILING = Path(__file__).with_name("ceiling_server.py")
SERVE_DEFAULTS = ServerSpec(example="calculator", log_level="info", max_concurrent=100)


@dataclass(frozen=True)
class CommandSpec:
    """A server started by a fixed command line; `{port}` in it is replaced by the port."""

    label: str
    command: tuple[str, ...]
    host: str = "127.0.0.1"

    def argv(self, port: int) -> list[str]:
        return [part.replace("{port}", str(port)) for part in self.command]


@dataclass(frozen=True)
class Side:
    """One side of the pairs, by the label its rows show."""

    label: str
    spec: ProcessSpec

    def fresh(self) -> ProcessSpec:
        """The spec of one run: `{tmp}` in a serve option becomes a new folder."""
        if not isinstance(self.spec, ServerSpec) or "{tmp}" not in " ".join(self.spec.extra_args):
            return self.spec
        folder = tempfile.mkdtemp(prefix="paired-")
        args = tuple(arg.replace("{tmp}", folder) for arg in self.spec.extra_args)
        return replace(self.spec, extra_args=args)


def rolloutctl_side(extra: str, target: str | None) -> Side:
    """This checkout's serve, with `extra` options and the agent at `target`."""
    spec = replace(SERVE_DEFAULTS, extra_args=tuple(shlex.split(extra)))
    if target:
        spec = replace(spec, target=target, example=None)
    return Side(" ".join([spec.label, extra]).strip(), spec)


def side(name: str, http: str, extra: str = "", target: str | None = None) -> Side:
    if name == "rolloutctl":
        return rolloutctl_side(extra, target)
    return Side(*_other(name, http, rolloutctl_side(extra, target)))


def _other(name: str, http: str, ours: Side) -> tuple[str, ProcessSpec]:
    """The ceiling, or another environment's serve with the options `ours` has."""
    if name == "ceiling":
        command = (sys.executable, str(CEILING), "--port", "{port}", "--http", http)
        return f"ceiling ({http})", CommandSpec(f"ceiling ({http})", command)
    python = Path(name)
    if not python.is_file():
        raise SystemExit(f"a side is rolloutctl, ceiling or a python executable, not {name!r}")
    # -P: not the current folder first on sys.path, where `-m rolloutctl` would find the
    # checkout the bench runs from instead of the one `python`'s environment installs
    argv = [str(python), "-P", *ours.spec.argv(0)[1:]]
    argv[argv.index("--port") + 1] = "{port}"
    label = f"{ours.label} of {python}"
    return label, CommandSpec(label, tuple(argv))


def bench_once(spec: ProcessSpec, config: BenchConfig) -> BenchResult:
    return run_interruptible(run_bench(config, spec=spec), fast_loop=True)


def summary(result: BenchResult) -> str:
    return (
        f"{result.rollouts_per_s:7.0f}/s  cpu {result.server_cpu_ms_per_rollout or 0:.3f} ms  "
        f"bench cpu {result.bench_cpu_ms_per_rollout:.3f} ms  "
        f"errors {result.errors} lost {result.lost} dup {result.duplicates} "
        f"violations {result.violations}  other load {result.other_cpu_busy or 0:.2f} cores"
    )


def run_pairs(
    a: Side, b: Side, config: BenchConfig, pairs: int
) -> list[tuple[BenchResult, BenchResult]]:
    """`pairs` pairs, the first side alternating: A B, B A, A B, ..."""
    results = []
    for index in range(pairs):
        order = ("a", "b") if index % 2 == 0 else ("b", "a")
        sides = {"a": a, "b": b}
        done = {name: bench_once(sides[name].fresh(), config) for name in order}
        pair = done["a"], done["b"]
        for one, result in zip((a, b), pair, strict=True):
            print(f"  pair {index + 1} {one.label:>24}: {summary(result)}", file=sys.stderr)
        results.append(pair)
    return results


def ratios(pairs: list[tuple[BenchResult, BenchResult]]) -> tuple[list[float], list[float]]:
    rate = [x.rollouts_per_s / y.rollouts_per_s for x, y in pairs]
    cpu = [
        (x.server_cpu_ms_per_rollout or 0) / (y.server_cpu_ms_per_rollout or 1) for x, y in pairs
    ]
    return rate, cpu


def report_line(concurrency: int, pairs: list[tuple[BenchResult, BenchResult]]) -> str:
    rate, cpu = ratios(pairs)
    cpu_a = statistics.median(x.server_cpu_ms_per_rollout or 0 for x, _ in pairs)
    cpu_b = statistics.median(y.server_cpu_ms_per_rollout or 0 for _, y in pairs)
    errors = sum(x.errors + x.lost + y.errors + y.lost for x, y in pairs)
    other = statistics.median(x.other_cpu_busy or 0 for x, _ in pairs)
    return (
        f"| {concurrency} | {statistics.median(cpu):.2f} ({min(cpu):.2f}-{max(cpu):.2f}) "
        f"| {statistics.median(rate):.2f} ({min(rate):.2f}-{max(rate):.2f}) "
        f"| {cpu_a:.3f} / {cpu_b:.3f} | {errors} | {other:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", default="rolloutctl")
    parser.add_argument("--b", default="ceiling")
    parser.add_argument("--http", default="h11", help="the ceiling's uvicorn HTTP protocol")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--concurrency", default="32", help="comma-separated, e.g. 1,32,128")
    parser.add_argument("--rollouts", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--a-args", default="", help="options added to side A's serve")
    parser.add_argument("--b-args", default="", help="options added to side B's serve")
    parser.add_argument("--target", default=None, help="the agent of rolloutctl sides")
    options = parser.parse_args()
    a = side(options.a, options.http, options.a_args, options.target)
    b = side(options.b, options.http, options.b_args, options.target)
    rows = [
        f"A = {a.label}, B = {b.label}; medians of {options.pairs} pairwise ratios (min-max)",
        "| C | CPU ms/rollout A/B | rollouts/s A/B | median CPU ms A / B | errors+lost "
        "| other load (cores) |",
        "|---|---|---|---|---|---|",
    ]
    for concurrency in (int(c) for c in options.concurrency.split(",")):
        print(f"C={concurrency}", file=sys.stderr)
        config = BenchConfig(
            rollouts=options.rollouts, concurrency=concurrency, warmup=options.warmup
        )
        rows.append(report_line(concurrency, run_pairs(a, b, config, options.pairs)))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
