"""The standard OTEL_TRACES_SAMPLER variables decide which rollouts are traced."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from rolloutctl.observe.trace_headers import TraceHeaders
from rolloutctl.observe.tracing import Tracing

NAME = "invoke_agent calculator"


@pytest.fixture
def tracing(monkeypatch) -> Iterator:
    """A `Tracing` made after the test set its variables (no span is made or exported)."""
    made: list[Tracing] = []
    counts: list[int] = []

    def make(**variables: str) -> Tracing:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        endpoint = "http://127.0.0.1:9/v1/traces"  # never reached: nothing is queued
        made.append(Tracing("rolloutctl", counts.append, counts.append, endpoint))
        return made[-1]

    yield make
    for one in made:
        one.shutdown()


def parent(sampled: bool) -> tuple[TraceHeaders, bytes]:
    span_id = secrets.token_hex(8)
    header = f"00-{secrets.token_hex(16)}-{span_id}-{'01' if sampled else '00'}"
    return TraceHeaders(header.encode()), bytes.fromhex(span_id)


def test_the_default_sampler_takes_every_rollout_and_follows_a_parent(tracing):
    default = tracing()
    begun = default.begin(NAME, None)
    assert begun is not None and begun.parent == b"" and len(begun.root) == 8
    assert begun.header[1] == b"-03\r\n"  # sampled, random trace id
    header, span_id = parent(sampled=True)
    begun = default.begin(NAME, header)
    assert begun is not None and begun.parent == span_id
    assert default.begin(NAME, parent(sampled=False)[0]) is None


def test_always_off_and_a_ratio_are_honoured(tracing):
    assert tracing(OTEL_TRACES_SAMPLER="always_off").begin(NAME, None) is None
    half = tracing(OTEL_TRACES_SAMPLER="traceidratio", OTEL_TRACES_SAMPLER_ARG="0.5")
    taken = sum(half.begin(NAME, None) is not None for _ in range(400))
    assert 100 < taken < 300
    always = tracing(OTEL_TRACES_SAMPLER="always_on")
    assert always.begin(NAME, parent(sampled=False)[0]) is not None  # no parent-based rule
