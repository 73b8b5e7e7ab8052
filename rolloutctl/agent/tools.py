"""The `@tool` decorator: a plain Python function becomes an OpenAI function tool.

The schema comes from the function's type hints and docstring, so the declaration the
trainer sees and the code that runs can never disagree.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from typing import Any, get_type_hints

from pydantic import TypeAdapter, ValidationError

from rolloutctl.errors import AgentError

__all__ = ["Tool", "ToolArgumentError", "tool"]

_ARG_LINE = re.compile(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


class ToolArgumentError(AgentError, ValueError):
    """The model sent arguments that do not fit the tool's schema."""


class Tool:
    """A callable tool with its OpenAI function schema."""

    def __init__(
        self, func: Callable[..., Any], name: str | None = None, description: str | None = None
    ) -> None:
        self.func = func
        self.name = name or func.__name__
        summary, arg_docs = _parse_docstring(inspect.getdoc(func) or "")
        self.description = description or summary
        self._adapters, self.parameters = _build_parameters(func, arg_docs)
        self._is_async = inspect.iscoroutinefunction(func)

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
        result = self.func(**kwargs)
        if self._is_async:
            result = await result
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


def tool(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Any:
    """Decorate a sync or async function as a `Tool` (`@tool` or `@tool(name=...)`)."""
    if func is None:
        return lambda f: Tool(f, name=name, description=description)
    return Tool(func, name=name, description=description)


def _build_parameters(
    func: Callable[..., Any], arg_docs: dict[str, str]
) -> tuple[dict[str, TypeAdapter[Any]], dict[str, Any]]:
    hints = get_type_hints(func)
    adapters: dict[str, TypeAdapter[Any]] = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(func).parameters.values():
        adapter = TypeAdapter(hints.get(param.name, Any))
        adapters[param.name] = adapter
        properties[param.name] = _property_schema(adapter, arg_docs.get(param.name))
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        else:
            properties[param.name]["default"] = param.default
    return adapters, {"type": "object", "properties": properties, "required": required}


def _property_schema(adapter: TypeAdapter[Any], doc: str | None) -> dict[str, Any]:
    schema = _drop_titles(adapter.json_schema())
    if doc:
        schema["description"] = doc
    return schema


def _drop_titles(schema: Any) -> Any:
    """Pydantic adds a `title` to every schema; models do better without the noise."""
    if isinstance(schema, dict):
        return {
            k: (
                {n: _drop_titles(p) for n, p in v.items()} if k == "properties" else _drop_titles(v)
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
