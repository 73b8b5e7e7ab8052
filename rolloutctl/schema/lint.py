"""A structural check of JSON Schema documents, for tool parameters.

Not a full metaschema validation (the `jsonschema` package is not a dependency):
it catches what agent authors actually get wrong, such as a Python type name in
`type`, `required` as a string, or `properties` that are not schemas, and names
the path of the first offending keyword.

Three severities, because servers in the wild differ in how wrong they are:
`schema_problems` are errors (a trainer cannot use the schema), `schema_warnings`
are sloppiness every trainer we know tolerates (a null `enum` or `description`, as
SDK 0.2's pydantic models serialise them; a property without `type`), and `sdk02_notes`
name what the Osmosis SDK 0.2 trainers' tool schema model refuses although it is valid
JSON Schema (`anyOf`, a non-string `enum`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rolloutctl.schema.arguments import resolve_ref

__all__ = ["JSON_TYPES", "dangling_refs", "schema_problems", "schema_warnings", "sdk02_notes"]

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
_TYPED_BY = ("type", "$ref", "enum", "const", "not", *_SCHEMA_LISTS)  # keywords that fix a type
Rule = Callable[[Any, str], list[str]]


def schema_problems(schema: Any, path: str = "parameters") -> list[str]:
    """Every structural problem of `schema` as "path: what is wrong" (empty when fine)."""
    return _visit(schema, path, _node_problems, shapes=True)


def schema_warnings(schema: Any, path: str = "parameters") -> list[str]:
    """Deviations a trainer tolerates in practice: a null `enum`, a schema with no type."""
    return _visit(schema, path, _node_warnings, shapes=False)


def sdk02_notes(parameters: Any, path: str = "parameters") -> list[str]:
    """What an SDK 0.2 trainer's tool model refuses: each property needs one string `type`
    (so no `anyOf`/`oneOf`/`allOf`, no list of types) and an `enum` of strings only."""
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    notes = []
    for name, prop in properties.items() if isinstance(properties, dict) else ():
        where = f"{path}.properties.{name}"
        if not isinstance(prop, dict):
            continue
        combined = [key for key in ("anyOf", "oneOf", "allOf") if key in prop]
        if combined or not isinstance(prop.get("type"), str):
            shown = combined[0] if combined else f"type {prop.get('type')!r}"
            notes.append(f"{where}: {shown} where SDK 0.2 trainers want one string type")
        enum = prop.get("enum")
        if isinstance(enum, list) and not all(isinstance(value, str) for value in enum):
            notes.append(f"{where}.enum: values other than strings, which SDK 0.2 trainers refuse")
    return notes


def _visit(schema: Any, path: str, rule: Rule, shapes: bool) -> list[str]:
    """`rule` on `schema` and every subschema, in document order; with `shapes`, also
    what is wrong with the containers of subschemas themselves."""
    found = rule(schema, path)
    if not isinstance(schema, dict):
        return found
    for key in _SCHEMA_MAPS:
        if key in schema:
            found += _visit_map(schema[key], f"{path}.{key}", rule, shapes)
    for key in _SCHEMA_LISTS:
        if key in schema:
            found += _visit_list(schema[key], f"{path}.{key}", rule, shapes)
    for key in _SCHEMAS:
        if key in schema:
            found += _visit(schema[key], f"{path}.{key}", rule, shapes)
    items = schema.get("items")
    if isinstance(items, list):
        found += _visit_list(items, f"{path}.items", rule, shapes)
    elif "items" in schema:
        found += _visit(items, f"{path}.items", rule, shapes)
    return found


def _visit_map(value: Any, path: str, rule: Rule, shapes: bool) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: must be an object of schemas, not {_kind(value)}"] if shapes else []
    return [p for name, sub in value.items() for p in _visit(sub, f"{path}.{name}", rule, shapes)]


def _visit_list(value: Any, path: str, rule: Rule, shapes: bool) -> list[str]:
    if not isinstance(value, list) or not value:
        return [f"{path}: must be a non-empty list of schemas"] if shapes else []
    return [p for i, sub in enumerate(value) for p in _visit(sub, f"{path}[{i}]", rule, shapes)]


def _node_problems(schema: Any, path: str) -> list[str]:
    """The keywords of one schema whose value is not a schema: type, required, enum, strings."""
    if isinstance(schema, bool):
        return []
    if not isinstance(schema, dict):
        return [f"{path}: a schema must be an object or a boolean, not {_kind(schema)}"]
    problems = _type_problems(schema.get("type"), path) if "type" in schema else []
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(n, str) for n in required):
        problems.append(f"{path}.required: must be a list of property names")
    elif len(set(required)) != len(required):
        problems.append(f"{path}.required: names a property more than once")
    enum = schema.get("enum")
    if enum is not None and not (isinstance(enum, list) and enum):  # null: a warning
        problems.append(f"{path}.enum: must be a non-empty list")
    problems += [  # null: a warning
        f"{path}.{key}: must be a string, not {_kind(schema[key])}"
        for key in _STRINGS
        if schema.get(key) is not None and not isinstance(schema[key], str)
    ]
    return problems


def _node_warnings(schema: Any, path: str) -> list[str]:
    if not isinstance(schema, dict) or not schema:  # {} and true mean "anything": on purpose
        return []
    found = []
    for key, wanted in (("enum", "a list"), *((key, "a string") for key in _STRINGS)):
        if key in schema and schema[key] is None:
            found.append(f"{path}.{key}: null (JSON Schema wants {wanted}; treated as absent)")
    if not any(schema.get(key) is not None for key in _TYPED_BY):
        found.append(f"{path}: no type")
    return found


def _type_problems(declared: Any, path: str) -> list[str]:
    names = declared if isinstance(declared, list) else [declared]
    wrong = [n for n in names if not isinstance(n, str) or n not in JSON_TYPES]
    if not wrong and names:
        return []
    shown = ", ".join(repr(n) for n in wrong) or "an empty list"
    return [f"{path}.type: {shown} is not a JSON Schema type"]


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
