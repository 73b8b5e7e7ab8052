"""`rolloutctl check`."""

from __future__ import annotations

from typing import Annotated

import typer

from rolloutctl.check.v1.names import CHECK_NAMES
from rolloutctl.cli.options import (
    JsonFlag,
    MetadataJson,
    PlainFlag,
    Protocol,
    ProtocolOption,
    ServerKey,
    checked_url,
    env_names,
    parse_metadata,
    use_plain,
)
from rolloutctl.errors import InputError
from rolloutctl.osmosis.check.names import OSMOSIS_CHECK_NAMES

__all__ = ["EPILOG", "check"]

EPILOG = (
    f"Checks: {', '.join(CHECK_NAMES)}.\n\n"
    "Each judges its own rule: a check whose precondition could not be met (no usable tool, "
    "every init refused) is SKIP with the reason. Not visible from outside, so not checked: "
    "what the server does on shutdown (SIGTERM must still end running rollouts with a "
    "completion), the rollout time limit and the trainer call timeout (minutes by default), "
    "and what it logs.\n\n"
    f"With --protocol osmosis: {', '.join(OSMOSIS_CHECK_NAMES)}.\n\n"
    "Exit status: 0 no check failed (skipped checks and an absent status endpoint are fine); "
    "1 a check failed; 2 usage error; 3 the server cannot be reached.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl check http://127.0.0.1:9000\n"
    "  rolloutctl check http://10.0.0.5:9000 --trainer-host 10.0.0.7 --only bearer,idempotency "
    "--json"
)


def check(
    url: Annotated[
        str, typer.Argument(help="Base URL of the RolloutServer to check.", show_default=False)
    ],
    only: Annotated[
        str | None,
        typer.Option(
            envvar=env_names("ONLY"),
            show_default=False,
            help="Run only these checks: comma-separated names (listed below).",
        ),
    ] = None,
    server_key: ServerKey = None,
    trainer_host: Annotated[
        str,
        typer.Option(
            envvar=env_names("TRAINER_HOST"),
            help="Address the in-process mock trainer listens on; the server under test must "
            "reach it there for callbacks.",
        ),
    ] = "127.0.0.1",
    timeout: Annotated[
        float,
        typer.Option(
            min=0.1,
            envvar=env_names("TIMEOUT", scope="CHECK"),
            help="Seconds to wait for each rollout's completion.",
        ),
    ] = 30.0,
    metadata: MetadataJson = None,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
    protocol: ProtocolOption = Protocol.V1,
) -> int:
    """Check any running RolloutServer for conformance.

    Plays the trainer from outside: sends inits, answers the server's chat calls from
    scripts and judges what comes back, each rule on its own.
    """
    from rolloutctl.check.report import render_check_report, report_json
    from rolloutctl.check.v1 import suite as checking
    from rolloutctl.eventloop import run_interruptible
    from rolloutctl.status import ExitStatus
    from rolloutctl.trajectory.render import make_console

    osmosis = protocol is Protocol.OSMOSIS
    if osmosis:
        from rolloutctl.osmosis.check.suite import run_osmosis_checks
    names = OSMOSIS_CHECK_NAMES if osmosis else CHECK_NAMES
    try:
        base_url = checked_url(url, "SERVER_URL")
        options = checking.CheckOptions(
            api_key=server_key or None,
            timeout=timeout,
            trainer_host=trainer_host,
            only=checking.parse_only(only, names),
            metadata=parse_metadata(metadata),
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    run = run_osmosis_checks if osmosis else checking.run_checks
    report = run_interruptible(run(base_url, options))
    if json_output:
        typer.echo(report_json(report))
    else:
        render_check_report(report, make_console(use_plain(plain)), use_plain(plain))
    return ExitStatus.SUCCESS if report.passed else ExitStatus.FAILURE
