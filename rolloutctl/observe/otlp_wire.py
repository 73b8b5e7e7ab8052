"""OTLP trace requests encoded straight to protobuf bytes, from plain tuples.

The OTLP exporter's own encoder builds a protobuf message object per span, attribute and
value, and that was most of what tracing every rollout cost the server (about 28 µs a
span). Here a span is a tuple and its bytes are joined from pieces: the wire format of
`opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest` (field numbers and
wire types from opentelemetry-proto's trace, resource and common messages). The tests
decode what this writes with opentelemetry-proto and compare it with the SDK encoder's.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

__all__ = ["SpanRecord", "encode_request", "encode_resource", "encode_scope", "encode_span"]

_FIXED64 = struct.Struct("<Q").pack
_DOUBLE = struct.Struct("<d").pack
_FIXED32 = struct.Struct("<I").pack
_SMALL = [bytes([n]) for n in range(128)]
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200  # Span.flags bits (SpanFlags)
_EMPTY_STATUS = b"\x7a\x00"  # Span.status, present and UNSET, as the SDK's encoder writes it


class SpanRecord(NamedTuple):
    """An ended span, as plain values (`kind`, `status_code`: the OTLP enum numbers)."""

    name: str
    kind: int
    trace_id: int
    span_id: int
    parent_id: int  # 0: no parent
    parent_remote: bool
    trace_state: str  # the W3C tracestate value, "" when there is none
    start: int  # ns since the epoch
    end: int
    attributes: Mapping[str, Any]
    events: tuple[tuple[str, int, Mapping[str, Any]], ...]  # (name, time in ns, attributes)
    status_code: int
    status_message: str


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    n = len(payload)
    return tag + (_SMALL[n] if n < 0x80 else _varint(n)) + payload


def _any_value(value: Any) -> bytes:
    """An AnyValue: string 1, bool 2, int 3 (int64), double 4."""
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)  # negatives: two's complement
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    raise TypeError(f"attribute values are str, bool, int or float, not {type(value).__name__}")


_KEYS: dict[str, bytes] = {}  # a key's encoded field; keys are the code's names, so few


def _attributes(tag: bytes, attributes: Mapping[str, Any]) -> bytes:
    """Repeated KeyValue (key 1, value 2) under `tag`."""
    parts = []
    for key, value in attributes.items():
        head = _KEYS.get(key)
        if head is None:
            head = _KEYS[key] = _field(b"\x0a", key.encode())
        parts.append(_field(tag, head + _field(b"\x12", _any_value(value))))
    return b"".join(parts)


def _event(name: str, time_ns: int, attributes: Mapping[str, Any]) -> bytes:
    body = b"\x09" + _FIXED64(time_ns) + _field(b"\x12", name.encode())
    return _field(b"\x5a", body + _attributes(b"\x1a", attributes))


def encode_span(span: SpanRecord) -> bytes:
    """A `Span` message (without its field tag)."""
    parts = [
        b"\x0a\x10" + span.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + span.span_id.to_bytes(8, "big"),
    ]
    if span.trace_state:
        parts.append(_field(b"\x1a", span.trace_state.encode()))
    if span.parent_id:
        parts.append(b"\x22\x08" + span.parent_id.to_bytes(8, "big"))
    parts += (
        _field(b"\x2a", span.name.encode()),
        b"\x30" + _SMALL[span.kind],
        b"\x39" + _FIXED64(span.start),
        b"\x41" + _FIXED64(span.end),
        _attributes(b"\x4a", span.attributes),
    )
    parts += [_event(*event) for event in span.events]
    parts.append(_status(span.status_code, span.status_message))
    remote = _IS_REMOTE if span.parent_id and span.parent_remote else 0
    parts.append(b"\x85\x01" + _FIXED32(_HAS_IS_REMOTE | remote))
    return b"".join(parts)


def _status(code: int, message: str) -> bytes:
    if not code and not message:
        return _EMPTY_STATUS
    body = _field(b"\x12", message.encode()) if message else b""
    return _field(b"\x7a", body + (b"\x18" + _SMALL[code] if code else b""))


def encode_resource(attributes: Mapping[str, Any]) -> bytes:
    """`ResourceSpans.resource` (field 1), with its tag: once per process."""
    return _field(b"\x0a", _attributes(b"\x0a", attributes))


def encode_scope(name: str, version: str) -> bytes:
    """`ScopeSpans.scope` (field 1), with its tag: once per process."""
    return _field(b"\x0a", _field(b"\x0a", name.encode()) + _field(b"\x12", version.encode()))


def encode_request(resource: bytes, scope: bytes, spans: Iterable[bytes], schema: str) -> bytes:
    """An ExportTraceServiceRequest of one resource and one scope holding `spans`."""
    body = b"".join([_field(b"\x12", span) for span in spans])
    scope_spans = _field(b"\x12", scope + body)
    schema_url = _field(b"\x1a", schema.encode()) if schema else b""
    return _field(b"\x0a", resource + scope_spans + schema_url)
