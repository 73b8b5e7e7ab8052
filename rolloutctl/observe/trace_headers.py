"""An init's W3C trace context, as its headers carried it.

The server reads the two headers of every init (a loop over the headers it has
already parsed) and hands them on untouched; only a tracing observer parses them
(`tracing.remote_parent`), so a server without tracing never does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["TraceHeaders", "trace_headers"]


class TraceHeaders(NamedTuple):
    """`traceparent`, and `tracestate` (b"" when the init sent none)."""

    traceparent: bytes
    tracestate: bytes = b""


def trace_headers(headers: Iterable[tuple[bytes, bytes]]) -> TraceHeaders | None:
    """The trace context of a request's (lowercase) headers; None without a `traceparent`.

    Several `tracestate` lines are one list, joined by commas as W3C Trace Context says.
    """
    parent, states = None, []
    for name, value in headers:
        if name == b"traceparent":
            parent = value
        elif name == b"tracestate":
            states.append(value)
    return None if parent is None else TraceHeaders(parent, b",".join(states))
