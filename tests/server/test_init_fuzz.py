"""Hypothesis throws init bodies at a real server: never a 5xx, always healthy.

Bounded (a few hundred cases, no deadline) so it holds on a busy machine. Bodies are
near-valid inits with fields swapped for arbitrary JSON, plus raw bytes, plus the
non-JSON numbers (NaN, Infinity, 1e400) that JSON parsers disagree on.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import run_server
from tests.recording_trainer import RecordingTrainer

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
FIELDS = ["rollout_id", "server_url", "messages", "completion_params", "api_key", "max_turns",
          "max_tokens_total", "tool_server_url", "metadata"]  # fmt: skip
ODD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "[" * 300 + "]" * 300]


@pytest.fixture(scope="module")
def urls():
    from rolloutctl.agent.loader import load_example
    from rolloutctl.server.app import create_app
    from rolloutctl.server.settings import ServerSettings
    from tests.conftest import FAST_RETRY

    trainer = RecordingTrainer()
    with run_server(trainer.app) as trainer_url:
        app = create_app(load_example("calculator"), ServerSettings(retry=FAST_RETRY))
        with run_server(app) as server_url, httpx.Client(base_url=server_url, timeout=30) as client:
            yield client, trainer_url


def body_from(data, trainer_url: str, raw: bytes | None) -> bytes:
    if raw is not None:
        return raw
    base = {
        "rollout_id": "fuzz",
        "server_url": trainer_url,
        "messages": [{"role": "user", "content": "What is 5 + 3?"}],
    }
    field, value, odd = data
    if field is not None:
        base[field] = value
    text = json.dumps(base)
    return (text.replace('"What is 5 + 3?"', odd) if odd else text).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.tuples(
        st.none() | st.sampled_from(FIELDS),
        JSON,
        st.none() | st.sampled_from(ODD_NUMBERS),
    ),
    raw=st.none() | st.binary(max_size=200),
    rollout_id=st.text(min_size=1, max_size=40),
)  # fmt: skip
def test_no_init_body_gets_a_5xx(urls, data, raw, rollout_id):
    client, trainer_url = urls
    body = body_from(data, trainer_url, raw)
    if isinstance(body, str):
        body = body.encode()
    body = body.replace(b'"fuzz"', json.dumps(rollout_id).encode(), 1)
    response = client.post("/v1/rollout/init", content=body)
    assert response.status_code in (202, 413, 422), response.text[:300]
    if response.status_code == 202:
        status = client.get(f"/v1/rollout/{quote(rollout_id, safe='')}")
        # ids such as "." and ".." are normalised away by the URL: 307 to the
        # collection's path, or 404
        assert status.status_code in (200, 307, 404)
    assert client.get("/health").json()["status"] == "healthy"
