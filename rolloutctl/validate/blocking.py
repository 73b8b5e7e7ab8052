"""Blocking calls in async agent code, found by reading its source.

A sync `@tool` runs in a worker thread, so it may block. An `async def` runs on the
server's event loop: one `time.sleep` or `requests.get` there stalls every rollout
and /health with it. Only calls spelled out in the source are seen; this is a
hint, not a proof.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["BLOCKING_CALLS", "blocking_calls"]

BLOCKING_CALLS = frozenset(
    {
        "time.sleep",
        "requests.get",
        "requests.post",
        "requests.put",
        "requests.patch",
        "requests.delete",
        "requests.head",
        "requests.request",
        "urllib.request.urlopen",
        "urlopen",
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "os.system",
        "socket.create_connection",
        "input",
    }
)


def blocking_calls(code: Callable[..., Any] | type) -> list[tuple[str, str, int]]:
    """(async function, call, line) for each known blocking call inside an `async def`."""
    try:
        source = textwrap.dedent(inspect.getsource(code))
        first_line = inspect.getsourcelines(code)[1]
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):  # built in, or made at run time
        return []
    return [
        (function.name, name, first_line + call.lineno - 1)
        for function in ast.walk(tree)
        if isinstance(function, ast.AsyncFunctionDef)
        for call, name in _calls(function)
        if name in BLOCKING_CALLS
    ]


def _calls(function: ast.AsyncFunctionDef) -> Iterator[tuple[ast.Call, str]]:
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and (name := _dotted(node.func)):
            yield node, name


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (base := _dotted(node.value)):
        return f"{base}.{node.attr}"
    return None
