"""Why an export failed, in a few words, from the OTLP exporter's own client."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from rolloutctl.observe.export_health import why
from tests.helpers import refused_url


def send(endpoint: str):
    """One request through the exporter's client (no retries past its 1 s timeout)."""
    return OTLPSpanExporter(endpoint=endpoint, timeout=1)._client.export(b"")


def test_a_refused_connection_is_named_by_the_systems_error_not_the_pools_text() -> None:
    with refused_url() as down:
        result = send(f"{down}/v1/traces")
    assert not result.success
    assert why(result) == "[Errno 111] Connection refused"


def test_an_http_refusal_is_its_status(receiver) -> None:
    result = send(f"{receiver.url}/not-traces")
    assert not result.success
    assert why(result).startswith(f"HTTP {result.status_code}")
