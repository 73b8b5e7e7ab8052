"""A structural check of JSON Schema documents, for tool parameters.

Not a full metaschema validation (the `jsonschema` package is not a dependency):
it catches what agent authors actually get wrong, such as a Python type name in
`type`, `required` as a string, or `properties` that are not schemas, and names
the path of the first offending keyword.
"""

from __future__ import annotations

from typing import Any

from rolloutctl.schema.arguments import resolve_ref

__all__ = ["JSON_TYPES", "dangling_refs", "schema_problems"]

JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMAS = (
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "additionalItems",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
)
_STRINGS = ("description", "title", "format", "pattern", "$ref", "$id", "$schema")


def schema_problems(schema: Any, path: str = "parameters") -> list[str]:
    """Every structural problem of `schema` as "path: what is wrong" (empty when fine)."""
    if isinstance(schema, bool):
        return []
    if not isinstance(schema, dict):
        return [f"{path}: a schema must be an object or a boolean, not {_kind(schema)}"]
    problems = _keyword_problems(schema, path)
    for key in _SCHEMA_MAPS:
        problems += _map_problems(schema, key, path)
    for key in _SCHEMA_LISTS:
        problems += _list_problems(schema, key, path)
    for key in _SCHEMAS:
        if key in schema:
            problems += schema_problems(schema[key], f"{path}.{key}")
    if "items" in schema:
        items = schema["items"]
        if isinstance(items, list):
            problems += _list_problems(schema, "items", path)
        else:
            problems += schema_problems(items, f"{path}.items")
    return problems


def _keyword_problems(schema: dict[str, Any], path: str) -> list[str]:
    """The keywords whose value is not a schema: type, required, enum and the strings."""
    problems = _type_problems(schema.get("type"), path) if "type" in schema else []
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(n, str) for n in required):
        problems.append(f"{path}.required: must be a list of property names")
    elif len(set(required)) != len(required):
        problems.append(f"{path}.required: names a property more than once")
    if "enum" in schema and not (isinstance(schema["enum"], list) and schema["enum"]):
        problems.append(f"{path}.enum: must be a non-empty list")
    problems += [
        f"{path}.{key}: must be a string, not {_kind(schema[key])}"
        for key in _STRINGS
        if key in schema and not isinstance(schema[key], str)
    ]
    return problems


def _type_problems(declared: Any, path: str) -> list[str]:
    names = declared if isinstance(declared, list) else [declared]
    wrong = [n for n in names if not isinstance(n, str) or n not in JSON_TYPES]
    if not wrong and names:
        return []
    shown = ", ".join(repr(n) for n in wrong) or "an empty list"
    return [f"{path}.type: {shown} is not a JSON Schema type"]


def _map_problems(schema: dict[str, Any], key: str, path: str) -> list[str]:
    if key not in schema:
        return []
    value = schema[key]
    if not isinstance(value, dict):
        return [f"{path}.{key}: must be an object of schemas, not {_kind(value)}"]
    return [p for name, sub in value.items() for p in schema_problems(sub, f"{path}.{key}.{name}")]


def _list_problems(schema: dict[str, Any], key: str, path: str) -> list[str]:
    if key not in schema:
        return []
    value = schema[key]
    if not isinstance(value, list) or not value:
        return [f"{path}.{key}: must be a non-empty list of schemas"]
    return [p for i, sub in enumerate(value) for p in schema_problems(sub, f"{path}.{key}[{i}]")]


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def dangling_refs(schema: Any) -> list[str]:
    """Every `$ref` in `schema` that does not resolve within it (the trainer sees only it)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and (
                not ref.startswith("#") or resolve_ref(schema, ref) is None
            ):
                found.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found
