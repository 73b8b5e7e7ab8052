"""OpenTelemetry traces: when they are on, and the spans a server makes.

On when the standard OTLP endpoint variables are set, or when asked (`--otel`). The
provider is the app's own, not the process-global one, so two servers in a process
(tests, `try`) keep their spans apart. Spans leave through `BoundedSpanQueue`:
exporting never waits on the receiver, and what cannot be queued is counted. Only a
server with tracing on imports this module (and so OpenTelemetry).
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from rolloutctl import __version__
from rolloutctl.observe.span_queue import BoundedSpanQueue, Count

__all__ = ["Tracing"]

_PROPAGATOR = TraceContextTextMapPropagator()
_USAGE = (("input_tokens", "prompt_tokens"), ("output_tokens", "completion_tokens"))


def _resource(default_service: str) -> Resource:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win; `default_service` otherwise."""
    resource = Resource.create({"service.version": __version__})
    name = str(resource.attributes.get(SERVICE_NAME, ""))
    if not name or name.startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service}))
    return resource


class Tracing:
    """The tracer of one app, exporting over OTLP/HTTP."""

    def __init__(
        self,
        default_service: str,
        dropped: Count,
        failed: Count,
        endpoint: str | None = None,
        queue_size: int = 2048,
    ) -> None:
        """`endpoint`: the OTLP/HTTP traces URL; without it, the OTEL_* variables say."""
        self.provider = TracerProvider(resource=_resource(default_service))
        exporter = OTLPSpanExporter(endpoint=endpoint)
        self.queue = BoundedSpanQueue(exporter, dropped, failed, queue_size)
        self.provider.add_span_processor(self.queue)
        self.tracer = self.provider.get_tracer("rolloutctl", __version__)

    def root(self, name: str, parent: bytes | None, attributes: dict[str, Any]) -> Span:
        """A rollout's span: a child of the W3C `traceparent` given, if it is valid."""
        context = None
        if parent:
            context = _PROPAGATOR.extract({"traceparent": parent.decode("latin-1")})
        return self.tracer.start_span(
            name, context=context, kind=SpanKind.SERVER, attributes=attributes
        )

    def child(
        self, parent: Span | None, name: str, kind: str, attributes: dict[str, Any]
    ) -> Span | None:
        """A span under `parent`; `kind` is a SpanKind's name."""
        if parent is None:
            return None
        context: Context = set_span_in_context(parent)
        return self.tracer.start_span(
            name, context=context, kind=SpanKind[kind], attributes=attributes
        )

    def tool_span(
        self, parent: Span | None, name: str, call_id: str, content: str, seconds: float
    ) -> None:
        """The span of a tool call that just ended after `seconds`."""
        if parent is None:
            return
        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
        if call_id:
            attributes["gen_ai.tool.call.id"] = call_id
        end = time.time_ns()
        span = self.tracer.start_span(
            f"execute_tool {name}",
            context=set_span_in_context(parent),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=end - int(seconds * 1e9),
        )
        if content.startswith("Error: "):  # how a failed call reaches the model
            self.failed(span, "tool_error", content)
        span.end(end_time=end)

    @staticmethod
    def header(span: Span | None) -> bytes:
        """The `traceparent` header line that makes `span` the parent of the callee's spans."""
        if span is None:
            return b""
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, set_span_in_context(span))
        return b"traceparent: %s\r\n" % carrier["traceparent"].encode()

    @staticmethod
    def failed(span: Span | None, error_type: str, message: str) -> None:
        if span is None:
            return
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR, message[:200]))

    @staticmethod
    def usage(span: Span | None, response: dict[str, Any]) -> None:
        """GenAI usage attributes from what the trainer answered, when it said."""
        if span is None:
            return
        usage = response.get("usage")
        if isinstance(usage, dict):
            for ours, theirs in _USAGE:
                value = usage.get(theirs)
                if isinstance(value, int):
                    span.set_attribute(f"gen_ai.usage.{ours}", value)
        model = response.get("model")
        if isinstance(model, str):
            span.set_attribute("gen_ai.response.model", model)

    def shutdown(self) -> None:
        """Export what is queued, within a bound, and stop the export thread."""
        self.provider.shutdown()
