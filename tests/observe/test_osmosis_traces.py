"""Spans of `serve --protocol osmosis` (the SDK's own server), exported to a real receiver."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import httpx
from osmosis_ai.rollout.client import RolloutClient

from rolloutctl.agent.loader import load_example
from rolloutctl.osmosis.serve import create_osmosis_app
from rolloutctl.server.settings import ServerSettings
from rolloutctl.trainer import MockTrainer, TrainerConfig
from rolloutctl.trainer.rollout_chat import chat_base_url
from tests.conftest import FAST_RETRY
from tests.helpers import run_server
from tests.otlp_receiver import OtlpReceiver

QUESTION = [{"role": "user", "content": "What is (5 + 3) * 2?"}]
SERVER, CLIENT, INTERNAL = 2, 3, 1  # OTLP SpanKind values


def test_an_osmosis_rollout_is_one_trace_under_the_inits_traceparent(
    tmp_path: Path, receiver: OtlpReceiver
) -> None:
    settings = ServerSettings(retry=FAST_RETRY, otel_endpoint=f"{receiver.url}/v1/traces")
    app = create_osmosis_app(load_example("calculator"), settings, artifacts_dir=tmp_path)
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    traceparent = f"00-{trace_id}-{parent_id}-01"
    trainer = MockTrainer(TrainerConfig())
    with run_server(trainer.app) as trainer_url, run_server(app) as url:

        async def go() -> None:
            headers = {"traceparent": traceparent, "tracestate": "vendor=o1"}
            http = httpx.AsyncClient(headers=headers)
            client = RolloutClient(url=url, http_client=http)
            try:
                await client.run_rollout(
                    initial_messages=QUESTION,
                    chat_completions_url=chat_base_url(trainer_url, "o1"),
                    rollout_id="o1",
                    label="16",
                )
            finally:
                await client.aclose()
                await http.aclose()

        asyncio.run(go())
        spans = receiver.wait_for(6, trace_id)  # the rollout, 3 chat calls, 2 tool calls
    root = next(s for s in spans if s.name == "invoke_agent calculator")
    assert root.parent_span_id == parent_id and root.kind == SERVER
    assert root.attributes["rollout_id"] == "o1"
    assert root.attributes["rolloutctl.status"] == "COMPLETED"
    children = [s for s in spans if s is not root]
    assert {s.parent_span_id for s in children} == {root.span_id}
    assert {s.trace_state for s in spans} == {"vendor=o1"}  # the init's, carried
    chats = [s for s in children if s.name == "chat default"]
    assert len(chats) == 3 and len({s.span_id for s in chats}) == 3
    assert all(s.kind == CLIENT and s.attributes["gen_ai.operation.name"] == "chat" for s in chats)
    tools = sorted(s.attributes["gen_ai.tool.name"] for s in children if s.kind == INTERNAL)
    assert tools == ["add", "multiply"]
