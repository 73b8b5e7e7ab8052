"""What `rolloutctl validate` found: coded findings, the dry rollout, and their rendering.

Every finding code has one severity, one meaning and one fix line, kept in `CODES`, so the
same problem always reads the same way in the terminal, in `--json` and in docs/commands.md
(whose table of codes `scripts/gen_readme.py` builds from `CODES`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from rich.console import Console
from rich.text import Text

__all__ = [
    "CODES",
    "DryRun",
    "Finding",
    "FindingCode",
    "Severity",
    "ValidationReport",
    "render_validation_report",
]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class FindingCode(NamedTuple):
    severity: Severity
    problem: str  # what the code means, for the docs' table
    fix: str  # one line, shown with every finding of the code


_NAME_FIX = 'set a class attribute on the agent: name = "my-agent"'
CODES: dict[str, FindingCode] = {
    "V001": FindingCode(Severity.ERROR, "the agent's name is not a non-empty string", _NAME_FIX),
    "V002": FindingCode(Severity.WARNING, "the agent keeps the default name", _NAME_FIX),
    "V003": FindingCode(
        Severity.ERROR,
        "tools(request) raised",
        "make tools(request) return a list of @tool functions without raising (pass "
        "--metadata JSON when they depend on the rollout's metadata)",
    ),
    "V004": FindingCode(
        Severity.ERROR,
        "a tool is not a Tool, or its schema() fails or is not a function ToolSchema",
        "return Tool objects: decorate each function with @tool (from rolloutctl import tool)",
    ),
    "V005": FindingCode(
        Severity.ERROR,
        "a tool name the protocol refuses",
        'rename the tool with @tool(name="...") using letters, digits, _ '
        "and - (at most 64, not starting with a digit or -)",
    ),
    "V006": FindingCode(
        Severity.ERROR,
        "two tools share a name",
        'give each tool its own name with @tool(name="...")',
    ),
    "V007": FindingCode(
        Severity.WARNING,
        "a tool has no description",
        'give the tool function a docstring, or pass @tool(description="...")',
    ),
    "V008": FindingCode(
        Severity.ERROR,
        "a tool's parameters are not a JSON Schema of type object",
        'declare the parameters as {"type": "object", "properties": '
        "{...}} (a @tool function's arguments do this for you)",
    ),
    "V009": FindingCode(
        Severity.ERROR,
        "a tool's parameter schema has a malformed keyword",
        "correct the keyword at the path shown (types: object, array, "
        "string, number, integer, boolean, null)",
    ),
    "V010": FindingCode(
        Severity.ERROR,
        "a tool's parameter schema holds values that are not JSON",
        "use only JSON values (str, int, float, bool, None, list, dict) "
        "in the schema, defaults included",
    ),
    "V011": FindingCode(
        Severity.ERROR,
        "run(ctx) is not an async function",
        "declare it as `async def run(self, ctx)`",
    ),
    "V012": FindingCode(
        Severity.ERROR,
        "run(ctx) is not implemented",
        "implement `async def run(self, ctx)`, or subclass ToolLoopAgent "
        "for the standard tool loop",
    ),
    "V013": FindingCode(
        Severity.WARNING,
        "async code makes a call that blocks the event loop",
        "use the async form (await asyncio.sleep, httpx.AsyncClient), or make the tool a "
        "plain def: sync tools run in a worker thread",
    ),
    "V014": FindingCode(
        Severity.ERROR,
        "a $ref in a tool's parameters does not resolve within them",
        "put the definitions under the parameters' own $defs (a @tool function's "
        "pydantic arguments do this for you)",
    ),
    "V015": FindingCode(
        Severity.WARNING,
        "a tool's parameter schema is sloppy in a way trainers tolerate (a null enum, no type)",
        'give the schema a "type", and a list or nothing as "enum"',
    ),
    "V020": FindingCode(
        Severity.ERROR,
        "the dry rollout's init was refused or could not be sent",
        "serve the agent with `rolloutctl serve` and read its log for the cause",
    ),
    "V021": FindingCode(
        Severity.ERROR,
        "the dry rollout ended as ERROR",
        "fix what the error names; `rolloutctl try` shows the rollout turn by turn",
    ),
    "V022": FindingCode(
        Severity.ERROR,
        "the dry rollout sent no completion in time",
        "make run() return a RolloutResult within the time limit, or raise --timeout",
    ),
    "V023": FindingCode(
        Severity.ERROR,
        "the dry rollout broke a protocol rule",
        "keep ctx.messages append-only and answer each tool call once, "
        "in order (run_tool_loop does both)",
    ),
    "V024": FindingCode(
        Severity.ERROR,
        "a tool raised when called with arguments built from its schema",
        "make the tool return for the arguments shown, or give its parameters a default "
        "or an enum that validate calls it with",
    ),
    "V025": FindingCode(
        Severity.ERROR,
        "a tool did not return within the time limit",
        "make the tool return within the time limit, or raise --timeout",
    ),
    "V030": FindingCode(
        Severity.WARNING,
        "compatibility note: Osmosis SDK 0.2 trainers refuse this tool schema",
        "give the property one string type (a list without Optional, str instead of "
        "Literal[1, 2]) if such a trainer is to use it",
    ),
}


@dataclass(frozen=True)
class Finding:
    code: str
    message: str  # one line, names the tool when there is one
    tool: str | None = None

    @property
    def severity(self) -> Severity:
        return CODES[self.code].severity

    @property
    def fix(self) -> str:
        return CODES[self.code].fix

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "fix": self.fix,
            "tool": self.tool,
        }


@dataclass
class DryRun:
    """The one rollout run in-process against the mock trainer's echo policy."""

    rollout_id: str
    status: str  # COMPLETED or ERROR from the completion, else "not started"/"no completion"
    finish_reason: str | None = None
    error: str | None = None
    error_category: str | None = None  # of an ERROR completion
    metrics: dict[str, Any] = field(default_factory=dict)
    messages: int = 0
    violations: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ValidationReport:
    agent: str | None
    tools: list[dict[str, Any]]  # the schemas as the 202 of init would carry them
    findings: list[Finding]
    dry_run: DryRun | None  # None: skipped because of the errors found before it

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    @property
    def valid(self) -> bool:
        return self.count(Severity.ERROR) == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "agent": self.agent,
            "tools": self.tools,
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            "findings": [f.to_dict() for f in self.findings],
            "dry_run": asdict(self.dry_run) if self.dry_run else None,
        }


_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow"}


def render_validation_report(report: ValidationReport, console: Console) -> None:
    """The report as text lines; the styles vanish on a plain console."""
    lines = [Text.assemble(("agent     ", "dim"), (report.agent or "(none)", "bold"))]
    lines.append(Text.assemble(("tools     ", "dim"), str(len(report.tools))))
    lines += [_tool_line(schema) for schema in report.tools]
    lines.append(Text.assemble(("dry run   ", "dim"), _dry_run_text(report.dry_run)))
    for finding in report.findings:
        label = f"{finding.severity.value:<8}{finding.code}  "
        lines.append(Text.assemble((label, _STYLE[finding.severity]), finding.message))
        lines.append(Text(f"{'':<14}fix: {finding.fix}", style="dim"))
    errors, warnings = report.count(Severity.ERROR), report.count(Severity.WARNING)
    verdict = f"{'valid' if report.valid else 'invalid'}: {errors} error(s), {warnings} warning(s)"
    lines.append(Text(verdict, style="bold green" if report.valid else "bold red"))
    for line in lines:
        console.print(line, soft_wrap=True)


def _tool_line(schema: dict[str, Any]) -> Text:
    function = schema["function"]
    parameters = function.get("parameters")
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    args = ", ".join(
        f"{name}: {prop.get('type', 'any')}" if isinstance(prop, dict) else str(name)
        for name, prop in (properties.items() if isinstance(properties, dict) else ())
    )
    description = str(function.get("description") or "")
    return Text.assemble(
        "  ", (str(function.get("name")), "cyan"), f"({args})  ", (description, "dim")
    )


def _dry_run_text(dry: DryRun | None) -> str:
    if dry is None:
        return "skipped: fix the errors below first"
    ended = dry.error_category if dry.status == "ERROR" else dry.finish_reason
    if ended is None:  # not started, or no completion
        return dry.status
    calls = (
        f"{dry.metrics.get('num_llm_calls', 0)} LLM call(s), "
        f"{dry.metrics.get('num_tool_calls', 0)} tool call(s)"
    )
    violations = f"{len(dry.violations)} protocol violation(s)"
    return f"{dry.status} ({ended}), {calls}, {dry.messages} messages, {violations}"
