"""The `@tool` decorator: a plain Python function becomes an OpenAI function tool.

The schema comes from the function's type hints and docstring, so the declaration the
trainer sees and the code that runs can never disagree.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import re
import types
from collections.abc import Callable
from typing import Any, get_type_hints, overload

from pydantic import TypeAdapter, ValidationError

from rolloutctl.errors import ToolArgumentError

__all__ = ["Tool", "tool"]

_ARG_LINE = re.compile(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


class Tool:
    """A callable tool with its OpenAI function schema.

    A sync function runs in a worker thread, so a tool that blocks (sleeps, reads a
    file, calls a web API with requests) holds up its own rollout and no other.
    On a method, `self` is not a parameter: reading the tool from an instance
    gives a copy bound to it (a descriptor, like a function's own binding).
    """

    runs_on_server = True
    """False for a tool the agent only declares and runs itself: nothing to call or inspect."""

    def __init__(
        self, func: Callable[..., Any], name: str | None = None, description: str | None = None
    ) -> None:
        self.func = func
        self.name = name or func.__name__
        summary, arg_docs = _parse_docstring(inspect.getdoc(func) or "")
        self.description = description or summary
        self._method = next(iter(inspect.signature(func).parameters), None) == "self"
        self._adapters, self.parameters = _build_parameters(func, arg_docs, self._method)
        self._is_async = inspect.iscoroutinefunction(func)

    def __get__(self, instance: object, owner: type | None = None) -> Tool:
        if instance is None or not self._method:
            return self
        bound = copy.copy(self)
        bound.func = types.MethodType(self.func, instance)
        bound._method = False
        return bound

    def schema(self) -> dict[str, Any]:
        """The OpenAI `ToolSchema` sent in the 202 of init."""
        function = {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }
        return {"type": "function", "function": function}

    async def call(self, arguments: dict[str, Any]) -> str:
        """Validate `arguments`, run the function, and return its result as text."""
        kwargs = self._validate(arguments)
        if self._is_async:
            result = await self.func(**kwargs)
        else:
            result = await asyncio.to_thread(self.func, **kwargs)
        return result if isinstance(result, str) else json.dumps(result, default=str)

    def _validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(arguments) - set(self._adapters))
        if unknown:
            raise ToolArgumentError(f"unexpected argument(s): {', '.join(unknown)}")
        missing = [n for n in self.parameters.get("required", []) if n not in arguments]
        if missing:
            raise ToolArgumentError(f"missing required argument(s): {', '.join(missing)}")
        try:
            return {k: self._adapters[k].validate_python(v) for k, v in arguments.items()}
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ToolArgumentError(f"argument {first['loc']}: {first['msg']}") from None

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"


@overload
def tool(
    func: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> Tool: ...


@overload
def tool(
    func: None = None, *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Decorate a sync or async function as a `Tool` (`@tool` or `@tool(name=...)`)."""
    if func is None:
        return lambda f: Tool(f, name=name, description=description)
    return Tool(func, name=name, description=description)


def _build_parameters(
    func: Callable[..., Any], arg_docs: dict[str, str], method: bool
) -> tuple[dict[str, TypeAdapter[Any]], dict[str, Any]]:
    """Adapters and the `parameters` schema; nested models share one root `$defs`.

    Generated together, the `$ref`s of every parameter point at `#/$defs/...` of the
    parameters object itself, where the definitions are, and names cannot clash.
    """
    hints = get_type_hints(func)
    params = list(inspect.signature(func).parameters.values())[1 if method else 0 :]
    adapters = {p.name: TypeAdapter(hints.get(p.name, Any)) for p in params}
    schemas, definitions = TypeAdapter.json_schemas(
        [(name, "validation", adapter) for name, adapter in adapters.items()],
        ref_template="#/$defs/{model}",
    )
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in params:
        properties[param.name] = _property_schema(
            schemas[(param.name, "validation")], arg_docs.get(param.name)
        )
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        else:
            properties[param.name]["default"] = param.default
    parameters = {"type": "object", "properties": properties, "required": required}
    if definitions.get("$defs"):
        parameters["$defs"] = {n: _drop_titles(d) for n, d in definitions["$defs"].items()}
    return adapters, parameters


def _property_schema(generated: dict[str, Any], doc: str | None) -> dict[str, Any]:
    schema = _drop_titles(generated)
    if doc:
        schema["description"] = doc
    return schema


def _drop_titles(schema: Any) -> Any:
    """Pydantic adds a `title` to every schema; models do better without the noise."""
    if isinstance(schema, dict):
        return {
            k: (
                {n: _drop_titles(p) for n, p in v.items()}
                if k in ("properties", "$defs")
                else _drop_titles(v)
            )
            for k, v in schema.items()
            if k != "title"
        }
    if isinstance(schema, list):
        return [_drop_titles(item) for item in schema]
    return schema


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its summary and `Args:` descriptions."""
    summary, _, rest = doc.partition("\n\n")
    arg_docs: dict[str, str] = {}
    in_args = False
    for line in rest.splitlines():
        if line.strip().lower() in ("args:", "arguments:", "parameters:"):
            in_args = True
        elif in_args and (match := _ARG_LINE.match(line)):
            arg_docs[match.group(1)] = match.group(2).strip()
    return " ".join(summary.split()), arg_docs
