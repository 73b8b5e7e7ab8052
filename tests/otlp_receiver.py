"""A real OTLP/HTTP trace receiver: POST /v1/traces, protobuf decoded with opentelemetry-proto.

Written from the OTLP specification's facts (path, content type, message types), not
from rolloutctl's code. `hold()` makes it keep every request waiting, as a stalled
collector would, until `release()`.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from rolloutctl.trainer.asgi import read_body


def plain(value: AnyValue) -> Any:
    """An OTLP attribute value as the Python value it carries."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [plain(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    events: list[str]
    status_code: int
    trace_state: str = ""
    resource: dict[str, Any] = field(default_factory=dict)


def _received(request: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    received = []
    for resource_spans in request.resource_spans:
        resource = {a.key: plain(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                received.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        kind=span.kind,
                        attributes={a.key: plain(a.value) for a in span.attributes},
                        events=[e.name for e in span.events],
                        status_code=span.status.code,
                        trace_state=span.trace_state,
                        resource=resource,
                    )
                )
    return received


class OtlpReceiver:
    """ASGI app collecting spans; `spans` grows as exports arrive (thread-safe reads), and
    `received` counts them."""

    def __init__(self) -> None:
        self._spans: list[ReceivedSpan] = []
        self._decoded: list[ExportTraceServiceRequest] = []  # not yet made ReceivedSpans
        self.url = ""  # set by whoever serves it
        self.requests = self.received = 0  # requests taken, spans in them
        self.headers: list[dict[str, str]] = []  # of each export request, names lowercase
        self._changed = threading.Condition()
        self._open = threading.Event()
        self._open.set()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                kind = (await receive())["type"]
                await send({"type": kind + ".complete"})
                if kind == "lifespan.shutdown":
                    return
        body = await read_body(receive)
        status = 404
        if scope["path"] == "/v1/traces" and scope["method"] == "POST":
            status = 200
            while not self._open.is_set():  # a stalled collector: nothing answered
                await asyncio.sleep(0.02)
            sent = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            self.headers.append(sent)
            if sent.get("content-encoding") == "gzip":  # OTLP/HTTP receivers take gzip
                body = gzip.decompress(body)
            self._store(ExportTraceServiceRequest.FromString(body))
        answer = ExportTraceServiceResponse().SerializeToString()
        headers = [(b"content-type", b"application/x-protobuf")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def _store(self, request: ExportTraceServiceRequest) -> None:
        """Keep the decoded request; its spans become `ReceivedSpan`s when read (a bench
        sends tens of thousands, and a receiver making objects of them all as they came
        would take CPU from the server and trainer it measures)."""
        count = sum(len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans)
        with self._changed:
            self.requests += 1
            self.received += count
            self._decoded.append(request)
            self._changed.notify_all()

    @property
    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far, in the order they came."""
        with self._changed:
            for request in self._decoded:
                self._spans.extend(_received(request))
            self._decoded.clear()
            return list(self._spans)

    def wait_for(self, count: int, trace_id: str | None = None, timeout: float = 60) -> list:
        """Block until `count` spans (of `trace_id`, if given) have arrived; return them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [s for s in self.spans if trace_id in (None, s.trace_id)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(found)} of {count} spans arrived in {timeout} s")
                self._changed.wait(left)
