"""Do these arguments fit a tool's JSON Schema? The checks a person typing them needs.

The human policy asks for tool arguments at the keyboard; a typo should be caught
before the call reaches the agent. This covers what tool schemas use in practice:
required and unknown properties, the basic types, `enum`/`const`, array items,
nested objects and local `$ref`s; `anyOf`/`oneOf` pass when any branch does. It is
no full validator (formats, patterns and bounds are left to the tool itself).
"""

from __future__ import annotations

from typing import Any

from rolloutctl.schema.arguments import MAX_DEPTH, resolved_schema

__all__ = [
    "argument_problems",
]

_TYPES: dict[str, Any] = {
    "string": str,
    "boolean": bool,
    "object": dict,
    "array": list,
    "null": type(None),
}


def argument_problems(
    value: Any, schema: Any, root: Any = None, at: str = "", depth: int = 0
) -> list[str]:
    """Why `value` does not fit `schema` (one line each, naming the field); [] when it does."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return []
    schema = resolved_schema(schema, root)
    where = at or "arguments"
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            branches = [argument_problems(value, s, root, at, depth + 1) for s in schema[key]]
            if all(branches):
                return branches[0]
    if "const" in schema and value != schema["const"]:
        return [f"{where} must be {schema['const']!r}"]
    if isinstance(schema.get("enum"), list) and value not in schema["enum"]:
        return [f"{where} must be one of {', '.join(map(repr, schema['enum']))}"]
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []
    if kinds and not any(_is(value, k) for k in kinds):
        return [f"{where} must be {' or '.join(kinds)}, not {_json_type(value)}"]
    if isinstance(value, dict):
        return _object_problems(value, schema, root, at, depth)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [
            problem
            for index, item in enumerate(value)
            for problem in argument_problems(
                item, schema["items"], root, f"{where}[{index}]", depth + 1
            )
        ]
    return []


def _object_problems(
    value: dict[str, Any], schema: dict[str, Any], root: Any, at: str, depth: int
) -> list[str]:
    declared = schema.get("properties")
    properties: dict[str, Any] = declared if isinstance(declared, dict) else {}
    prefix = f"{at}." if at else ""
    problems = [
        f"{prefix}{name} is required" for name in schema.get("required") or [] if name not in value
    ]
    if schema.get("additionalProperties") is False:
        problems += [
            f"{prefix}{name} is not a parameter" for name in value if name not in properties
        ]
    for name, item in value.items():
        if name in properties:
            problems += argument_problems(item, properties[name], root, prefix + name, depth + 1)
    return problems


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    expected = _TYPES.get(kind)
    return expected is None or isinstance(value, expected)


def _json_type(value: Any) -> str:
    for name, python in (("boolean", bool), ("integer", int), ("number", float), ("string", str),
                         ("array", list), ("object", dict)):  # fmt: skip
        if isinstance(value, python):
            return name
    return "null"
