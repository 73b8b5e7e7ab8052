"""OpenTelemetry traces: when they are on, and how a server's spans are made and sent.

On when the standard OTLP endpoint variables are set, or when asked (`--otel`). The
sampler is the SDK's, read from the standard OTEL_TRACES_SAMPLER variables, and is asked
once per rollout, before anything else: a rollout it leaves out costs nothing more.

A sampled rollout's spans are not the SDK's live `Span` objects, which cost tens of
microseconds each (a lock, attribute validation, the processors, a context per child),
but the SDK's `ReadableSpan`, made once when each span ends, with its attributes as
set once, and handed to `BoundedSpanQueue`: exporting (the OTLP/HTTP exporter's
protobuf encoding and the request) happens on its thread and never waits on the
receiver. Only a server with tracing on imports this module (and so OpenTelemetry).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from rolloutctl import __version__
from rolloutctl.observe.span_queue import BoundedSpanQueue, Count

__all__ = [
    "UNSET",
    "Event",
    "SpanContext",
    "SpanKind",
    "Status",
    "Tracing",
    "error_status",
    "remote_parent",
]

_PROPAGATOR = TraceContextTextMapPropagator()
UNSET = Status(StatusCode.UNSET)


def error_status(message: str) -> Status:
    return Status(StatusCode.ERROR, message[:200])


class _Resource(Resource):
    """A resource hashed once: the exporter hashes it for every span it encodes."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource.attributes, resource.schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


def _resource(default_service: str) -> Resource:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win; `default_service` otherwise."""
    resource = Resource.create({"service.version": __version__})
    name = str(resource.attributes.get(SERVICE_NAME, ""))
    if not name or name.startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service}))
    return _Resource(resource)


def remote_parent(traceparent: bytes | None) -> SpanContext | None:
    """The span a W3C `traceparent` names, when it is valid."""
    if not traceparent:
        return None
    context = _PROPAGATOR.extract({"traceparent": traceparent.decode("latin-1")})
    parent = get_current_span(context).get_span_context()
    return parent if parent.is_valid else None


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
        queue_size: int = 2048,
    ) -> None:
        """`endpoint`: the OTLP/HTTP traces URL; without it, the OTEL_* variables say."""
        provider = TracerProvider(resource=_resource(default_service), shutdown_on_exit=False)
        self.sampler, self.ids = provider.sampler, provider.id_generator
        self.resource = provider.resource
        self.scope = InstrumentationScope("rolloutctl", __version__)
        exporter = OTLPSpanExporter(endpoint=endpoint)
        self.queue = BoundedSpanQueue(exporter, dropped, failed, queue_size, delay=_delay())

    def begin(
        self, name: str, traceparent: bytes | None
    ) -> tuple[SpanContext, SpanContext | None] | None:
        """A rollout's span context and its parent's, or None when it is not sampled."""
        parent = remote_parent(traceparent)
        if parent is None:
            trace_id, context = self.ids.generate_trace_id(), None
            random = self.ids.is_trace_id_random()
        else:
            trace_id, random = parent.trace_id, parent.trace_flags.random_trace_id
            context = set_span_in_context(NonRecordingSpan(parent))
        decision = self.sampler.should_sample(context, trace_id, name, SpanKind.SERVER)
        if decision.decision is not Decision.RECORD_AND_SAMPLE:
            return None
        flags = TraceFlags(TraceFlags.SAMPLED | (TraceFlags.RANDOM_TRACE_ID if random else 0))
        span_id = self.ids.generate_span_id()
        return SpanContext(trace_id, span_id, False, flags, decision.trace_state), parent

    def child(self, of: SpanContext) -> SpanContext:
        """A new span's context in the trace of `of`."""
        return SpanContext(
            of.trace_id, self.ids.generate_span_id(), False, of.trace_flags, of.trace_state
        )

    @staticmethod
    def header(span: SpanContext) -> bytes:
        """The header lines that make `span` the parent of the callee's spans (W3C)."""
        ids = span.trace_id, span.span_id, span.trace_flags
        line = b"traceparent: 00-%032x-%016x-%02x\r\n" % ids
        if span.trace_state:
            line += b"tracestate: %s\r\n" % span.trace_state.to_header().encode("latin-1")
        return line

    def ended(
        self,
        name: str,
        kind: SpanKind,
        span: tuple[SpanContext, SpanContext | None],
        times: tuple[int, int],
        attributes: dict[str, Any],
        events: list[Event] | tuple[()] = (),
        status: Status = UNSET,
    ) -> None:
        """An ended span (`span`: its context and its parent's; `times`: start, end in ns)."""
        context, parent = span
        readable = ReadableSpan(
            name, context, parent, self.resource, attributes, events, (), kind,
            None, status, times[0], times[1], self.scope,
        )  # fmt: skip
        self.queue.on_end(readable)

    def shutdown(self) -> None:
        """Export what is queued, within a bound, and stop the export thread."""
        self.queue.shutdown()
