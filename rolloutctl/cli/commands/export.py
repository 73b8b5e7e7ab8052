"""`rolloutctl export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rolloutctl.cli.options import env_names
from rolloutctl.eval.export_format import ExportFormat

EPILOG = (
    "SOURCE is a trajectory file (as try --save writes), an eval run directory or its "
    "results.jsonl, or an `osmosis eval run` directory or its index.jsonl. Output goes to "
    "stdout unless --output is given; for atif, one source prints one document (replay "
    "reads it), several print one document per line, and --output DIR writes "
    "DIR/<rollout_id>/trajectory.json each.\n\n"
    "Exit status: 0 at least one rollout exported; 1 none matched; 2 unreadable input.\n\n"
    "\b\nExample:\n"
    "  rolloutctl export runs/20261201-120000-arith --format openai --only-completed "
    "--min-reward 1 -o train.jsonl"
)

__all__ = [
    "export",
]


def export(
    source: Annotated[
        Path, typer.Argument(help="A trajectory file or an eval run.", show_default=False)
    ],
    format: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            envvar=env_names("FORMAT"),
            help="openai (fine-tuning chat lines), atif (ATIF v1.7) or jsonl (completions).",
        ),
    ] = ExportFormat.OPENAI,
    only_completed: Annotated[
        bool,
        typer.Option(
            "--only-completed",
            envvar=env_names("ONLY_COMPLETED"),
            help="Skip ERROR rollouts.",
        ),
    ] = False,
    min_reward: Annotated[
        float | None,
        typer.Option(
            envvar=env_names("MIN_REWARD"),
            show_default=False,
            help="Only rollouts whose reward is at least this.",
        ),
    ] = None,
    destination: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            envvar=env_names("OUTPUT"),
            show_default=False,
            help="Write here (a file; for atif, a directory) instead of stdout.",
        ),
    ] = None,
) -> int:
    """Write trajectories as fine-tuning data, ATIF or completions."""
    from rolloutctl.eval.export import write_export
    from rolloutctl.status import ExitStatus

    exported, seen = write_export(source, format, only_completed, min_reward, destination)
    typer.echo(f"rolloutctl: exported {exported} of {seen} rollouts", err=True)
    return ExitStatus.SUCCESS if exported else ExitStatus.FAILURE
