"""`rolloutctl serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer._click.core import ParameterSource

from rolloutctl.cli.options import (
    Example,
    LogLevel,
    NoMetrics,
    Protocol,
    ProtocolOption,
    Target,
    env_names,
    resolve_agent,
)
from rolloutctl.errors import InputError
from rolloutctl.server.settings import ServerSettings

__all__ = ["EPILOG", "parse_workers", "refuse_invalid", "serve"]

_DEFAULTS = ServerSettings()  # the options' defaults are the library's

EPILOG = (
    "Environment: every option reads ROLLOUTCTL_<OPTION> (e.g. ROLLOUTCTL_SERVER_KEY), but "
    "--port and --max-concurrent read ROLLOUTCTL_SERVE_PORT and ROLLOUTCTL_SERVE_MAX_CONCURRENT "
    "(other commands give those options other defaults); --port, "
    "--max-concurrent, --rollout-timeout and --http-timeout also read ROLLOUT_SERVER_PORT, "
    "MAX_CONCURRENT_ROLLOUTS, ROLLOUT_TIMEOUT_SECONDS and HTTP_CLIENT_TIMEOUT. Precedence: "
    "command line, then ROLLOUTCTL_*, then those deployment variables, then the default. "
    "With --protocol osmosis the agent is served by the Osmosis SDK 0.3's own server "
    "(--max-queue and --max-records do not apply). "
    "Exit status: 0 stopped by Ctrl-C or SIGTERM after draining; 2 usage error or an agent "
    "that cannot be loaded; 3 the port cannot be bound.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl serve --example calculator --port 9000\n"
    "  rolloutctl serve my_agent.py:agent --workers auto --store sqlite:///records.db\n"
    "  ROLLOUTCTL_SERVER_KEY=k1 rolloutctl serve my_agent.py:agent --max-concurrent 500\n"
    "  rolloutctl serve my_agent.py:agent --allow-callback-host trainer.internal\n"
    "  rolloutctl serve --example calculator --protocol osmosis --artifacts-dir runs/"
)


def serve(
    ctx: typer.Context,
    target: Target = None,
    example: Example = None,
    host: Annotated[
        str, typer.Option(envvar=env_names("HOST"), help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            envvar=env_names("PORT", "ROLLOUT_SERVER_PORT", scope="SERVE"),
            help="Port to listen on (0: any free port); with --protocol osmosis and no --port, "
            "$_OSMOSIS_ROLLOUT_PORT when set (as osmosis eval run sets it).",
        ),
    ] = 9000,
    max_concurrent: Annotated[
        int,
        typer.Option(
            min=1,
            envvar=env_names("MAX_CONCURRENT", "MAX_CONCURRENT_ROLLOUTS", scope="SERVE"),
            help="Rollouts running at once; the rest wait in a bounded queue.",
        ),
    ] = _DEFAULTS.max_concurrent,
    max_queue: Annotated[
        int,
        typer.Option(
            min=0,
            envvar=env_names("MAX_QUEUE"),
            help="Rollouts waiting for a slot before init answers 503.",
        ),
    ] = _DEFAULTS.max_queue,
    max_records: Annotated[
        int,
        typer.Option(
            min=1,
            envvar=env_names("MAX_RECORDS"),
            help="Finished rollouts remembered (for --record-ttl) for idempotency and status; "
            "past this the oldest are forgotten first.",
        ),
    ] = _DEFAULTS.max_records,
    rollout_timeout: Annotated[
        float,
        typer.Option(
            min=0.001,
            envvar=env_names("ROLLOUT_TIMEOUT", "ROLLOUT_TIMEOUT_SECONDS"),
            help="Seconds a rollout may run before it ends as ERROR timeout.",
        ),
    ] = _DEFAULTS.rollout_timeout,
    http_timeout: Annotated[
        float,
        typer.Option(
            min=0.001,
            envvar=env_names("HTTP_TIMEOUT", "HTTP_CLIENT_TIMEOUT"),
            help="Seconds one call to the trainer may take.",
        ),
    ] = _DEFAULTS.retry.call_timeout,
    server_key: Annotated[
        str | None,
        typer.Option(
            envvar=env_names("SERVER_KEY"),
            show_default=False,
            help="Require 'Authorization: Bearer KEY' on every route but /health. Prefer the "
            "environment variable: a command line is visible to other users.",
        ),
    ] = None,
    allow_callback_host: Annotated[
        list[str] | None,
        typer.Option(
            envvar=env_names("ALLOW_CALLBACK_HOST"),
            show_default=False,
            help="Only call back trainers on this host (repeatable; '*.example.com' allowed). "
            "Default: any host.",
        ),
    ] = None,
    workers: Annotated[
        str,
        typer.Option(
            envvar=env_names("WORKERS"),
            help="Server processes sharing the port, each using a core: a number, or 'auto' for "
            "one per core. Above 1 the records are shared: in --store, else in an SQLite file "
            "in a private temporary folder.",
        ),
    ] = "1",
    store: Annotated[
        str | None,
        typer.Option(
            envvar=env_names("STORE"),
            show_default=False,
            help="Where idempotency records and rollout status live: 'memory' (this process, "
            "the default), an SQLite file that the processes of this machine share and that "
            "survives restarts (sqlite:///records.db; sqlite:////abs/path.db), or a Redis URL "
            "(redis://host:port/db) that every replica shares.",
        ),
    ] = None,
    store_prefix: Annotated[
        str,
        typer.Option(
            envvar=env_names("STORE_PREFIX"),
            help="Prefix of this server's records, so several agents can share one Redis or "
            "SQLite file.",
        ),
    ] = _DEFAULTS.store_prefix,
    record_ttl: Annotated[
        float,
        typer.Option(
            min=1,
            envvar=env_names("RECORD_TTL"),
            help="Seconds a finished rollout's record is kept (idempotency and status).",
        ),
    ] = _DEFAULTS.record_ttl,
    owner_timeout: Annotated[
        float,
        typer.Option(
            min=0.1,
            envvar=env_names("OWNER_TIMEOUT"),
            help="With a shared --store: seconds after a replica's last heartbeat before "
            "another one ends its in-flight rollouts as ERROR server_lost.",
        ),
    ] = _DEFAULTS.owner_timeout,
    heartbeat_interval: Annotated[
        float,
        typer.Option(
            min=0.05,
            envvar=env_names("HEARTBEAT_INTERVAL"),
            help="With a shared --store: seconds between this replica's heartbeats "
            "(keep it well under --owner-timeout).",
        ),
    ] = _DEFAULTS.heartbeat_interval,
    shutdown_grace: Annotated[
        float,
        typer.Option(
            min=0,
            envvar=env_names("SHUTDOWN_GRACE"),
            help="Seconds to let running rollouts finish on shutdown before ending them "
            "as ERROR shutdown.",
        ),
    ] = _DEFAULTS.shutdown_grace,
    max_init_bytes: Annotated[
        int,
        typer.Option(
            min=1,
            envvar=env_names("MAX_INIT_BYTES"),
            help="Largest init body accepted; a larger one gets 413 before it is read.",
        ),
    ] = _DEFAULTS.max_init_bytes,
    max_record_bytes: Annotated[
        int,
        typer.Option(
            min=1024,
            envvar=env_names("MAX_RECORD_BYTES"),
            help="Largest completion kept whole for the status endpoint; past it the kept "
            "copy's final_messages are cut (the trainer still gets it whole).",
        ),
    ] = _DEFAULTS.max_record_bytes,
    no_validate: Annotated[
        bool,
        typer.Option(
            "--no-validate",
            envvar=env_names("NO_VALIDATE"),
            help="Serve even an agent that validate's static checks find errors in.",
        ),
    ] = False,
    log_level: Annotated[
        LogLevel, typer.Option(envvar=env_names("LOG_LEVEL"), help="How much to log.")
    ] = LogLevel.INFO,
    json_logs: Annotated[
        bool, typer.Option(envvar=env_names("JSON_LOGS"), help="Log JSON lines to stdout.")
    ] = False,
    no_metrics: NoMetrics = False,
    metrics_public: Annotated[
        bool,
        typer.Option(
            "--metrics-public",
            envvar=env_names("METRICS_PUBLIC"),
            help="Serve GET /metrics without the --server-key.",
        ),
    ] = False,
    otel: Annotated[
        bool,
        typer.Option(
            "--otel",
            envvar=env_names("OTEL"),
            help="Export OpenTelemetry traces over OTLP/HTTP (on anyway when "
            "OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; "
            "default receiver http://localhost:4318).",
        ),
    ] = False,
    protocol: ProtocolOption = Protocol.V1,
    grader: Annotated[
        str | None,
        typer.Option(
            envvar=env_names("GRADER"),
            show_default=False,
            help="For --protocol osmosis: 'module:attr' or 'file.py:attr', an osmosis_ai Grader "
            "subclass or a function (messages, label) -> reward. Default: the agent's reward, "
            "else 1.0 when the final answer contains the label.",
        ),
    ] = None,
    reload: Annotated[
        bool,
        typer.Option(
            "--reload",
            envvar=env_names("RELOAD"),
            help="Restart the server whenever a .py file of the agent's folder changes "
            "(for development; in-flight rollouts end as at SIGTERM).",
        ),
    ] = False,
    artifacts_dir: Annotated[
        Path | None,
        typer.Option(
            envvar=env_names("ARTIFACTS_DIR"),
            show_default=False,
            help="For --protocol osmosis: where the SDK writes each rollout's trajectory.json "
            "(default: $_OSMOSIS_ROLLOUT_ARTIFACT_ROOT, else rolloutctl-osmosis-UID in the "
            "system temp dir).",
        ),
    ] = None,
) -> None:
    """Run a RolloutServer for an agent."""
    from dataclasses import replace

    agent = resolve_agent(target, example)  # first: a bad target fails before the server loads
    if reload:  # the watching parent serves nothing: its child loads the server
        _reload(target, example, workers)
        return
    from rolloutctl.server import run as serving
    from rolloutctl.server.store import check_store_url

    if not no_validate:
        refuse_invalid(agent)
    settings = ServerSettings(
        max_concurrent=max_concurrent,
        max_queue=max_queue,
        max_records=max_records,
        record_ttl=record_ttl,
        store=check_store_url(store),
        store_prefix=store_prefix,
        owner_timeout=owner_timeout,
        heartbeat_interval=heartbeat_interval,
        rollout_timeout=rollout_timeout,
        retry=replace(_DEFAULTS.retry, call_timeout=http_timeout),
        shutdown_grace=shutdown_grace,
        api_key=server_key or None,
        allow_callback_hosts=tuple(allow_callback_host or ()),
        max_init_bytes=max_init_bytes,
        max_record_bytes=max_record_bytes,
        metrics=not no_metrics,
        metrics_public=metrics_public,
        otel=otel,
    )
    config = serving.ServeConfig(
        host=host,
        port=port,
        workers=parse_workers(workers),
        # --debug shows tracebacks: those of failing agents and tools are DEBUG lines
        log_level="debug" if ctx.find_root().params.get("debug") else log_level.value,
        json_logs=json_logs,
        settings=settings,
        tune_gc=True,  # this process is the server: its GC settings are ours to change
    )
    if protocol is Protocol.OSMOSIS:
        if config.workers > 1:
            raise InputError("--workers needs --protocol v1 (the SDK's server runs alone)")
        from rolloutctl.osmosis.grader import load_grader
        from rolloutctl.osmosis.serve import entrypoint_port, run_osmosis

        if ctx.get_parameter_source("port") is ParameterSource.DEFAULT:
            config = replace(config, port=entrypoint_port(port))
        run_osmosis(agent, config, load_grader(grader) if grader else None, artifacts_dir)
    elif grader or artifacts_dir:
        raise InputError("--grader and --artifacts-dir need --protocol osmosis")
    else:
        serving.run(agent, config)


def _reload(target: str | None, example: str | None, workers: str) -> None:
    """Serve this command line without --reload in a child, restarted on every change."""
    import sys

    from rolloutctl.agent.loader import examples_dir
    from rolloutctl.server.reload import reload_dirs, serve_with_reload

    if parse_workers(workers) > 1:
        raise InputError("--reload serves one worker: give no --workers")
    args = [arg for arg in sys.argv[1:] if arg != "--reload"]
    dirs = reload_dirs(target, examples_dir() if example and not target else None)
    serve_with_reload(args, dirs)


def parse_workers(value: str) -> int:
    """--workers as a number of processes; a bad value is a usage error (exit 2)."""
    from rolloutctl.server.workers import worker_count

    try:
        return worker_count(value)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def refuse_invalid(agent: object) -> None:
    """Exit 2 listing validate's static errors, so no rollout has to fail to show them.

    A `tools()` that needs the rollout's metadata (V003) is no reason to refuse: the
    banner says so, and `validate --metadata` checks such an agent.
    """
    from rolloutctl.errors import InputError
    from rolloutctl.validate.report import Severity
    from rolloutctl.validate.validator import dry_run_request, static_findings

    _, findings = static_findings(agent, dry_run_request())  # type: ignore[arg-type]
    errors = [f for f in findings if f.severity is Severity.ERROR and f.code != "V003"]
    if errors:
        lines = "".join(f"\n  {f.code} {f.message} (fix: {f.fix})" for f in errors)
        raise InputError(
            f"the agent has {len(errors)} error(s) that validate reports; "
            f"--no-validate serves it anyway:{lines}"
        )
