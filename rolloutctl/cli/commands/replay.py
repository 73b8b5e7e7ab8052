"""`rolloutctl replay`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from rolloutctl.cli.options import (
    FullFlag,
    JsonFlag,
    MaxChars,
    PlainFlag,
    Role,
    VerboseFlag,
    env_names,
    make_renderer,
)
from rolloutctl.errors import InputError
from rolloutctl.trajectory.text import DEFAULT_MAX_CHARS

__all__ = ["EPILOG", "replay"]

EPILOG = (
    "Reads rolloutctl trajectory files, bare completion payloads (GET "
    "/v1/rollout/completed/ID), Osmosis SDK ATIF trajectory.json files and one rollout of an "
    "eval run (RUN:ROW, RUN:ROW:EPOCH), RUN being a rolloutctl eval run or an `osmosis eval "
    "run` directory (or its index.jsonl, the epoch its run_index). With --json and "
    "a filter (--step, --last, --role, --no-tools) it prints the selected messages as a JSON "
    "list of {turn, message}. Exit status: 0 shown; 2 unreadable file or no such turn.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl replay run.json --step 2\n"
    "  rolloutctl replay runs/20261201-120000-data:37\n"
    "  rolloutctl replay .osmosis/evals/arith:3:1\n"
    "  rolloutctl replay run.json --role tool --json"
)


def replay(
    rollout: Annotated[
        str,
        typer.Argument(
            help="The file to render, or RUN:ROW[:EPOCH] for one rollout of an eval run.",
            show_default=False,
        ),
    ],
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
    verbose: VerboseFlag = False,
    max_chars: MaxChars = DEFAULT_MAX_CHARS,
    full: FullFlag = False,
) -> int:
    """Render a saved trajectory again."""
    from rolloutctl.eval.locate import load_rollout
    from rolloutctl.status import ExitStatus
    from rolloutctl.trajectory.builder import select_items, trajectory_items
    from rolloutctl.trajectory.document import dumps_trajectory

    traj = load_rollout(rollout)
    if step is not None and not any(t.get("index") == step for t in traj["turns"]):
        raise InputError(f"no turn {step}: the trajectory has {len(traj['turns'])} turns")
    role_name = role and role.value
    if json_output and (step or last or role_name or no_tools):
        items = select_items(trajectory_items(traj), step, last, role_name, not no_tools)
        chosen = [{"turn": i.step, "message": i.data} for i in items if i.role is not None]
        typer.echo(json.dumps(chosen, indent=2, ensure_ascii=False))
        return ExitStatus.SUCCESS
    if json_output:
        typer.echo(dumps_trajectory(traj), nl=False)
        return ExitStatus.SUCCESS
    renderer = make_renderer(plain, verbose, max_chars, full)
    renderer.render_trajectory(traj, step=step, last=last, role=role_name, show_tools=not no_tools)
    renderer.render_summary(traj)
    return ExitStatus.SUCCESS
