"""The `rolloutctl` Typer application: the root options and every command, registered in order.

Heavy modules are imported inside the commands so that `rolloutctl --help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from rolloutctl import __version__
from rolloutctl.cli.commands import (
    bench,
    check,
    completions,
    diff,
    eval_,
    export,
    init,
    mock_trainer,
    replay,
    serve,
    try_,
    validate,
    view,
    watch,
)
from rolloutctl.cli.options import env_names

__all__ = ["app", "root"]

app = typer.Typer(
    name="rolloutctl",
    help="Build, try and debug servers of the Remote Rollout Protocol v1.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl try --example calculator\n"
    "  rolloutctl serve --example calculator --port 9000\n"
    "  rolloutctl serve my_agent.py:agent --max-concurrent 500\n"
    "  rolloutctl mock-trainer --port 9001 --policy echo\n"
    "  rolloutctl replay run.json --step 2\n"
    "  rolloutctl check http://127.0.0.1:9000\n"
    "  rolloutctl validate my_agent.py:agent\n"
    "  rolloutctl bench --example calculator --rollouts 2000 --concurrency 32\n"
    "  rolloutctl init http://127.0.0.1:9000 --trainer-url http://127.0.0.1:9001 --watch\n"
    "  rolloutctl watch http://127.0.0.1:9001\n"
    "  rolloutctl eval data.jsonl --example calculator --concurrency 16\n"
    "  rolloutctl export runs/20261201-120000-data --format openai -o train.jsonl\n"
    "  rolloutctl diff a.json b.json\n"
    "  rolloutctl view runs/\n"
    "  rolloutctl completions bash",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"rolloutctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", envvar=env_names("DEBUG"), help="Show tracebacks of errors.")
    ] = False,
) -> None:
    """Build, try and debug servers of the Remote Rollout Protocol v1."""


for _module, _command in (
    (serve, serve.serve),
    (try_, try_.try_),
    (check, check.check),
    (replay, replay.replay),
    (mock_trainer, mock_trainer.mock_trainer),
    (validate, validate.validate),
    (bench, bench.bench),
    (init, init.init),
    (watch, watch.watch),
    (eval_, eval_.eval_),
    (export, export.export),
    (diff, diff.diff),
    (view, view.view),
    (completions, completions.completions),
):
    app.command(getattr(_module, "NAME", None), epilog=_module.EPILOG)(_command)
