"""`rolloutctl replay`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rolloutctl.cli.options import JsonFlag, PlainFlag, Role, env_names, use_plain
from rolloutctl.errors import InputError

__all__ = ["EPILOG", "replay"]

EPILOG = (
    "Reads rolloutctl trajectory files, bare completion payloads (GET "
    "/v1/rollout/completed/ID) and Osmosis SDK ATIF trajectory.json files.\n\n"
    "\b\nExample:\n"
    "  rolloutctl replay run.json --step 2"
)


def replay(
    file: Annotated[Path, typer.Argument(help="The file to render.", show_default=False)],
    step: Annotated[
        int | None,
        typer.Option(min=1, envvar=env_names("STEP"), show_default=False, help="Show only turn N."),
    ] = None,
    last: Annotated[
        int | None,
        typer.Option(
            min=1,
            envvar=env_names("LAST"),
            show_default=False,
            help="Show only the last K messages.",
        ),
    ] = None,
    role: Annotated[
        Role | None,
        typer.Option(
            envvar=env_names("ROLE"),
            show_default=False,
            help="Show only messages of this role (system, user, assistant, tool).",
        ),
    ] = None,
    no_tools: Annotated[
        bool, typer.Option("--no-tools", envvar=env_names("NO_TOOLS"), help="Hide tool results.")
    ] = False,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
) -> int:
    """Render a saved trajectory again."""
    from rolloutctl.status import ExitStatus
    from rolloutctl.trajectory.document import dumps_trajectory, load_trajectory
    from rolloutctl.trajectory.render import Renderer, make_console

    traj = load_trajectory(file)
    if json_output:
        typer.echo(dumps_trajectory(traj), nl=False)
        return ExitStatus.SUCCESS
    renderer = Renderer(make_console(use_plain(plain)), plain=use_plain(plain))
    try:
        renderer.render_trajectory(
            traj, step=step, last=last, role=role and role.value, show_tools=not no_tools
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    renderer.render_summary(traj)
    return ExitStatus.SUCCESS
