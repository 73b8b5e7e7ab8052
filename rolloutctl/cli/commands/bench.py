"""`rolloutctl bench`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from rolloutctl.cli.options import (
    Example,
    JsonFlag,
    LogLevel,
    PlainFlag,
    Protocol,
    ProtocolOption,
    ServerKey,
    Target,
    checked_url,
    env_names,
    use_plain,
)
from rolloutctl.errors import InputError

__all__ = ["EPILOG", "bench"]

EPILOG = (
    "Without --server-url the server under test runs as a separate process "
    "(rolloutctl serve, --log-level warning) whose CPU and RSS are sampled. With --protocol "
    "osmosis each rollout is posted and long-polled with the Osmosis SDK's RolloutClient "
    "(the spawned server: serve --protocol osmosis). Exit status: 0 "
    "every accepted rollout delivered exactly once with no violation; 1 otherwise; 2 usage "
    "error, or the server wants another key (401); 3 the server did not start or cannot be "
    "reached.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl bench --example calculator --rollouts 5000 --concurrency 32 --warmup 200\n"
    "  rolloutctl bench --server-url http://127.0.0.1:9000 --rollouts 500 --json\n"
    "  rolloutctl bench --example calculator --replicas 3 --store redis://127.0.0.1:6379/0\n"
    "  rolloutctl bench --example calculator --protocol osmosis --rollouts 500"
)


def _bench_opt(
    name: str, help_text: str, scope: str | None = None, **kwargs: Any
) -> typer.models.OptionInfo:
    return typer.Option(envvar=env_names(name, scope=scope), help=help_text, **kwargs)


def bench(
    target: Target = None,
    example: Example = None,
    server_url: Annotated[
        list[str] | None,
        _bench_opt(
            "SERVER_URL",
            "Bench this running RolloutServer instead of starting one (repeatable: the "
            "replicas of one server, sent inits round-robin).",
            show_default=False,
        ),
    ] = None,
    replicas: Annotated[
        int,
        _bench_opt(
            "REPLICAS",
            "Server processes to start, behind a round-robin TCP balancer of the bench's own.",
            min=1,
        ),
    ] = 1,
    store: Annotated[
        str | None,
        _bench_opt(
            "STORE",
            "--store of the spawned servers: 'memory' or a Redis URL they share.",
            show_default=False,
        ),
    ] = None,
    server_key: ServerKey = None,
    rollouts: Annotated[int, _bench_opt("ROLLOUTS", "Rollouts to measure.", min=1)] = 1000,
    concurrency: Annotated[
        int,
        _bench_opt("CONCURRENCY", "Rollouts kept in flight (closed loop).", scope="BENCH", min=1),
    ] = 32,
    llm_latency_ms: Annotated[
        float,
        _bench_opt("LLM_LATENCY_MS", "Delay the mock trainer adds to each chat answer.", min=0),
    ] = 0.0,
    fail_rate: Annotated[
        float, _bench_opt("FAIL_RATE", "Fraction of chat calls answered 503.", min=0, max=1)
    ] = 0.0,
    fail_completed_rate: Annotated[
        float,
        _bench_opt("FAIL_COMPLETED_RATE", "Fraction of completions answered 503.", min=0, max=1),
    ] = 0.0,
    warmup: Annotated[int, _bench_opt("WARMUP", "Rollouts run first and not counted.", min=0)] = 0,
    max_concurrent: Annotated[
        int | None,
        _bench_opt(
            "MAX_CONCURRENT",
            "--max-concurrent of the spawned server (default: --concurrency, at least 100).",
            scope="BENCH",
            min=1,
            show_default=False,
        ),
    ] = None,
    server_log_level: Annotated[
        LogLevel, _bench_opt("SERVER_LOG_LEVEL", "--log-level of the spawned server.")
    ] = LogLevel.WARNING,
    timeout: Annotated[
        float,
        _bench_opt(
            "TIMEOUT", "Seconds to wait for one rollout's completion.", scope="BENCH", min=0.1
        ),
    ] = 120.0,
    final_wait: Annotated[
        float,
        _bench_opt(
            "FINAL_WAIT",
            "Extra seconds at the end for missing completions before they count as lost.",
            min=0,
        ),
    ] = 10.0,
    seed: Annotated[
        int | None, _bench_opt("SEED", "Seed of the fault injection.", show_default=False)
    ] = None,
    trainer_host: Annotated[
        str,
        _bench_opt(
            "TRAINER_HOST",
            "Address the mock trainer listens on (the server under test calls it back there).",
        ),
    ] = "127.0.0.1",
    init_connections: Annotated[
        int,
        _bench_opt(
            "INIT_CONNECTIONS",
            "Inits in flight at once, like a trainer's pooled HTTP client.",
            min=1,
        ),
    ] = 100,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
    protocol: ProtocolOption = Protocol.V1,
) -> int:
    """Measure a RolloutServer under load."""
    import json
    import sys

    from rolloutctl.bench.config import BenchConfig
    from rolloutctl.bench.load import run_bench
    from rolloutctl.bench.probes import check_key, check_reachable
    from rolloutctl.bench.report import progress_bar, result_rows
    from rolloutctl.bench.result import passed
    from rolloutctl.bench.server_process import ServerSpec
    from rolloutctl.eventloop import run_interruptible
    from rolloutctl.report_table import print_rows
    from rolloutctl.server.store import check_store_url
    from rolloutctl.status import ExitStatus
    from rolloutctl.trajectory.render import make_console

    if server_url and (target or example):
        raise InputError("give TARGET/--example or --server-url, not both")
    if not server_url and bool(target) == bool(example):
        raise InputError("give exactly one of TARGET, --example or --server-url")
    if server_url and (replicas > 1 or store):
        raise InputError("--replicas and --store are for spawned servers, not --server-url")
    server_url = [checked_url(url) for url in server_url or ()]
    config = BenchConfig(
        rollouts=rollouts,
        concurrency=concurrency,
        llm_latency_ms=llm_latency_ms,
        fail_rate=fail_rate,
        fail_completed_rate=fail_completed_rate,
        warmup=warmup,
        timeout=timeout,
        final_wait=final_wait,
        seed=seed,
        server_key=server_key,
        trainer_host=trainer_host,
        init_connections=init_connections,
    )
    spec = (
        None
        if server_url
        else ServerSpec(
            target=target,
            example=example,
            log_level=server_log_level.value,
            max_concurrent=max_concurrent or max(concurrency, 100),
            store=check_store_url(store),
        )
    )
    for url in server_url or ():  # exit 3 (or 2 on a 401) before the progress bar draws
        run_interruptible(check_reachable(url), fast_loop=True)
        if protocol is Protocol.V1:
            run_interruptible(check_key(url, server_key), fast_loop=True)
    console = make_console(use_plain(plain) or json_output, file=sys.stderr)
    with progress_bar(console) as progress:
        if protocol is Protocol.OSMOSIS:
            from rolloutctl.osmosis.bench import run_osmosis_bench

            if replicas > 1 or len(server_url or ()) > 1:
                raise InputError("--protocol osmosis benches one server: no --replicas")
            first = server_url[0] if server_url else None
            run = run_osmosis_bench(config, first, spec, progress)
        else:
            run = run_bench(config, server_url or (), spec, progress, replicas)
        result = run_interruptible(run, fast_loop=True)
    if json_output:
        typer.echo(json.dumps(result.to_json()))
    else:
        plain = use_plain(plain)
        title = f"rolloutctl bench: {result.server}"
        print_rows(make_console(plain), title, result_rows(result), plain)
    return ExitStatus.SUCCESS if passed(result) else ExitStatus.FAILURE
