"""A small valid instance of a JSON Schema: the arguments `rolloutctl check` calls a tool with.

`check` must call tools of servers it knows nothing about, so it reads each tool's
`parameters` and builds the least surprising value that fits: required properties
only, a `default`, `const` or first `enum` value where the schema offers one, and
numbers inside their bounds (1 where allowed, since 0 trips division-like tools).
Local `$ref`s are followed; `anyOf`/`oneOf` take their first branch.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MAX_DEPTH", "resolve_ref", "resolved_schema", "schema_instance"]

MAX_DEPTH = 32  # a recursive schema gets cut here instead of looping forever
_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "check@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def schema_instance(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A value valid against `schema` (a JSON Schema; `root` resolves its `$ref`s)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    schema = resolved_schema(schema, root)
    for key in ("default", "const"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return schema_instance(schema[key][0], root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        return schema_instance(_merged(schema), root, depth + 1)
    return _typed(schema, _type_of(schema), root, depth)


def resolved_schema(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    """Follow a local `$ref` ("#/$defs/Name"); the referring schema's own keys win."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#"):
        return schema
    target = resolve_ref(root, ref)
    if not isinstance(target, dict):
        return {}
    rest = {k: v for k, v in schema.items() if k != "$ref"}
    return {**target, **rest}


def resolve_ref(root: Any, ref: str) -> Any:
    """What the local `$ref` ("#", "#/$defs/Name") points at in `root`, or None."""
    target: Any = root
    for part in ref.lstrip("#").strip("/").split("/") if ref != "#" else []:
        if not isinstance(target, dict):
            return None
        target = target.get(part.replace("~1", "/").replace("~0", "~"))
    return target


def _merged(schema: dict[str, Any]) -> dict[str, Any]:
    """allOf folded into one schema: properties and required united, other keys last wins."""
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for part in (p for p in schema["allOf"] if isinstance(p, dict)):
        properties = {**merged.get("properties", {}), **part.get("properties", {})}
        required = [*merged.get("required", []), *part.get("required", [])]
        merged = {**merged, **part, "properties": properties, "required": required}
    return merged


def _type_of(schema: dict[str, Any]) -> str | None:
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), declared[0] if declared else None)
    if declared is None and ("properties" in schema or "required" in schema):
        return "object"
    if declared is None and ("items" in schema or "prefixItems" in schema):
        return "array"
    return declared if isinstance(declared, str) else None


def _typed(schema: dict[str, Any], kind: str | None, root: Any, depth: int) -> Any:
    if kind == "object":
        properties = schema.get("properties") or {}
        return {
            name: schema_instance(properties.get(name, {}), root, depth + 1)
            for name in schema.get("required") or ()
        }
    if kind == "array":
        return _array(schema, root, depth)
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema)


def _array(schema: dict[str, Any], root: Any, depth: int) -> list[Any]:
    prefix = schema.get("prefixItems") or []
    items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
    size = max(int(schema.get("minItems") or 0), len(prefix))
    return [
        schema_instance(prefix[i] if i < len(prefix) else items, root, depth + 1)
        for i in range(size)
    ]


def _string(schema: dict[str, Any]) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    size = max(int(schema.get("minLength") or 0), 1)
    if isinstance(schema.get("maxLength"), int):
        size = min(size, schema["maxLength"])
    return "x" * size


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    """1 when the bounds allow it, else the first of a few values near the bounds that fits."""
    low = _bound(schema, "minimum", "exclusiveMinimum")
    high = _bound(schema, "maximum", "exclusiveMaximum")
    candidates = [1.0]
    if low:
        candidates += [low[0], low[0] + 1, math.floor(low[0]) + 1]
    if high:
        candidates += [high[0], high[0] - 1, math.ceil(high[0]) - 1]
    if low and high:
        candidates.append((low[0] + high[0]) / 2)
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step > 0:
        candidates = [math.ceil(value / step) * step for value in candidates]
    fits = [
        value
        for value in candidates
        if _inside(value, low, high) and (not integer or float(value).is_integer())
    ]
    value = fits[0] if fits else candidates[-1]
    return int(value) if float(value).is_integer() else value


def _inside(value: float, low: tuple[float, bool] | None, high: tuple[float, bool] | None) -> bool:
    above = low is None or value > low[0] or (value == low[0] and not low[1])
    return above and (high is None or value < high[0] or (value == high[0] and not high[1]))


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str) -> tuple[float, bool] | None:
    """(bound, is_exclusive); draft 4 spells exclusivity as a boolean beside the bound."""
    flag = schema.get(exclusive)
    if isinstance(flag, int | float) and not isinstance(flag, bool):
        return float(flag), True
    value = schema.get(inclusive)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), flag is True
    return None
