"""`rolloutctl check`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    from rolloutctl.check.base import ProtocolAdapter

__all__ = ["EPILOG", "check"]

EPILOG = (
    f"Checks: {', '.join(CHECK_NAMES)}.\n\n"
    "Each judges its own rule: a check whose precondition could not be met (no usable tool, "
    "every init refused) is SKIP with the reason. Findings have three severities: FAIL breaks "
    "a rule of the protocol; ADVISORY is a security finding (a secret echoed back), WARN a "
    "lint finding trainers tolerate (a null description in a tool schema); both are shown "
    "and in --json, and fail the run only with --strict. ERROR is a bug in rolloutctl itself, "
    "never the server's fault. A server that answers 401 gets one line: give its key with "
    "--server-key. Not visible from outside, so not checked: "
    "what the server does on shutdown (SIGTERM must still end running rollouts with a "
    "completion), the rollout time limit and the trainer call timeout (minutes by default), "
    "and what it logs.\n\n"
    f"With --protocol osmosis: {', '.join(OSMOSIS_CHECK_NAMES)}.\n\n"
    "Exit status: 0 no rule broken (skipped checks, an absent status endpoint, advisories and "
    "warnings are fine without --strict); 1 a check failed; 2 usage error, or the server "
    "wants another key (401); 3 the server cannot be reached; 4 internal error (a bug in "
    "rolloutctl).\n\n"
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
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            envvar=env_names("STRICT"),
            help="Fail (exit 1) on security advisories and lint warnings too, not only on "
            "broken protocol rules.",
        ),
    ] = False,
) -> int:
    """Check any running RolloutServer for conformance.

    Plays the trainer from outside: sends inits, answers the server's chat calls from
    scripts and judges what comes back, each rule on its own.
    """
    from rolloutctl.check import results
    from rolloutctl.check.base import CheckOptions
    from rolloutctl.check.engine import run_checks
    from rolloutctl.check.report import render_check_report, report_json
    from rolloutctl.eventloop import run_interruptible
    from rolloutctl.trajectory.render import make_console

    adapter = _adapter(protocol)
    try:
        base_url = checked_url(url, "SERVER_URL")
        options = CheckOptions(
            api_key=server_key or None,
            timeout=timeout,
            trainer_host=trainer_host,
            only=results.parse_only(only, adapter.names),
            metadata=parse_metadata(metadata),
            strict=strict,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    report = run_interruptible(run_checks(adapter, base_url, options))
    if json_output:
        typer.echo(report_json(report))
    else:
        render_check_report(report, make_console(use_plain(plain)), use_plain(plain))
    return report.exit_status


def _adapter(protocol: Protocol) -> ProtocolAdapter[Any]:
    """The protocol's adapter; the Osmosis one imports the SDK, so only when asked for."""
    if protocol is Protocol.OSMOSIS:
        from rolloutctl.osmosis.check.adapter import OsmosisAdapter

        return OsmosisAdapter()
    from rolloutctl.check.v1.adapter import V1Adapter

    return V1Adapter()
