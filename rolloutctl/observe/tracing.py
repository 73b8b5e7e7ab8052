"""OpenTelemetry traces: when they are on, and how a server's spans are made and sent.

On when the standard OTLP endpoint variables are set, or when asked (`--otel`). The
sampler, the id generator and the resource are the SDK's, read from the standard OTEL_*
variables; the sampler is asked once per rollout, before anything else, so a rollout it
leaves out costs nothing more.

A sampled rollout's spans are never the SDK's live `Span` objects (a lock, attribute
validation, the processors and a context per span): each is encoded to OTLP bytes
once, when it ends (`otlp_wire`, a fifth of the OTLP exporter's own encoding cost),
and handed to `BoundedSpanQueue`. Its thread joins them into requests and sends
them through the OTLP/HTTP exporter's client, so endpoint, headers, TLS, compression,
timeout and retries follow the exporter's OTEL_EXPORTER_OTLP_* variables. Only a
server with tracing on imports this module (and so OpenTelemetry).
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Mapping
from typing import NamedTuple

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    TraceFlags,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from rolloutctl import __version__
from rolloutctl.observe.export_health import ExportHealth
from rolloutctl.observe.otlp_wire import (
    encode_request,
    encode_resource,
    encode_scope,
    ids_around,
)
from rolloutctl.observe.span_queue import BoundedSpanQueue, Count
from rolloutctl.observe.trace_headers import TraceHeaders

__all__ = ["CLIENT", "INTERNAL", "SERVER", "Begun", "Tracing", "remote_parent"]

_PROPAGATOR = TraceContextTextMapPropagator()
_ALWAYS_ON = {
    ALWAYS_ON.get_description(),
    ParentBased(ALWAYS_ON).get_description(),  # type: ignore[no-untyped-call]
}
INTERNAL, SERVER, CLIENT = 1, 2, 3  # OTLP's SpanKind numbers
# a traceparent's flags after the span id: sampled, and whether the trace id is random
_SAMPLED = b"-%02x\r\n" % TraceFlags.SAMPLED
_SAMPLED_RANDOM = b"-%02x\r\n" % (TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)


class Begun(NamedTuple):
    """A sampled rollout, as its spans need it, encoded once: the OTLP fields before a
    span's own id (its trace id) and after it (the trace state); the `traceparent` (and
    `tracestate`) header lines, as the bytes before and after a span id in hex; the
    rollout's own span id, and its remote parent's (b"": none)."""

    before: bytes
    state: bytes
    header: tuple[bytes, bytes]
    root: bytes
    parent: bytes


def _resource(default_service: str) -> Resource:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win; `default_service` otherwise."""
    resource = Resource.create({"service.version": __version__})
    name = str(resource.attributes.get(SERVICE_NAME, ""))
    if not name or name.startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service}))
    return resource


def remote_parent(trace: TraceHeaders | None) -> SpanContext | None:
    """The span an init's W3C `traceparent` names, when it is valid, with its `tracestate`
    (which the SDK's samplers carry on to the rollout's spans and callbacks)."""
    if trace is None:
        return None
    carrier = {"traceparent": trace.traceparent.decode("latin-1")}
    if trace.tracestate:
        carrier["tracestate"] = trace.tracestate.decode("latin-1")
    context = _PROPAGATOR.extract(carrier)
    parent = get_current_span(context).get_span_context()
    return parent if parent.is_valid else None


def _header(trace_id: bytes, random: bool, state: str) -> tuple[bytes, bytes]:
    before = b"traceparent: 00-" + binascii.hexlify(trace_id) + b"-"
    after = _SAMPLED_RANDOM if random else _SAMPLED
    return before, after + (b"tracestate: %s\r\n" % state.encode("latin-1") if state else b"")


def _delay(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds between exports of a queue short of a batch: OTEL_BSP_SCHEDULE_DELAY (ms),
    5 s by default as for the SDK's batch processor. Each export is an HTTP request whose
    cost does not shrink with the batch, which matters when few rollouts are sampled."""
    value = environ.get("OTEL_BSP_SCHEDULE_DELAY", "")
    try:
        return max(float(value), 1.0) / 1000 if value else 5.0
    except ValueError:
        return 5.0


class Tracing:
    """One app's sampler, span ids and export queue (OTLP/HTTP)."""

    def __init__(
        self,
        default_service: str,
        dropped: Count,
        failed: Count,
        endpoint: str | None = None,
        queue_size: int = 8192,
    ) -> None:
        """`endpoint`: the OTLP/HTTP traces URL; without it, the OTEL_* variables say."""
        resource = _resource(default_service)
        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self.sampler, self.new_id = provider.sampler, provider.id_generator.generate_span_id
        self._ids = provider.id_generator
        self._random = self._ids.is_trace_id_random()  # a property of the generator
        self._always_on = self.sampler.get_description() in _ALWAYS_ON
        self._head = encode_resource(resource.attributes), encode_scope("rolloutctl", __version__)
        self._schema = resource.schema_url
        client = OTLPSpanExporter(endpoint=endpoint)._client  # its transport, not its encoder
        self._send, self._close = client.export, client.shutdown
        self._health = ExportHealth(client)
        self.queue = BoundedSpanQueue(self._export, dropped, failed, queue_size, delay=_delay())

    def _export(self, spans: list[bytes]) -> bool:
        """On the queue's thread: one request, through the OTLP exporter's own client."""
        result = self._send(encode_request(*self._head, spans, self._schema))
        self._health.saw(result)
        return result.success

    def begin(self, name: str, trace: TraceHeaders | None) -> Begun | None:
        """A rollout's trace and span, or None when the rollout is not sampled."""
        parent = remote_parent(trace)
        if parent is None:
            trace_id, random = self._ids.generate_trace_id(), self._random
        else:
            trace_id, random = parent.trace_id, parent.trace_flags.random_trace_id
        state = self._sampled(name, trace_id, parent)
        if state is None:
            return None
        trace_bytes = trace_id.to_bytes(16, "big")
        before, state_field = ids_around(trace_bytes, state)
        parent_id = parent.span_id.to_bytes(8, "big") if parent is not None else b""
        header = _header(trace_bytes, random, state)
        return Begun(before, state_field, header, self.span_id(), parent_id)

    def _sampled(self, name: str, trace_id: int, parent: SpanContext | None) -> str | None:
        """The trace state of a rollout the sampler takes; None for one it leaves out.

        A rollout has no parent but its init's `traceparent`, so the sampler sees an
        empty context without one. The SDK's default sampler (parent-based, always on)
        and always_on take every such rollout with no trace state: not asked then.
        """
        if parent is None:
            if self._always_on:
                return ""
            context = Context()
        else:
            context = set_span_in_context(NonRecordingSpan(parent))
        decision = self.sampler.should_sample(context, trace_id, name, SpanKind.SERVER)
        if decision.decision is not Decision.RECORD_AND_SAMPLE:
            return None
        return decision.trace_state.to_header() if decision.trace_state else ""

    def span_id(self) -> bytes:
        """A new span's 8-byte id, from the SDK's id generator."""
        return self.new_id().to_bytes(8, "big")

    def shutdown(self) -> None:
        """Export what is queued, within a bound, and stop the export thread."""
        self.queue.shutdown()
        self._close()
