"""Reading an init's W3C trace context headers (the server's side; tracing parses them)."""

from __future__ import annotations

from rolloutctl.observe.trace_headers import TraceHeaders, trace_headers


def test_a_traceparent_and_its_tracestate_lines_are_read_together() -> None:
    headers = [
        (b"tracestate", b"a=1"),
        (b"content-type", b"application/json"),
        (b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        (b"tracestate", b"b=2"),
    ]
    found = trace_headers(headers)
    assert found == TraceHeaders(
        b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", b"a=1,b=2"
    )


def test_without_a_traceparent_there_is_no_trace_context() -> None:
    assert trace_headers([(b"tracestate", b"a=1"), (b"host", b"x")]) is None
    assert trace_headers([(b"traceparent", b"00-x-y-01")]) == TraceHeaders(b"00-x-y-01", b"")
