"""Is this agent ready to serve? The checks behind `rolloutctl validate`.

Static checks first (name, each tool's schema as the trainer will see it, `run` being
async); then, when they found no error, one real rollout through rolloutctl's own
server and the mock trainer's echo policy, in this process. Problems come back as
coded findings (see `rolloutctl.validate.report.CODES`) instead of exceptions, so
one run reports everything that is wrong at once.
"""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from rolloutctl.agent.context import Agent, RolloutRequest
from rolloutctl.agent.tools import Tool
from rolloutctl.protocol import TOOL_NAME_PATTERN
from rolloutctl.schema.lint import dangling_refs, schema_problems, schema_warnings, sdk02_notes
from rolloutctl.validate.blocking import blocking_calls
from rolloutctl.validate.dry_run import DRY_RUN_MESSAGES, DRY_RUN_TIMEOUT, dry_run
from rolloutctl.validate.report import Finding, Severity, ValidationReport
from rolloutctl.validate.tool_calls import tool_call_findings

__all__ = [
    "blocking_findings",
    "dry_run_request",
    "name_findings",
    "parameters_findings",
    "run_findings",
    "schema_findings",
    "schema_notes",
    "static_findings",
    "tool_findings",
    "tool_schemas",
    "validate_agent",
]

_TOOL_NAME = re.compile(TOOL_NAME_PATTERN)


async def validate_agent(
    agent: Agent,
    timeout: float = DRY_RUN_TIMEOUT,
    metadata: dict[str, Any] | None = None,
    tracebacks: bool = False,
) -> ValidationReport:
    """Check `agent`; the dry rollout may take up to `timeout` seconds.

    `metadata` is what the rollouts carry, for agents whose tools depend on it;
    `tracebacks` writes the tracebacks of the dry rollout's errors to stderr.
    """
    request = dry_run_request(metadata)
    schemas, findings = static_findings(agent, request)
    dry = None
    if not any(f.severity is Severity.ERROR for f in findings):
        server_run = [t for t in agent.tools(request) if t.runs_on_server]
        findings += await tool_call_findings(server_run, timeout)
        dry, dry_findings = await dry_run(agent, timeout, request.metadata, tracebacks)
        findings += dry_findings
    return ValidationReport(_display_name(agent), schemas, findings, dry)


def dry_run_request(metadata: dict[str, Any] | None = None) -> RolloutRequest:
    return RolloutRequest(
        rollout_id="validate", messages=list(DRY_RUN_MESSAGES), metadata=metadata or {}
    )


def static_findings(
    agent: Agent, request: RolloutRequest
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """The tool schemas and every finding that needs no rollout (what `serve` checks too)."""
    schemas, findings = tool_schemas(agent, request)
    findings = name_findings(agent) + findings + tool_findings(schemas) + run_findings(agent)
    return schemas, findings + blocking_findings(agent, request)


def blocking_findings(agent: Agent, request: RolloutRequest) -> list[Finding]:
    """Known blocking calls inside the agent's async methods and async tools."""
    try:
        tools = [t for t in agent.tools(request) if isinstance(t, Tool) and t.runs_on_server]
    except Exception:  # reported as V003 already
        tools = []
    places: list[tuple[Callable[..., Any] | type, str | None]] = [(type(agent), None)]
    places += [(t.func, t.name) for t in tools if inspect.iscoroutinefunction(t.func)]
    return [
        Finding(
            "V013",
            f"{function}() calls {call} at line {line}, which blocks the event loop and "
            "with it every rollout",
            tool,
        )
        for code, tool in places
        for function, call, line in blocking_calls(code)
    ]


def _display_name(agent: Agent) -> str | None:
    name = getattr(agent, "name", None)
    return name if isinstance(name, str) and name.strip() else None


def name_findings(agent: Agent) -> list[Finding]:
    name = _display_name(agent)
    if name is None:
        return [
            Finding(
                "V001",
                f"the agent's name is {getattr(agent, 'name', None)!r}, not a non-empty string",
            )
        ]
    if name == Agent.name:
        return [
            Finding(
                "V002", f"the agent keeps the default name {name!r}, which /health and logs show"
            )
        ]
    return []


def tool_schemas(
    agent: Agent, request: RolloutRequest
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """The ToolSchemas the server would send in the 202, and why some could not be had."""
    try:
        tools = list(agent.tools(request))
    except Exception as exc:
        return [], [Finding("V003", f"tools(request) raised {type(exc).__name__}: {exc}")]
    results = [_schema_of(index, item) for index, item in enumerate(tools)]
    schemas = [result for result in results if isinstance(result, dict)]
    return schemas, [result for result in results if isinstance(result, Finding)]


def _schema_of(index: int, item: Any) -> dict[str, Any] | Finding:
    """The item's ToolSchema, or the finding that says why it has none."""
    if not isinstance(item, Tool):
        kind = type(item).__name__
        return Finding("V004", f"tools(request) item {index} is a {kind}, not a Tool")
    try:
        schema = item.schema()
    except Exception as exc:
        return Finding("V004", f"schema() raised {type(exc).__name__}: {exc}", item.name)
    function = schema.get("function") if isinstance(schema, dict) else None
    if isinstance(function, dict) and schema.get("type") == "function":
        return schema
    return Finding(
        "V004", 'schema() must return {"type": "function", "function": {...}}', item.name
    )


def tool_findings(schemas: list[dict[str, Any]]) -> list[Finding]:
    """Each schema against the protocol's ToolSchema, plus names used twice."""
    findings = [f for schema in schemas for f in schema_findings(schema)]
    names = Counter(str(s["function"].get("name")) for s in schemas)
    findings += [
        Finding(
            "V006", f"{count} tools are named {name!r}; the model could not tell them apart", name
        )
        for name, count in names.items()
        if count > 1
    ]
    return findings


def schema_findings(schema: dict[str, Any]) -> list[Finding]:
    function = schema["function"]
    name = function.get("name")
    label = str(name)
    findings: list[Finding] = []
    if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
        findings.append(
            Finding("V005", f"tool name {name!r} does not match {TOOL_NAME_PATTERN}", label)
        )
    if not str(function.get("description") or "").strip():
        findings.append(
            Finding(
                "V007",
                f"tool {label!r} has no description, so the model has to guess what it does",
                label,
            )
        )
    return findings + parameters_findings(function.get("parameters"), label)


def parameters_findings(parameters: Any, tool: str) -> list[Finding]:
    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        shown = parameters.get("type") if isinstance(parameters, dict) else parameters
        return [
            Finding(
                "V008",
                f"tool {tool!r}: parameters must be a JSON Schema with "
                f"type 'object', got {shown!r}",
                tool,
            )
        ]
    try:
        json.dumps(parameters, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return [Finding("V010", f"tool {tool!r}: parameters are not JSON: {exc}", tool)]
    dangling = [
        Finding("V014", f"tool {tool!r}: $ref {ref!r} does not resolve within the parameters", tool)
        for ref in dangling_refs(parameters)
    ]
    return (
        [
            Finding("V009", f"tool {tool!r}: {problem}", tool)
            for problem in schema_problems(parameters)
        ]
        + dangling
        + schema_notes(parameters, tool)
    )


def schema_notes(parameters: dict[str, Any], tool: str) -> list[Finding]:
    """Warnings only: what trainers tolerate, and what SDK 0.2 trainers refuse."""
    found = [Finding("V015", f"tool {tool!r}: {w}", tool) for w in schema_warnings(parameters)]
    return found + [Finding("V030", f"tool {tool!r}: {n}", tool) for n in sdk02_notes(parameters)]


def run_findings(agent: Agent) -> list[Finding]:
    if type(agent).run is Agent.run:
        return [Finding("V012", "run(ctx) is not implemented (Agent.run raises)")]
    if not inspect.iscoroutinefunction(agent.run):
        return [Finding("V011", "run(ctx) is not an async function; the server awaits it")]
    return []
