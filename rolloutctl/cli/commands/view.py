"""`rolloutctl view`."""

from __future__ import annotations

from typing import Annotated

import typer

from rolloutctl.cli.options import env_names

__all__ = ["EPILOG", "view"]

EPILOG = (
    "PATH is an eval run directory (rolloutctl's, or one `osmosis eval run` wrote), a "
    "directory holding runs (two levels deep, such as .osmosis/evals), a trajectory file "
    "(try --save) or an SDK ATIF trajectory.json; RUN:ROW[:EPOCH] opens one rollout. "
    "Pages: / (runs), /run/RUN (summary and rows), /run/RUN/row/ROW/EPOCH (one rollout), "
    "/compare?a=RUN&b=RUN, /trajectory/FILE. A run still being written updates live. "
    "Exit status: 0 stopped by Ctrl-C or SIGTERM; 2 usage error (a missing PATH, or a "
    "trajectory file it cannot read); 3 the port cannot be bound.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl view runs/\n"
    "  rolloutctl view runs/20261201-120000-arith --open\n"
    "  rolloutctl view runs/20261201-120000-arith:37\n"
    "  rolloutctl view run.json --port 8700"
)


def view(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Runs, directories of runs or trajectory files (default: .).",
            show_default=False,
            metavar="[PATH]...",
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            envvar=env_names("HOST"),
            help="Address to listen on (other than 127.0.0.1 exposes your runs).",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            envvar=env_names("PORT", scope="VIEW"),
            help="Port to listen on (0: a free one).",
        ),
    ] = 0,
    open_browser: Annotated[
        bool,
        typer.Option(
            "--open",
            envvar=env_names("OPEN"),
            help="Open the page in a web browser.",
        ),
    ] = False,
) -> None:
    """Browse eval runs and trajectories in a web browser."""
    from rolloutctl.view.server import parse_targets, serve_view

    serve_view(parse_targets(paths or []), host, port, open_browser, lambda line: typer.echo(line))
