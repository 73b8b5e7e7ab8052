"""Every command and option of `rolloutctl`, declared in one place.

Each command turns its options into library calls and nothing more; heavy modules
are imported inside the commands so that `rolloutctl --help` stays fast.
Options read `ROLLOUTCTL_<OPTION>` from the environment; the command line wins over
the environment, which wins over the default.
"""

from __future__ import annotations

from typing import Annotated

import typer

from rolloutctl import __version__

app = typer.Typer(
    name="rolloutctl",
    help="Build, try and debug servers of the Remote Rollout Protocol v1.\n\n"
    "Examples:\n\n"
    "  rolloutctl try --example calculator\n\n"
    "  rolloutctl serve --example calculator --port 9000\n\n"
    "  rolloutctl serve my_agent.py:agent --max-concurrent 500",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _env(name: str, *legacy: str) -> list[str]:
    return [f"ROLLOUTCTL_{name}", *legacy]


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"rolloutctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    """Build, try and debug servers of the Remote Rollout Protocol v1."""


Target = Annotated[str | None, typer.Argument(
    help="Agent to serve: 'package.module:attr' or 'path/to/file.py:attr' (attr defaults to "
    "'agent'); an Agent subclass or instance.", show_default=False)]
Example = Annotated[str | None, typer.Option(
    "--example", "-e", envvar=_env("EXAMPLE"),
    help="Serve a bundled example agent instead of TARGET: calculator or echo.")]


def resolve_agent(target: str | None, example: str | None):  # noqa: ANN201 - Agent, lazily
    """The agent named by TARGET or --example (exactly one of them)."""
    from rolloutctl.cli.core import CommandError
    from rolloutctl.loader import load_agent, load_example

    if bool(target) == bool(example):
        raise CommandError("give exactly one of TARGET or --example")
    return load_example(example) if example else load_agent(target or "")


@app.command(epilog="Environment: every option reads ROLLOUTCTL_<OPTION> (e.g. ROLLOUTCTL_PORT);"
             " --port, --max-concurrent, --rollout-timeout and --http-timeout also read "
             "ROLLOUT_SERVER_PORT, MAX_CONCURRENT_ROLLOUTS, ROLLOUT_TIMEOUT_SECONDS and "
             "HTTP_CLIENT_TIMEOUT. Precedence: command line, then ROLLOUTCTL_*, then those "
             "deployment variables, then the default.")
def serve(
    target: Target = None,
    example: Example = None,
    host: Annotated[str, typer.Option(envvar=_env("HOST"), help="Address to listen on.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar=_env("PORT", "ROLLOUT_SERVER_PORT"),
                                      help="Port to listen on (0: any free port).")] = 9000,
    max_concurrent: Annotated[int, typer.Option(
        min=1, envvar=_env("MAX_CONCURRENT", "MAX_CONCURRENT_ROLLOUTS"),
        help="Rollouts running at once; the rest wait in a bounded queue.")] = 100,
    max_queue: Annotated[int, typer.Option(
        min=0, envvar=_env("MAX_QUEUE"),
        help="Rollouts waiting for a slot before init answers 503.")] = 10_000,
    rollout_timeout: Annotated[float, typer.Option(
        min=0.001, envvar=_env("ROLLOUT_TIMEOUT", "ROLLOUT_TIMEOUT_SECONDS"),
        help="Seconds a rollout may run before it ends as ERROR timeout.")] = 600.0,
    http_timeout: Annotated[float, typer.Option(
        min=0.001, envvar=_env("HTTP_TIMEOUT", "HTTP_CLIENT_TIMEOUT"),
        help="Seconds one call to the trainer may take.")] = 300.0,
    api_key: Annotated[str | None, typer.Option(
        envvar=_env("API_KEY"), show_default=False,
        help="Require 'Authorization: Bearer KEY' on every route but /health. Prefer the "
        "environment variable: a command line is visible to other users.")] = None,
    allow_callback_host: Annotated[list[str] | None, typer.Option(
        envvar=_env("ALLOW_CALLBACK_HOST"), show_default=False,
        help="Only call back trainers on this host (repeatable; '*.example.com' allowed). "
        "Default: any host.")] = None,
    shutdown_grace: Annotated[float, typer.Option(
        min=0, envvar=_env("SHUTDOWN_GRACE"),
        help="Seconds to let running rollouts finish on shutdown before ending them "
        "as ERROR shutdown.")] = 10.0,
    log_level: Annotated[str, typer.Option(envvar=_env("LOG_LEVEL"),
                                           help="debug, info, warning or error.")] = "info",
    json_logs: Annotated[bool, typer.Option(envvar=_env("JSON_LOGS"),
                                            help="Log JSON lines to stdout.")] = False,
) -> None:
    """Run a RolloutServer for an agent (TARGET or --example)."""
    from dataclasses import replace

    from rolloutctl import serve as serving
    from rolloutctl.client import RetryPolicy
    from rolloutctl.settings import ServerSettings

    agent = resolve_agent(target, example)
    settings = ServerSettings(
        max_concurrent=max_concurrent, max_queue=max_queue, rollout_timeout=rollout_timeout,
        retry=replace(RetryPolicy(), call_timeout=http_timeout), shutdown_grace=shutdown_grace,
        api_key=api_key or None, allow_callback_hosts=tuple(allow_callback_host or ()),
    )
    serving.run(agent, serving.ServeConfig(host=host, port=port, log_level=log_level.lower(),
                                           json_logs=json_logs, settings=settings))

