"""OTLP trace requests encoded straight to protobuf bytes, a span at a time as it ends.

The OTLP exporter's own encoder builds a protobuf message object per span, attribute
and value (about 28 µs a span here), and that was most of what tracing every rollout
cost the server. Here each span becomes its bytes once, when it ends, joined from
pieces in the wire format of `ExportTraceServiceRequest` (field numbers and wire types
from opentelemetry-proto's trace, resource and common messages); a request is those
bytes joined. The tests decode what this writes with opentelemetry-proto and compare
it with what the SDK's encoder writes for the same spans.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "UNSET_STATUS",
    "Key",
    "encode_attributes",
    "encode_event",
    "encode_request",
    "encode_resource",
    "encode_scope",
    "encode_span",
    "encode_status",
    "ids_around",
    "key",
    "parent_field",
    "span_head",
    "span_tail",
]

_TIMES = struct.Struct("<BQBQ").pack  # Span.start_time_unix_nano (7), end (8): fixed64
_DOUBLE = struct.Struct("<d").pack
_EVENT_TIME = struct.Struct("<BQ").pack
_SMALL = [bytes([n]) for n in range(128)]
_KINDS = [b"\x30" + _SMALL[kind] for kind in range(6)]  # Span.kind (6)
# Span.flags (16, fixed32): "has is_remote", and "is_remote" when the parent is remote
_FLAGS = (b"\x85\x01\x00\x01\x00\x00", b"\x85\x01\x00\x03\x00\x00")
UNSET_STATUS = b"\x7a\x00"  # Span.status present and UNSET, as the SDK's encoder writes it


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    if n < 0x4000:  # a span's length, most often
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_KEPT = 1024  # span lengths whose tag and length bytes are made once (most spans)
_SPAN_TAGS = [b"\x12" + _varint(n) for n in range(_KEPT)]  # ScopeSpans.spans (2)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    n = len(payload)
    return tag + (_SMALL[n] if n < 0x80 else _varint(n)) + payload


def _string(value: str) -> bytes:
    return _field(b"\x0a", value.encode())


def _integer(value: int) -> bytes:
    return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)  # negatives: two's complement


_VALUES: dict[type, Callable[[Any], bytes]] = {  # AnyValue: string 1, bool 2, int 3, double 4
    str: _string,
    bool: lambda value: b"\x10\x01" if value else b"\x10\x00",
    int: _integer,
    float: lambda value: b"\x21" + _DOUBLE(value),
}


def _any_value(value: Any) -> bytes:
    encode = _VALUES.get(type(value))
    if encode is None:  # a subclass (an IntEnum, a str enum): as its base type
        base = next((kind for kind in _VALUES if isinstance(value, kind)), None)
        if base is None:
            kind = type(value).__name__
            raise TypeError(f"attribute values are str, bool, int or float, not {kind}")
        encode = _VALUES[base]
    return encode(value)


class Key:
    """An attribute key encoded once: `key(value)` is its KeyValue field, one join for a
    short string or a small int, the common values of span attributes."""

    __slots__ = ("_heads", "_int", "_key", "_room", "_small", "_tag")

    def __init__(self, name: str, tag: bytes = b"\x4a") -> None:
        self._key, self._tag = _field(b"\x0a", name.encode()), tag
        self._room = len(self._key) + 4  # a KeyValue's bytes besides a short string's
        # a string's bytes are preceded by bytes that depend only on its length: when
        # every length fits one byte, they are made once per length
        self._heads = [
            tag + _SMALL[n + self._room] + self._key + b"\x12" + _SMALL[n + 2] + b"\x0a" + _SMALL[n]
            for n in range(max(0x80 - self._room, 0))
        ]
        self._small = [_field(tag, self._key + _field(b"\x12", _integer(n))) for n in range(128)]
        # the bytes before an int's 2-byte varint (128 to 16383: a token count)
        fits = self._room + 1 < 0x80
        self._int = tag + _SMALL[self._room + 1] + self._key + b"\x12\x03\x18" if fits else b""

    def __call__(self, value: Any) -> bytes:
        kind = type(value)
        if kind is str:
            data, heads = value.encode(), self._heads
            if len(data) < len(heads):
                return heads[len(data)] + data
        elif kind is int and 0 <= value < 0x4000:
            if value < 0x80:
                return self._small[value]
            if self._int:
                return self._int + bytes(((value & 0x7F) | 0x80, value >> 7))
        return _field(self._tag, self._key + _field(b"\x12", _any_value(value)))


_KEYS: dict[tuple[str, bytes], Key] = {}
_NAMES: dict[str, bytes] = {}
_CACHE_LIMIT = 1024  # keys and span names kept: keys come from code, names from tool names


def key(name: str, tag: bytes = b"\x4a") -> Key:
    """The `Key` of `name` under `tag`, made once (up to a bound)."""
    found = _KEYS.get((name, tag))
    if found is None:
        found = Key(name, tag)
        if len(_KEYS) < _CACHE_LIMIT:
            _KEYS[name, tag] = found
    return found


def encode_attributes(attributes: Mapping[str, Any], tag: bytes = b"\x4a") -> bytes:
    """Repeated KeyValue (key 1, value 2) under `tag` (Span.attributes by default)."""
    return b"".join([key(name, tag)(value) for name, value in attributes.items()])


def _name(name: str) -> bytes:
    """Span.name (5), encoded once per name (up to a bound)."""
    found = _NAMES.get(name)
    if found is None:
        found = _field(b"\x2a", name.encode())
        if len(_NAMES) < _CACHE_LIMIT:
            _NAMES[name] = found
    return found


def encode_event(name: str, time_ns: int, attributes: Mapping[str, Any]) -> bytes:
    """A Span.events entry (11): time 1, name 2, attributes 3."""
    body = _EVENT_TIME(0x09, time_ns) + _field(b"\x12", name.encode())
    return _field(b"\x5a", body + encode_attributes(attributes, b"\x1a"))


def encode_status(code: int, message: str) -> bytes:
    """Span.status (15): message 2, code 3 (0 unset, 1 ok, 2 error)."""
    if not code and not message:
        return UNSET_STATUS
    body = _field(b"\x12", message.encode()) if message else b""
    return _field(b"\x7a", body + (b"\x18" + _SMALL[code] if code else b""))


def span_head(name: str, kind: int) -> bytes:
    """A span's name (5) and kind (6) fields: the same bytes for every span of a kind."""
    return _name(name) + _KINDS[kind]


def parent_field(parent: bytes) -> bytes:
    """Span.parent_span_id (4) for the parent's 8-byte id, b"" for none."""
    return b"\x22\x08" + parent if parent else b""


def span_tail(events: bytes, status: bytes, remote_parent: bool) -> bytes:
    """A span's events (11), status (15) and flags (16: whether its parent is remote),
    from `encode_event` and `encode_status`."""
    return events + status + _FLAGS[remote_parent]


def encode_span(
    before: bytes,
    span_id: bytes,
    after: bytes,
    head: bytes,
    start: int,
    end: int,
    attributes: bytes,
    tail: bytes,
) -> bytes:
    """A ScopeSpans.spans entry, tag and length included, in one join.

    `before`, `span_id`, `after`: the trace id, span id, trace state and parent fields
    (`ids_around`, then `parent_field`); `head`: `span_head`; `start`, `end`: ns;
    `attributes`: `encode_attributes` or `Key` calls; `tail`: `span_tail`.
    """
    times = _TIMES(0x39, start, 0x41, end)
    body = b"".join((before, span_id, after, head, times, attributes, tail))
    n = len(body)
    return (_SPAN_TAGS[n] if n < _KEPT else b"\x12" + _varint(n)) + body


def ids_around(trace_id: bytes, trace_state: str) -> tuple[bytes, bytes]:
    """A span's trace_id (1), span_id (2) and trace_state (3) fields, as the bytes before
    and after its 8-byte span id: the same for every span of a trace."""
    state = _field(b"\x1a", trace_state.encode()) if trace_state else b""
    return b"\x0a\x10" + trace_id + b"\x12\x08", state


def encode_resource(attributes: Mapping[str, Any]) -> bytes:
    """`ResourceSpans.resource` (field 1), with its tag: once per process."""
    return _field(b"\x0a", encode_attributes(attributes, b"\x0a"))


def encode_scope(name: str, version: str) -> bytes:
    """`ScopeSpans.scope` (field 1), with its tag: once per process."""
    return _field(b"\x0a", _field(b"\x0a", name.encode()) + _field(b"\x12", version.encode()))


def encode_request(resource: bytes, scope: bytes, spans: list[bytes], schema: str) -> bytes:
    """An ExportTraceServiceRequest of one resource and one scope holding `spans`: the
    lengths first, then one join (the spans are copied once)."""
    inner = len(scope) + sum(map(len, spans))
    scope_head = b"\x12" + _varint(inner)  # ResourceSpans.scope_spans (2)
    schema_url = _field(b"\x1a", schema.encode()) if schema else b""
    size = len(resource) + len(scope_head) + inner + len(schema_url)
    return b"".join([b"\x0a", _varint(size), resource, scope_head, scope, *spans, schema_url])
