"""The options of the Osmosis SDK 0.3 request fields that v1 has no counterpart for.

`try` (and `eval`) take them with `--protocol osmosis`: the `label` a template-style
grader compares with (`ctx.label`), the agent's and the grader's time limits, and
`extra_fields`. Given with `--protocol v1` they are a usage error, not silently dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from rolloutctl.cli.options import Protocol, env_names, parse_json_object
from rolloutctl.errors import InputError

if TYPE_CHECKING:
    from rolloutctl.trial import OsmosisFields

__all__ = ["AgentTimeout", "ExtraFields", "GraderTimeout", "Label", "osmosis_fields"]

Label = Annotated[
    str | None,
    typer.Option(
        "--label",
        envvar=env_names("LABEL"),
        show_default=False,
        help="With --protocol osmosis: the rollout's label (ground truth), which the server's "
        "grader reads (ctx.label).",
    ),
]
AgentTimeout = Annotated[
    float | None,
    typer.Option(
        "--agent-timeout",
        min=0.001,
        envvar=env_names("AGENT_TIMEOUT"),
        show_default=False,
        help="With --protocol osmosis: agent_timeout_sec, the server's limit on the workflow.",
    ),
]
GraderTimeout = Annotated[
    float | None,
    typer.Option(
        "--grader-timeout",
        min=0.001,
        envvar=env_names("GRADER_TIMEOUT"),
        show_default=False,
        help="With --protocol osmosis: grader_timeout_sec, the server's limit on grading.",
    ),
]
ExtraFields = Annotated[
    str | None,
    typer.Option(
        "--extra-fields",
        envvar=env_names("EXTRA_FIELDS"),
        show_default=False,
        help="With --protocol osmosis: the request's extra_fields, a JSON object.",
    ),
]


def osmosis_fields(
    protocol: Protocol,
    label: str | None,
    agent_timeout: float | None,
    grader_timeout: float | None,
    extra_fields: str | None,
) -> OsmosisFields | None:
    """The 0.3 fields given; a usage error when any is given for v1."""
    given = {"--label": label, "--agent-timeout": agent_timeout,
             "--grader-timeout": grader_timeout, "--extra-fields": extra_fields}  # fmt: skip
    named = [name for name, value in given.items() if value is not None]
    if protocol is not Protocol.OSMOSIS:
        if named:
            raise InputError(f"{', '.join(named)}: only with --protocol osmosis")
        return None
    from rolloutctl.trial import OsmosisFields

    extra = parse_json_object(extra_fields, "--extra-fields")
    return OsmosisFields(label, agent_timeout, grader_timeout, extra)
