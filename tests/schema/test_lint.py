"""Tool schema lint by severity: errors, warnings trainers tolerate, SDK 0.2 compatibility notes."""

from __future__ import annotations

import asyncio
from typing import Literal

from rolloutctl import ToolLoopAgent, tool
from rolloutctl.schema.arguments import schema_instance
from rolloutctl.schema.lint import schema_problems, schema_warnings, sdk02_notes
from rolloutctl.validate.report import CODES, Severity
from rolloutctl.validate.validator import validate_agent

PYDANTIC_DUMP = {  # how an SDK 0.2.7 server sends its tools' parameters
    "type": "object",
    "properties": {
        "a": {"type": "number", "description": "First number", "enum": None},
        "b": {"description": "Second number"},
    },
    "required": ["a", "b"],
}


def test_null_enum_and_missing_type_are_warnings_and_the_schema_stays_usable():
    assert schema_problems(PYDANTIC_DUMP) == []
    assert schema_warnings(PYDANTIC_DUMP) == [
        "parameters.properties.a.enum: null (JSON Schema wants a list; treated as absent)",
        "parameters.properties.b: no type",
    ]
    assert schema_instance(PYDANTIC_DUMP) == {"a": 1, "b": "x"}
    assert schema_problems({"enum": []}) == ["parameters.enum: must be a non-empty list"]
    assert schema_warnings({"type": "object", "properties": {"any": {}}}) == []


def test_sdk02_notes_name_what_its_trainers_refuse():
    parameters = {
        "type": "object",
        "properties": {
            "tags": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
            "level": {"type": "integer", "enum": [1, 2, 3]},
            "mode": {"type": "string", "enum": ["fast", "slow"]},
            "n": {"type": ["integer", "null"]},
        },
    }
    assert sdk02_notes(parameters) == [
        "parameters.properties.tags: anyOf where SDK 0.2 trainers want one string type",
        "parameters.properties.level.enum: values other than strings, which SDK 0.2 trainers "
        "refuse",
        "parameters.properties.n: type ['integer', 'null'] where SDK 0.2 trainers want one "
        "string type",
    ]


@tool
def search(query: str, tags: list[str] | None = None, level: Literal[1, 2, 3] = 1) -> str:
    """Search the notes.

    Args:
        query: what to look for
        tags: only notes with these tags
        level: how deep to look
    """
    return query


class Searcher(ToolLoopAgent):
    name = "searcher"
    tool_list = (search,)


def test_validate_gives_compatibility_notes_as_warnings_not_errors():
    report = asyncio.run(validate_agent(Searcher()))
    notes = [f for f in report.findings if f.code == "V030"]
    assert report.valid and report.count(Severity.WARNING) == 2
    assert [f.severity.value for f in notes] == ["warning", "warning"]
    assert "tags: anyOf" in notes[0].message and "level.enum" in notes[1].message
    assert CODES["V030"].problem.startswith("compatibility note:")
