"""GET /metrics of a real server after a known workload, read with prometheus-client's parser."""

from __future__ import annotations

import asyncio
import os
import socket

import httpx

from rolloutctl.observe.labels import OTHER, BoundedNames
from tests.observe.scraping import families, init, post, scrape, value, wait_for
from tests.recording_trainer import assistant, call

KEY = "sk-metrics-7a6b5c"


def test_a_known_workload_gives_exact_counts(trainer, start_server):
    server = start_server(max_init_bytes=4096)
    for n in range(3):  # completed: two chat calls and one tool call each
        first = assistant("", tool_calls=[call("add", {"a": 5, "b": 3}, f"c{n}")])
        trainer.script(f"ok{n}", first, assistant("8"))
    trainer.completed_replies("ok0", 503)  # one delivery retried
    trainer.script("client", (400, {"detail": "bad request"}))  # trainer_client_error
    trainer.script("server", *[(503, {"detail": "down"})] * 4)  # 4 tries, then server error
    for rollout_id in ("ok0", "ok1", "ok2", "client", "server"):
        assert post(server, init(trainer, rollout_id)).status_code == 202
    assert post(server, {"rollout_id": "bad"}).status_code == 422
    assert post(server, init(trainer, "bad2", max_turns="x")).status_code == 422
    big = init(trainer, "big", metadata={"pad": "x" * 5000})
    assert post(server, big).status_code == 413
    for rollout_id in ("ok0", "ok1", "ok2", "client", "server"):
        trainer.wait(rollout_id)
    samples = wait_for(server, "rolloutctl_callback_attempts_total", 6, endpoint="completed")
    samples = wait_for(server, "rolloutctl_rollout_duration_seconds_count", 5)

    def v(name: str, **labels: str) -> float:
        return value(samples, name, **labels)

    assert v("rolloutctl_rollouts_accepted_total") == 5
    assert v("rolloutctl_rollouts_refused_total", status="422") == 2
    assert v("rolloutctl_rollouts_refused_total", status="413") == 1
    completed = "rolloutctl_rollouts_completed_total"
    assert v(completed, status="COMPLETED", category="") == 3
    assert v(completed, status="ERROR", category="trainer_client_error") == 1
    assert v(completed, status="ERROR", category="trainer_server_error") == 1
    assert v("rolloutctl_rollout_duration_seconds_count") == 5
    assert v("rolloutctl_llm_call_duration_seconds_count") == 3 * 2 + 1 + 1
    assert v("rolloutctl_tool_call_duration_seconds_count", tool="add") == 3
    assert v("rolloutctl_callback_attempts_total", endpoint="chat") == 6 + 1 + 4
    assert v("rolloutctl_callback_retries_total", endpoint="chat") == 3
    assert v("rolloutctl_callback_failures_total", endpoint="chat") == 2
    assert v("rolloutctl_callback_attempts_total", endpoint="completed") == 6
    assert v("rolloutctl_callback_retries_total", endpoint="completed") == 1
    assert v("rolloutctl_callback_failures_total", endpoint="completed") == 0
    assert v("rolloutctl_rollouts_in_flight") == 0
    assert v("rolloutctl_rollouts_queued") == 0
    assert v("rolloutctl_oldest_in_flight_seconds") == 0
    assert v("rolloutctl_event_loop_lag_seconds_count") >= 1
    labels = {dict(ls).get("agent") for (n, ls) in samples if n.startswith("rolloutctl_")}
    assert labels == {"calculator"}
    replicas = {dict(ls).get("replica") for (n, ls) in samples if n.startswith("rolloutctl_")}
    assert replicas == {f"{socket.gethostname()}:{os.getpid()}"}


def test_in_flight_queued_and_the_oldest_age_while_rollouts_wait(trainer, start_server):
    server = start_server(max_concurrent=1)
    trainer.held.update({"held1", "held2"})
    try:
        for rollout_id in ("held1", "held2"):
            assert post(server, init(trainer, rollout_id)).status_code == 202
        samples = wait_for(server, "rolloutctl_oldest_in_flight_seconds", 0.001)
        assert value(samples, "rolloutctl_rollouts_in_flight") == 1
        assert value(samples, "rolloutctl_rollouts_queued") == 1
        assert value(samples, "rolloutctl_oldest_in_flight_seconds") > 0
    finally:
        trainer.held.clear()
    trainer.wait("held2")
    samples = wait_for(server, "rolloutctl_rollout_duration_seconds_count", 2)
    assert value(samples, "rolloutctl_rollouts_in_flight") == 0
    assert value(samples, "rolloutctl_rollouts_queued") == 0


def test_metrics_need_the_key_unless_public_and_go_away_when_off(trainer, start_server):
    keyed = start_server(api_key=KEY)
    assert httpx.get(f"{keyed}/metrics", timeout=30).status_code == 401
    scrape(keyed, Authorization=f"Bearer {KEY}")
    public = start_server(api_key=KEY, metrics_public=True)
    scrape(public)
    assert post(public, init(trainer, "p1")).status_code == 401  # only /metrics is public
    off = start_server(metrics=False)
    assert httpx.get(f"{off}/metrics", timeout=30).status_code == 404


def test_a_thousand_distinct_rollout_ids_add_no_series(trainer, start_server):
    server = start_server(max_concurrent=200)
    for n in range(3):  # every series this workload touches exists after these
        trainer.script(f"warm{n}", assistant("", tool_calls=[call("add", {"a": 1, "b": 2})]))
        assert post(server, init(trainer, f"warm{n}")).status_code == 202
        trainer.wait(f"warm{n}")
    before = wait_for(server, "rolloutctl_rollout_duration_seconds_count", 3)

    async def run_all() -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            gate = asyncio.Semaphore(50)

            async def one(n: int) -> None:
                rollout_id = f"many-{n}-{'x' * (n % 7)}"
                trainer.script(
                    rollout_id, assistant("", tool_calls=[call("add", {"a": n, "b": 1})])
                )
                async with gate:
                    response = await client.post(
                        f"{server}/v1/rollout/init", json=init(trainer, rollout_id)
                    )
                assert response.status_code == 202

            await asyncio.gather(*(one(n) for n in range(1000)))

    asyncio.run(run_all())
    after = wait_for(server, "rolloutctl_rollout_duration_seconds_count", 1003)
    assert value(after, "rolloutctl_rollouts_accepted_total") == 1003
    assert set(after) == set(before)
    for name, labels in after:
        assert not any("many-" in str(v) for _, v in labels), name


def test_tool_names_past_a_hundred_are_counted_as_other():
    bound = BoundedNames(100)
    seen = {bound(f"tool{n}") for n in range(150)}
    assert len(seen) == 101 and OTHER in seen
    assert bound("tool5") == "tool5"  # a name kept stays itself


def test_the_documented_table_names_every_metric_a_server_serves(trainer, start_server):
    from rolloutctl.observe.names import metrics_table

    server = start_server()
    trainer.script("doc", assistant("", tool_calls=[call("add", {"a": 1, "b": 2})]))
    assert post(server, init(trainer, "doc")).status_code == 202
    trainer.wait("doc")
    # prometheus-client adds a `_created` gauge (a start time) beside each counter and histogram
    served = {f.name for f in families(server) if not f.name.endswith("_created")}
    table = metrics_table()
    documented = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    exposed = {name.removesuffix("_total") for name in documented}
    assert {n for n in exposed if "trainer" not in n} == served


def test_record_store_round_trips_by_kind(trainer, start_server, redis_server, tmp_path):
    for store, kind in (
        (f"sqlite:///{tmp_path}/records.db", "sqlite"),
        (redis_server.url, "redis"),
    ):
        server = start_server(store=store)
        trainer.script(f"st-{kind}", assistant("8"))
        assert post(server, init(trainer, f"st-{kind}")).status_code == 202
        trainer.wait(f"st-{kind}")
        samples = wait_for(server, "rolloutctl_store_round_trip_seconds_count", 2, store=kind)
        assert value(samples, "rolloutctl_store_round_trip_seconds_count", store=kind) >= 2
        assert value(samples, "rolloutctl_store_errors_total", store=kind) == 0
