"""The OTLP receiver the trace tests export to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import run_server
from tests.otlp_receiver import OtlpReceiver


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver of this test's own; `receiver.url` is its base URL."""
    receiver = OtlpReceiver()
    with run_server(receiver) as url:
        receiver.url = url
        yield receiver
        receiver.release()
