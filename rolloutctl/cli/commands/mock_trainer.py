"""`rolloutctl mock-trainer`."""

from __future__ import annotations

from typing import Annotated

import typer

from rolloutctl.cli.options import (
    Model,
    NoMetrics,
    PolicyName,
    ScriptFile,
    Upstream,
    UpstreamKeyEnv,
    env_names,
    trainer_config,
)

__all__ = ["EPILOG", "NAME", "mock_trainer"]

NAME = "mock-trainer"
EPILOG = (
    "Routes: POST /v1/chat/completions and POST /v1/rollout/completed (the protocol's "
    "callbacks); GET /v1/rollout/completed/ID (the completion received, 404 before it); "
    "GET /v1/rollouts?limit=N (newest first, default 100); GET /v1/events?rollout_id=ID "
    "(server-sent events of every exchange, all rollouts without rollout_id); GET /health; "
    "GET /metrics (Prometheus: chat calls, completions, violations by rule, policy time). "
    "Watch it with 'rolloutctl watch URL'. Exit status: 0 stopped by Ctrl-C or SIGTERM; "
    "2 usage error; 3 the port cannot be bound.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl mock-trainer --port 9001 --policy echo --fail-rate 0.1 --seed 7\n"
    "  rolloutctl mock-trainer --policy script --script answers.jsonl --json"
)


def mock_trainer(
    host: Annotated[
        str, typer.Option(envvar=env_names("HOST"), help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, envvar=env_names("PORT", scope="TRAINER"), help="Port to listen on."
        ),
    ] = 9001,
    policy: PolicyName = "calculator",
    script: ScriptFile = None,
    upstream: Upstream = None,
    model: Model = None,
    upstream_key_env: UpstreamKeyEnv = None,
    latency_ms: Annotated[
        float,
        typer.Option(min=0, envvar=env_names("LATENCY_MS"), help="Added to every chat answer."),
    ] = 0.0,
    fail_rate: Annotated[
        float,
        typer.Option(
            min=0, max=1, envvar=env_names("FAIL_RATE"), help="Fraction of chat calls answered 503."
        ),
    ] = 0.0,
    fail_completed_rate: Annotated[
        float,
        typer.Option(
            min=0,
            max=1,
            envvar=env_names("FAIL_COMPLETED_RATE"),
            help="Fraction of completions answered 503 (and not recorded).",
        ),
    ] = 0.0,
    expect_callback_key: Annotated[
        str | None,
        typer.Option(
            envvar=env_names("EXPECT_CALLBACK_KEY"),
            show_default=False,
            help="Refuse callbacks without 'Authorization: Bearer KEY' (401): the rollouts' "
            "callback key, their init's api_key.",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            envvar=env_names("SEED"),
            show_default=False,
            help="Seed of the fault injection (--fail-rate, --fail-completed-rate): the same "
            "seed fails the same calls.",
        ),
    ] = None,
    no_metrics: NoMetrics = False,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json", envvar=env_names("JSON"), help="One JSON line per exchange on stdout."
        ),
    ] = False,
) -> None:
    """Run a mock trainer: chat answers without a model."""
    from rolloutctl.trainer.console import serve_trainer

    config = trainer_config(
        policy,
        script,
        upstream,
        model,
        upstream_key_env,
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        fail_completed_rate=fail_completed_rate,
        expect_api_key=expect_callback_key,
        seed=seed,
        metrics=not no_metrics,
    )
    serve_trainer(config, host=host, port=port, json_lines=json_output)
