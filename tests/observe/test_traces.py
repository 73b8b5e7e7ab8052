"""Spans of a real server, exported over OTLP/HTTP to a real receiver in the test."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import subprocess

import httpx

from rolloutctl import Agent, RolloutResult
from rolloutctl.agent.context import RolloutContext
from tests import helpers
from tests.helpers import HOST, free_port, refused_url, rolloutctl_bin, wait_healthy
from tests.observe.scraping import init, post, value, wait_for
from tests.recording_trainer import assistant, call

SERVER, CLIENT = 2, 3  # OTLP SpanKind values
ERROR = 2  # OTLP Status code


class TwoAtOnce(Agent):
    """Asks the model two things at the same time."""

    name = "two-at-once"

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        question = [{"role": "user", "content": "hi"}]
        await asyncio.gather(ctx.chat(question), ctx.chat(question))
        return RolloutResult()


def two_turns(trainer, rollout_id: str) -> None:
    first = assistant("", tool_calls=[call("add", {"a": 5, "b": 3}, "c1")])
    trainer.script(rollout_id, first, assistant("The answer is 8."))


def test_a_two_turn_rollout_is_one_trace_under_the_inits_traceparent(
    trainer, start_server, receiver
):
    server = start_server(otel_endpoint=f"{receiver.url}/v1/traces")
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    two_turns(trainer, "t1")
    headers = {"traceparent": f"00-{trace_id}-{parent_id}-01", "tracestate": "vendor=t1"}
    assert post(server, init(trainer, "t1"), headers=headers).status_code == 202
    trainer.wait("t1")
    spans = {s.name: s for s in receiver.wait_for(5, trace_id)}
    assert sorted(spans) == [
        "chat default",
        "deliver completion",
        "execute_tool add",
        "invoke_agent calculator",
    ]  # two chat spans share a name
    chats = [s for s in receiver.spans if s.name == "chat default"]
    root = spans["invoke_agent calculator"]
    assert root.parent_span_id == parent_id and root.kind == SERVER
    assert root.attributes["rollout_id"] == "t1"
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.agent.name"] == "calculator"
    assert root.attributes["rolloutctl.status"] == "COMPLETED"
    assert root.resource["service.name"] == "rolloutctl"
    children = [*chats, spans["execute_tool add"], spans["deliver completion"]]
    assert {s.parent_span_id for s in children} == {root.span_id}
    assert {s.trace_id for s in children} == {trace_id}
    assert {s.trace_state for s in [root, *children]} == {"vendor=t1"}  # the init's, carried
    for chat in chats:
        assert chat.kind == CLIENT
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.usage.input_tokens"] == 10
        assert chat.attributes["gen_ai.usage.output_tokens"] == 5
    tool = spans["execute_tool add"]
    assert tool.attributes["gen_ai.tool.name"] == "add"
    assert tool.attributes["gen_ai.tool.call.id"] == "c1"
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    delivery = spans["deliver completion"]
    assert delivery.attributes["rolloutctl.delivery.attempts"] == 1
    assert delivery.attributes["rolloutctl.delivery.delivered"] is True
    # the trainer got each call's own span as its parent
    sent = [h["traceparent"] for h in trainer.chat_headers["t1"]]
    assert sent == [f"00-{trace_id}-{chat.span_id}-01" for chat in chats]
    completed = trainer.completion_headers["t1"][0]["traceparent"]
    assert completed == f"00-{trace_id}-{delivery.span_id}-01"
    sent_states = [
        h["tracestate"] for h in [*trainer.chat_headers["t1"], *trainer.completion_headers["t1"]]
    ]
    assert sent_states == ["vendor=t1"] * 3


def test_failures_retries_and_a_fresh_trace_without_traceparent(trainer, start_server, receiver):
    server = start_server(otel_endpoint=f"{receiver.url}/v1/traces")
    trainer.script("t2", (503, {"detail": "busy"}), (400, {"detail": "no"}))
    trainer.completed_replies("t2", 503)
    assert post(server, init(trainer, "t2")).status_code == 202
    trainer.wait("t2")
    root = next(s for s in receiver.wait_for(3) if s.name.startswith("invoke_agent"))
    spans = receiver.wait_for(3, root.trace_id)
    assert root.parent_span_id == ""
    assert root.status_code == ERROR
    assert root.attributes["rolloutctl.error_category"] == "trainer_client_error"
    chat = next(s for s in spans if s.name == "chat default")
    assert chat.events == ["retry"] and chat.status_code == ERROR
    assert chat.attributes["error.type"] == "TrainerError"
    delivery = next(s for s in spans if s.name == "deliver completion")
    assert delivery.events == ["retry"]
    assert delivery.attributes["rolloutctl.delivery.attempts"] == 2


def test_a_stalled_receiver_slows_no_rollout_and_its_drops_are_counted(
    trainer, start_server, receiver
):
    server = start_server(otel_endpoint=f"{receiver.url}/v1/traces", otel_queue=8)
    receiver.hold()
    for n in range(20):
        two_turns(trainer, f"s{n}")
        assert post(server, init(trainer, f"s{n}")).status_code == 202
    for n in range(20):  # every rollout ends while the receiver still answers nothing
        trainer.wait(f"s{n}")
    assert not receiver.spans
    samples = wait_for(server, "rolloutctl_rollout_duration_seconds_count", 20)
    assert value(samples, "rolloutctl_spans_dropped_total") > 0
    receiver.release()
    receiver.wait_for(1)


def test_a_receiver_that_is_down_costs_failed_exports_not_rollouts(
    trainer, start_server, monkeypatch
):
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # export at once, not in 5 s
    with refused_url() as down:
        server = start_server(otel_endpoint=f"{down}/v1/traces")
        for n in range(3):
            two_turns(trainer, f"d{n}")
            assert post(server, init(trainer, f"d{n}")).status_code == 202
        for n in range(3):
            trainer.wait(f"d{n}")
        samples = wait_for(server, "rolloutctl_span_export_failures_total", 1)
    assert value(samples, "rolloutctl_span_export_failures_total") >= 1


def test_a_receiver_down_then_back_is_one_log_line_each_not_the_exporters_every_try(
    trainer, start_server, receiver, monkeypatch, caplog
):
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # export at once, not in 5 s
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")  # a held request fails in 1 s
    caplog.set_level(logging.INFO)
    server = start_server(otel_endpoint=f"{receiver.url}/v1/traces")
    receiver.hold()
    for n in range(3):  # a rollout at a time: each one's spans are a batch of their own
        two_turns(trainer, f"h{n}")
        assert post(server, init(trainer, f"h{n}")).status_code == 202
        trainer.wait(f"h{n}")
        wait_for(server, "rolloutctl_span_export_failures_total", 5 * (n + 1))
    receiver.release()
    two_turns(trainer, "back")
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    assert post(server, init(trainer, "back"), headers=headers).status_code == 202
    receiver.wait_for(5, trace_id)

    def said() -> list[tuple[str, str]]:
        names = ("rolloutctl.traces", "opentelemetry")
        return [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith(names)]

    helpers.wait_for(lambda: len(said()) >= 2, "the line saying the receiver is back")
    (first, down), (second, back) = said()
    url = f"{receiver.url}/v1/traces"
    assert first == "WARNING" and down.startswith(f"traces: cannot send spans to {url} (")
    assert "rolloutctl_span_export_failures_total" in down
    assert (second, back) == ("INFO", f"traces: the receiver at {url} takes spans again")


def test_serve_reads_the_standard_otel_variables(trainer, receiver, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": "calc-under-test",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,team=rl",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=rl%20team",  # the exporter's own settings
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
    }
    command = [rolloutctl_bin(), "serve", "--example", "calculator", "--port", str(port)]
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://{HOST}:{port}"
        wait_healthy(url, process, timeout=240)
        two_turns(trainer, "e1")
        assert post(url, init(trainer, "e1")).status_code == 202
        trainer.wait("e1")
        root = next(s for s in receiver.wait_for(5) if s.name.startswith("invoke_agent"))
        assert root.resource["service.name"] == "calc-under-test"
        assert root.resource["deployment.environment"] == "test"
        assert root.resource["team"] == "rl"
        sent = receiver.headers[-1]
        assert sent["x-tenant"] == "rl team" and sent["content-encoding"] == "gzip"
        assert sent["content-type"] == "application/x-protobuf"
        assert "rolloutctl_spans_dropped_total" in httpx.get(f"{url}/metrics").text
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def test_a_rollout_the_trainer_did_not_sample_makes_no_spans(trainer, start_server, receiver):
    server = start_server(otel_endpoint=f"{receiver.url}/v1/traces")
    unsampled = {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"}
    two_turns(trainer, "u1")
    assert post(server, init(trainer, "u1"), headers=unsampled).status_code == 202
    two_turns(trainer, "u2")  # sampled (no parent): its spans show the export works
    assert post(server, init(trainer, "u2")).status_code == 202
    trainer.wait("u1")
    trainer.wait("u2")
    spans = receiver.wait_for(5)
    assert {s.attributes.get("rollout_id") for s in spans} == {None, "u2"}
    assert all("traceparent" not in h for h in trainer.chat_headers["u1"])


def test_chat_calls_made_at_once_are_each_their_own_closed_span(trainer, start_server, receiver):
    server = start_server(TwoAtOnce(), otel_endpoint=f"{receiver.url}/v1/traces")
    trainer.script("g1", assistant("one"), assistant("two"))
    assert post(server, init(trainer, "g1")).status_code == 202
    trainer.wait("g1")
    root = next(s for s in receiver.wait_for(4) if s.name.startswith("invoke_agent"))
    chats = [s for s in receiver.wait_for(4, root.trace_id) if s.name == "chat default"]
    assert len(chats) == 2 and len({chat.span_id for chat in chats}) == 2
    assert {chat.parent_span_id for chat in chats} == {root.span_id}
    sent = {h["traceparent"] for h in trainer.chat_headers["g1"]}
    assert sent == {f"00-{root.trace_id}-{chat.span_id}-03" for chat in chats}
    for chat in chats:  # each closed with its own call's answer
        assert chat.attributes["gen_ai.usage.output_tokens"] == 5
