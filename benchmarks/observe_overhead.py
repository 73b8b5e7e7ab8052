"""What metrics and traces cost the server: CPU per rollout with them on, over both off.

Side A is `rolloutctl serve` as shipped (metrics on), with `--otel` unless `--no-traces`,
its spans exported over OTLP/HTTP to a real receiver (tests/otlp_receiver.py, which
decodes every request with opentelemetry-proto) in a process of its own (in the bench's
process its work would slow the mock trainer, and so the server), and
sampled by the default sampler (parentbased_always_on: every rollout) or at `--ratio`
(OTEL_TRACES_SAMPLER=parentbased_traceidratio).
Side B is `serve --no-metrics` without tracing. Sides alternate run by run (A B, B A,
...) as benchmarks/paired.py does; the medians of the pairwise ratios are printed.

    uv run python benchmarks/observe_overhead.py [--pairs 5] [--concurrency 32]
        [--rollouts 2000] [--warmup 200] [--ratio 0.01 | --no-traces] [--llm-latency-ms 20]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from paired import bench_once, report_line, summary

from rolloutctl.bench.config import BenchConfig
from rolloutctl.bench.result import BenchResult
from rolloutctl.bench.server_process import ServerSpec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.*

from tests.helpers import run_server
from tests.otlp_receiver import OtlpReceiver

BASE = {"example": "calculator", "log_level": "info", "max_concurrent": 100}
PLAIN = ServerSpec(**BASE, extra_args=("--no-metrics",))  # type: ignore[arg-type]


def side_a_env(endpoint: str, ratio: float | None, traces: bool) -> dict[str, str]:
    if not traces:
        return {}
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint}
    if ratio is not None:
        env["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        env["OTEL_TRACES_SAMPLER_ARG"] = str(ratio)
    return env


def one(spec: ServerSpec, env: dict[str, str], config: BenchConfig) -> BenchResult:
    """One bench run; the spawned server inherits `env` (and only that run's server)."""
    os.environ.update(env)
    try:
        return bench_once(spec, config)
    finally:
        for name in env:
            os.environ.pop(name, None)


def serve_receiver() -> None:
    """`--receiver`: serve one; print its URL, then its span count once stdin ends."""
    receiver = OtlpReceiver()
    with run_server(receiver) as url:
        print(url, flush=True)
        sys.stdin.read()
    print(receiver.received, flush=True)


@contextlib.contextmanager
def receiver_process() -> Iterator[tuple[str, list[int]]]:
    """A receiver in a child process: its URL, and a list that gets its span count."""
    command = [sys.executable, __file__, "--receiver"]
    pipe = subprocess.PIPE
    with subprocess.Popen(command, stdin=pipe, stdout=pipe, text=True) as child:
        assert child.stdin is not None and child.stdout is not None
        count: list[int] = []
        yield child.stdout.readline().strip(), count
        child.stdin.close()
        count.append(int(child.stdout.readline()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rollouts", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--llm-latency-ms",
        type=float,
        default=0.0,
        help="the mock trainer's delay per chat answer: with one, both sides run at the "
        "rate the delay allows, so their CPU per rollout compares at the same load",
    )
    parser.add_argument("--ratio", type=float, help="trace sampling ratio (default: every one)")
    parser.add_argument("--no-traces", action="store_true", help="side A: metrics only")
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.receiver:
        return serve_receiver()
    config = BenchConfig(
        rollouts=options.rollouts,
        concurrency=options.concurrency,
        warmup=options.warmup,
        llm_latency_ms=options.llm_latency_ms,
    )
    traced = ServerSpec(**BASE, extra_args=() if options.no_traces else ("--otel",))  # type: ignore[arg-type]
    pairs = []
    with receiver_process() as (url, spans):
        env = side_a_env(f"{url}/v1/traces", options.ratio, not options.no_traces)
        for index in range(options.pairs):
            a_first = index % 2 == 0
            first = one(traced, env, config) if a_first else one(PLAIN, {}, config)
            second = one(PLAIN, {}, config) if a_first else one(traced, env, config)
            a, b = (first, second) if a_first else (second, first)
            print(f"  pair {index + 1} A: {summary(a)}", file=sys.stderr)
            print(f"  pair {index + 1} B: {summary(b)}", file=sys.stderr)
            pairs.append((a, b))
    sampled = "every rollout" if options.ratio is None else f"sampled at {options.ratio:g}"
    what = "metrics" if options.no_traces else f"metrics + traces, {sampled}"
    print(f"A = {what}, B = both off; spans received {spans[0]}; medians of "
          f"{options.pairs} pairwise ratios (min-max)")  # fmt: skip
    print("| C | CPU ms/rollout A/B | rollouts/s A/B | median CPU ms A / B | errors+lost "
          "| other load (cores) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    print(report_line(options.concurrency, pairs))


if __name__ == "__main__":
    main()
