"""`rolloutctl mock-trainer`."""

from __future__ import annotations

from typing import Annotated

import typer

from rolloutctl.cli.options import (
    Model,
    PolicyName,
    ScriptFile,
    Upstream,
    UpstreamKeyEnv,
    env_names,
    trainer_config,
)

__all__ = ["EPILOG", "NAME", "mock_trainer"]

NAME = "mock-trainer"
EPILOG = "\b\nExample:\n  rolloutctl mock-trainer --port 9001 --policy echo --fail-rate 0.1"


def mock_trainer(
    host: Annotated[
        str, typer.Option(envvar=env_names("HOST", scope="TRAINER"), help="Address to listen on.")
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
    )
    serve_trainer(config, host=host, port=port, json_lines=json_output)
