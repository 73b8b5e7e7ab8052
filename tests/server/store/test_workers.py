"""`serve --workers 2` as real processes: one port, two workers, one SQLite file between them,
one /metrics for both."""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rolloutctl.server.settings import ServerSettings
from rolloutctl.server.workers import private_store
from tests.observe.scraping import scrape
from tests.recording_trainer import RecordingTrainer
from tests.server.store.replicas import (
    Cluster,
    Replica,
    assert_one_completion_each,
    init_body,
    send_all,
    serve_usage_error,
)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """`serve --workers 2` with its default store (a private SQLite file), started once
    for the module: each test uses ids of its own."""
    yield from _serving(tmp_path_factory.mktemp("workers") / "serve.log")


@pytest.fixture
def workers(two_workers: Cluster) -> Cluster:
    """The module's server, started again if a test before this one stopped it."""
    two_workers.heal()
    return two_workers


@pytest.fixture
def fresh_workers(tmp_path: Path) -> Iterator[Cluster]:
    """A `serve --workers 2` of the test's own, for a test that counts from zero."""
    yield from _serving(tmp_path / "serve.log")


def _serving(log: Path) -> Iterator[Cluster]:
    """`serve --workers 2` with its default store (a private SQLite file), until closed."""
    server = Replica(["--workers", "2", "--shutdown-grace", "1"], log)
    server.start()
    try:
        yield Cluster("sqlite", [server])
    finally:
        server.stop()


def clients_per_worker(url: str) -> dict[int, httpx.Client]:
    """One client (one keep-alive connection) reaching each worker, found by trying."""
    found: dict[int, httpx.Client] = {}
    for _ in range(200):
        client = httpx.Client(base_url=url, timeout=30)
        worker = client.get("/health").json()["worker"]
        if worker in found:
            client.close()
        else:
            found[worker] = client
        if len(found) == 2:
            return found
    raise AssertionError("the kernel sent 200 connections to one worker")


def pending_writes(client: httpx.Client) -> int:
    return int(client.get("/health").json()["store"]["pending_writes"])


def start_all(server: Replica, trainer: RecordingTrainer, ids: list[str]) -> None:
    responses = send_all([(server.url, init_body(trainer, i)) for i in ids])
    assert {r.status_code for r in responses} == {202}


def workers_health(cluster: Cluster) -> list[dict]:
    return list(cluster.replicas[0].health()["workers"])


def test_duplicate_inits_over_two_workers_run_each_id_once(workers, trainer):
    url, ids = workers.urls[0], [f"w-{i}" for i in range(50)]  # 30 copies of each: issue 24
    sends = [
        (url, init_body(trainer, rollout_id, copy)) for rollout_id in ids for copy in range(30)
    ]
    random.Random(24).shuffle(sends)
    responses = send_all(sends)
    assert [r.status_code for r in responses] == [202] * len(sends)
    bodies: dict[str, set[bytes]] = {i: set() for i in ids}
    for response, (_, body) in zip(responses, sends, strict=True):
        bodies[body["rollout_id"]].add(response.content)
    assert all(len(first) == 1 for first in bodies.values())
    for rollout_id in ids:
        trainer.wait(rollout_id, timeout=120)
    workers.wait_idle()
    assert_one_completion_each(trainer, ids)
    assert all(row["completed_rollouts"] > 0 for row in workers_health(workers))  # both ran some
    clients = clients_per_worker(url)
    for client in clients.values():
        workers.wait_for(
            "every record written",
            lambda c=client: c.get("/health").json()["store"]["pending_writes"] == 0,
        )
    for rollout_id in ids:
        seen = [client.get(f"/v1/rollout/{rollout_id}").json() for client in clients.values()]
        assert seen[0] == seen[1] and seen[0]["state"] == "completed", seen
    assert {c.get("/health").json()["worker"] for c in clients.values()} == {0, 1}
    for client in clients.values():
        client.close()


def test_a_killed_worker_is_replaced_and_only_its_rollouts_end_as_errors(workers, trainer):
    assert_a_killed_workers_rollouts_end_as_errors(workers, trainer, "k")


def assert_a_killed_workers_rollouts_end_as_errors(
    workers: Cluster, trainer: RecordingTrainer, prefix: str
) -> None:
    """SIGKILL one worker with rollouts in flight on both: it is replaced, its rollouts
    get one ERROR server_lost each, the other worker's complete."""
    server, ids = workers.replicas[0], [f"{prefix}-{i}" for i in range(24)]
    trainer.held.update(ids)
    assert {
        r.status_code for r in send_all([(server.url, init_body(trainer, i)) for i in ids])
    } == {202}
    workers.wait_for("every chat held", lambda: all(trainer.chats[i] for i in ids))
    owners = {i: server.status(i).json()["owner"] for i in ids}
    victim = workers_health(workers)[0]
    doomed = [i for i in ids if owners[i].split(":")[1] == str(victim["pid"])]
    spared = [i for i in ids if i not in doomed]
    assert doomed and spared, owners  # 24 inits over up to 24 connections reach both workers
    os.kill(victim["pid"], signal.SIGKILL)
    for rollout_id in doomed:
        completion = trainer.wait(rollout_id, timeout=120)
        assert completion["status"] == "ERROR"
        assert completion["extra_fields"]["error_category"] == "server_lost"
    workers.wait_for("the worker replaced", lambda: first_worker_replaced(workers, victim))
    assert not any(trainer.completions[i] for i in spared)  # no other rollout touched
    trainer.held.clear()
    for rollout_id in spared:
        assert trainer.wait(rollout_id, timeout=120)["status"] == "COMPLETED"
    workers.wait_idle()
    assert {i: len(trainer.completions[i]) for i in ids} == dict.fromkeys(ids, 1)


def test_sigterm_drains_both_workers_with_one_completion_each(workers, trainer):
    server, ids = workers.replicas[0], [f"t-{i}" for i in range(100)]
    trainer.held.update(ids)
    assert {
        r.status_code for r in send_all([(server.url, init_body(trainer, i)) for i in ids])
    } == {202}
    workers.wait_for("every chat held", lambda: all(trainer.chats[i] for i in ids), timeout=120)
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(120) == 0
    server.process = None
    for rollout_id in ids:
        assert trainer.wait(rollout_id, timeout=60)["extra_fields"]["error_category"] == "shutdown"
    assert {i: len(trainer.completions[i]) for i in ids} == dict.fromkeys(ids, 1)
    trainer.held.clear()


def test_the_memory_store_named_in_python_is_the_workers_shared_file_too():
    """The CLI turns `--store memory` into no store; ServerSettings(store="memory") from
    Python must not leave each worker a memory of its own either."""
    for named in (None, "memory"):
        with private_store(ServerSettings(store=named)) as settings:
            assert settings.store is not None and settings.store.startswith("sqlite:///")
            assert Path(settings.store.removeprefix("sqlite:///")).parent.is_dir()
    given = ServerSettings(store="sqlite:///records.db")
    with private_store(given) as settings:
        assert settings is given


def test_workers_must_be_a_number_or_auto():
    assert "--workers" in serve_usage_error("--workers", "many")


def test_workers_share_a_redis_store_too(tmp_path, redis_server, trainer):
    """Duplicates run once; a killed worker is known by its pid at once, as on SQLite
    (the owner timeout is longer than any wait here)."""
    args = ["--workers", "2", "--store", redis_server.url, "--store-prefix", "w"]
    args += ["--owner-timeout", "3600", "--heartbeat-interval", "0.5"]
    server = Replica(args, tmp_path / "serve.log")
    server.start()
    try:
        ids = [f"r-{i}" for i in range(10)]
        sends = [(server.url, init_body(trainer, i, copy)) for i in ids for copy in range(5)]
        assert {r.status_code for r in send_all(sends)} == {202}
        for rollout_id in ids:
            trainer.wait(rollout_id, timeout=120)
        Cluster("redis", [server]).wait_idle()
        assert_one_completion_each(trainer, ids)
        health = server.health()
        assert health["store"]["kind"] == "redis" and len(health["workers"]) == 2
        assert_a_killed_workers_rollouts_end_as_errors(Cluster("redis", [server]), trainer, "rk")
    finally:
        server.stop()


def metric_totals(url: str) -> dict[str, dict[str, float]]:
    """Per sample name: the value of each replica, from /metrics read by prometheus-client's
    parser (whichever worker answers)."""
    totals: dict[str, dict[str, float]] = {}
    for (name, labels), value in scrape(url).items():
        replica = dict(labels).get("replica", "")
        totals.setdefault(name, {})
        totals[name][replica] = totals[name].get(replica, 0.0) + value
    return totals


def test_metrics_count_every_worker_and_keep_a_dead_workers_counts(fresh_workers, trainer):
    workers = fresh_workers
    server, ids = workers.replicas[0], [f"m-{i}" for i in range(24)]
    start_all(server, trainer, ids)
    for rollout_id in ids:
        assert trainer.wait(rollout_id, timeout=120)["status"] == "COMPLETED"
    workers.wait_idle()
    pids = {str(row["pid"]) for row in workers_health(workers)}
    completed = "rolloutctl_rollouts_completed_total"
    workers.wait_for(
        "every completion counted",
        lambda: sum(metric_totals(server.url).get(completed, {}).values()) == len(ids),
    )
    counted = metric_totals(server.url)
    accepted = counted["rolloutctl_rollouts_accepted_total"]
    assert sum(accepted.values()) == len(ids)
    assert {replica.rsplit(":", 1)[1] for replica, n in accepted.items() if n} == pids  # both
    victim = workers_health(workers)[0]
    os.kill(victim["pid"], signal.SIGKILL)
    workers.wait_for("the worker replaced", lambda: first_worker_replaced(workers, victim))
    after = metric_totals(server.url)
    assert sum(after["rolloutctl_rollouts_accepted_total"].values()) == len(ids)
    assert sum(after[completed].values()) == len(ids)  # the dead worker's counts stay
    in_flight = after["rolloutctl_rollouts_in_flight"]
    assert not any(replica.endswith(f":{victim['pid']}") for replica in in_flight)  # its gauges go


def test_a_scrape_asks_the_other_worker_for_its_counts_now(workers, trainer):
    """Workers snapshot their counts each second, and at once when the worker a scrape
    reached asks: one scrape right after the inits counts every one, on both workers."""
    server, ids = workers.replicas[0], [f"s-{i}" for i in range(40)]
    accepted = "rolloutctl_rollouts_accepted_total"
    before = sum(metric_totals(server.url).get(accepted, {}).values())
    start_all(server, trainer, ids)
    assert sum(metric_totals(server.url)[accepted].values()) == before + len(ids)
    for rollout_id in ids:
        trainer.wait(rollout_id, timeout=120)


def first_worker_replaced(workers: Cluster, victim: dict[str, Any]) -> bool:
    """The killed first worker restarted once more, under a new pid, and alive (the
    parent may restart it after a rescue has already ended its rollouts); a request the
    dying worker had taken is reset, as any client of a killed process sees, and asked again."""
    try:
        row = workers_health(workers)[0]
    except httpx.TransportError:
        return False
    restarted = row["restarts"] == victim["restarts"] + 1 and row["pid"] != victim["pid"]
    return bool(restarted and row["alive"])


def test_a_crowded_worker_sheds_the_keep_alive_connection_it_is_sent_inits_on(workers, trainer):
    server, ids = workers.replicas[0], [f"c-{i}" for i in range(40)]
    trainer.held.update(ids)
    with httpx.Client(base_url=server.url, timeout=30) as client:  # one connection at a time
        for rollout_id in ids:
            response = client.post("/v1/rollout/init", json=init_body(trainer, rollout_id))
            assert response.status_code == 202
    owners = {server.status(i).json()["owner"].split(":")[1] for i in ids}
    assert owners == {str(row["pid"]) for row in workers_health(workers)}  # both ran some
    trainer.held.clear()
    for rollout_id in ids:
        assert trainer.wait(rollout_id, timeout=120)["status"] == "COMPLETED"
    workers.wait_idle()
