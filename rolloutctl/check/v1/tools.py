"""The tools of a v1 server's 202, judged by severity: which break the protocol's
ToolSchema (errors), which are sloppy in ways trainers accept (warnings), which the
checks can call.

A quirk real trainers accept is a warning, never an error: SDK 0.2.x's pydantic models
serialise `"description": null` and `"enum": null` on every property, and its trainer
took them. A tool with only warnings is called by the behavioural checks like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from rolloutctl.protocol import ToolSchema
from rolloutctl.schema.lint import schema_problems, schema_warnings

__all__ = ["ToolLint", "tool_findings"]

KNOWN_KEYS = frozenset({"name", "description", "parameters"})


@dataclass
class ToolLint:
    errors: list[str] = field(default_factory=list)  # not a ToolSchema: a protocol rule
    warnings: list[str] = field(default_factory=list)  # what trainers tolerate
    notes: list[str] = field(default_factory=list)  # keys the ToolSchema does not have
    callable: list[dict[str, Any]] = field(default_factory=list)  # tools the checks may call

    @classmethod
    def of(cls, tools: Sequence[Any]) -> ToolLint:
        lint = cls()
        for index, tool in enumerate(tools):
            errors, warnings, notes = tool_findings(tool, index)
            lint.errors += errors
            lint.warnings += warnings
            lint.notes += notes
            if not errors:
                lint.callable.append(tool)
        names = [tool["function"]["name"] for tool in lint.callable]
        lint.errors += [
            f"tool {n!r} is declared twice" for n in sorted(set(names)) if names.count(n) > 1
        ]
        return lint


def tool_findings(tool: Any, index: int) -> tuple[list[str], list[str], list[str]]:
    """(errors, warnings, notes) of one entry of a 202's `tools`."""
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict):
        return [f"tools[{index}]: no function object"], [], []
    warnings = [] if isinstance(function.get("description"), str) else ["no description"]
    described = {k: v for k, v in function.items() if not (k == "description" and v is None)}
    try:
        ToolSchema.model_validate({**tool, "function": described})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = function.get("name")
        where = ".".join(str(part) for part in (f"tools[{index}]", *first["loc"]))
        return [f"{where}{f' ({name!r})' if name else ''}: {first['msg']}"], [], []
    name = function["name"]
    errors = [] if tool.get("type") == "function" else ["type is not 'function'"]
    parameters = function.get("parameters")
    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        errors.append("parameters is not a JSON Schema of type 'object'")
    else:
        errors += schema_problems(parameters)
        warnings += schema_warnings(parameters)
    notes = [
        f"function.{key} is not in the protocol's ToolSchema"
        for key in sorted(set(function) - KNOWN_KEYS)
    ]
    errors, warnings = (
        [f"tool {name!r}: {text}" for text in found] for found in (errors, warnings)
    )
    return errors, warnings, [f"note: tool {name!r}: {text}" for text in notes]
