"""The OTLP receiver the trace tests export to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import run_server
from tests.otlp_receiver import OtlpReceiver


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver of this test's own; `receiver.url` is its base URL. The
    servers the test starts export every 0.1 s (the standard variable), not every 5 s."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    receiver = OtlpReceiver()
    with run_server(receiver) as url:
        receiver.url = url
        yield receiver
        receiver.release()
