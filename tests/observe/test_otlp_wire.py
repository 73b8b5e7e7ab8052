"""Our OTLP span encoding against the OpenTelemetry SDK's, both decoded by opentelemetry-proto."""

from __future__ import annotations

import random
from typing import Any, NamedTuple

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from rolloutctl.observe.otlp_wire import (
    encode_attributes,
    encode_event,
    encode_request,
    encode_resource,
    encode_scope,
    encode_span,
    encode_status,
    ids_around,
    parent_field,
    span_head,
    span_tail,
)

RESOURCE = Resource({"service.name": "rolloutctl", "deployment.environment": "test"}, "s://x")
SCOPE = InstrumentationScope("rolloutctl", "9.9")


class SpanRecord(NamedTuple):
    """A span as plain values (`kind`, `status_code`: OTLP's enum numbers)."""

    name: str
    kind: int
    trace_id: int
    span_id: int
    parent_id: int  # 0: none
    parent_remote: bool
    trace_state: str
    start: int
    end: int
    attributes: dict[str, Any]
    events: tuple[tuple[str, int, dict[str, Any]], ...]
    status_code: int
    status_message: str


def encoded(span: SpanRecord) -> bytes:
    """The span as the server encodes it."""
    before, after = ids_around(span.trace_id.to_bytes(16), span.trace_state)
    parent = parent_field(span.parent_id.to_bytes(8) if span.parent_id else b"")
    events = b"".join(encode_event(*event) for event in span.events)
    status = encode_status(span.status_code, span.status_message)
    tail = span_tail(events, status, span.parent_remote and bool(span.parent_id))
    return encode_span(
        before, span.span_id.to_bytes(8), after + parent, span_head(span.name, span.kind),
        span.start, span.end, encode_attributes(span.attributes), tail,
    )  # fmt: skip


def a_value(rng: random.Random) -> object:
    return rng.choice(
        [
            "".join(rng.choice('aé€😀 \n"') for _ in range(rng.randrange(0, 300))),
            rng.random() < 0.5,
            rng.randrange(-(2**63), 2**63),
            rng.randrange(0, 200),
            rng.randrange(0, 20000),  # a token count: the 2-byte varint path
            rng.uniform(-1e9, 1e9),
        ]
    )


def attributes(rng: random.Random) -> dict[str, object]:
    names = [f"k.{rng.randrange(50)}", "gen_ai.usage.input_tokens", "k" * rng.randrange(90, 200)]
    return {rng.choice(names): a_value(rng) for _ in range(rng.randrange(0, 6))}


def a_span(rng: random.Random) -> SpanRecord:
    start = rng.randrange(2**62)
    events = tuple((f"e{i}", start + i, attributes(rng)) for i in range(rng.choice([0, 0, 1, 3])))
    code = rng.choice([0, 0, 1, 2])
    return SpanRecord(
        name=rng.choice(["invoke_agent calc", "chat default", "execute_tool ä"]),
        kind=rng.randrange(1, 6),
        trace_id=rng.randrange(1, 2**128),
        span_id=rng.randrange(1, 2**64),
        parent_id=rng.choice([0, rng.randrange(1, 2**64)]),
        parent_remote=rng.random() < 0.5,
        trace_state=rng.choice(["", "vendor=abc,other=1"]),
        start=start,
        end=start + rng.randrange(10**9),
        attributes=attributes(rng),
        events=events,
        status_code=code,
        status_message="it broke" if code == 2 else "",
    )


def readable(span: SpanRecord) -> ReadableSpan:
    """The same span as the SDK holds it."""
    state = TraceState.from_header([span.trace_state]) if span.trace_state else None
    context = SpanContext(span.trace_id, span.span_id, False, TraceFlags(1), state)
    parent = None
    if span.parent_id:
        parent = SpanContext(span.trace_id, span.parent_id, span.parent_remote, TraceFlags(1))
    events = [Event(name, dict(attrs), when) for name, when, attrs in span.events]
    status = Status(StatusCode(span.status_code), span.status_message or None)
    return ReadableSpan(
        span.name, context, parent, RESOURCE, dict(span.attributes), events, (),
        SpanKind(span.kind - 1), None, status, span.start, span.end, SCOPE,
    )  # fmt: skip


def ours(spans: list[SpanRecord]) -> ExportTraceServiceRequest:
    resource = encode_resource(dict(RESOURCE.attributes))
    scope = encode_scope(SCOPE.name, SCOPE.version or "")
    body = encode_request(resource, scope, [encoded(s) for s in spans], RESOURCE.schema_url)
    return ExportTraceServiceRequest.FromString(body)


def sdks(spans: list[SpanRecord]) -> ExportTraceServiceRequest:
    body = encode_spans([readable(s) for s in spans]).SerializeToString()
    return ExportTraceServiceRequest.FromString(body)


@pytest.mark.parametrize("seed", range(40))
def test_a_batch_decodes_to_what_the_sdk_encoder_writes(seed: int) -> None:
    rng = random.Random(seed)
    spans = [a_span(rng) for _ in range(rng.randrange(1, 30))]
    assert ours(spans) == sdks(spans)


def test_a_value_of_another_type_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="not list"):
        encode_attributes({"x": [1, 2]})
