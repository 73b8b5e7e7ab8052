"""`rolloutctl validate`."""

from __future__ import annotations

from typing import Annotated

import typer

from rolloutctl.cli.options import (
    Example,
    JsonFlag,
    MetadataJson,
    PlainFlag,
    Target,
    env_names,
    parse_metadata,
    resolve_agent,
    use_plain,
)

__all__ = ["EPILOG", "validate"]

EPILOG = (
    "Exit status: 0 valid, 1 invalid (an error finding, including a failed dry rollout), "
    "2 the agent cannot be loaded, 3 the dry run's servers could not start. Finding codes: "
    "docs/commands.md#rolloutctl-validate.\n\n"
    "\b\nExample:\n"
    "  rolloutctl validate my_agent.py:agent --json"
)


def validate(
    ctx: typer.Context,
    target: Target = None,
    example: Example = None,
    timeout: Annotated[
        float,
        typer.Option(
            min=0.1,
            envvar=env_names("TIMEOUT", scope="VALIDATE"),
            help="Seconds the dry rollout may take.",
        ),
    ] = 30.0,
    metadata: MetadataJson = None,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
) -> int:
    """Check an agent before serving it.

    Loads TARGET the way serve does; checks its name, each tool's schema, that run is
    async and that async code makes no blocking call it can see; then calls every tool
    once with arguments built from its schema, and runs one dry rollout in this process
    against the mock trainer's echo policy.
    """
    import json

    from rolloutctl.eventloop import run_interruptible
    from rolloutctl.status import ExitStatus
    from rolloutctl.trajectory.render import make_console
    from rolloutctl.validate.report import render_validation_report
    from rolloutctl.validate.validator import validate_agent

    agent = resolve_agent(target, example)
    debug = bool(ctx.find_root().params.get("debug"))
    report = run_interruptible(validate_agent(agent, timeout, parse_metadata(metadata), debug))
    if json_output:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=repr))
    else:
        render_validation_report(report, make_console(use_plain(plain)))
    return ExitStatus.SUCCESS if report.valid else ExitStatus.FAILURE
