"""A replica lost with rollouts in flight: three real `serve` processes on a real Redis.

The replicas run with a short --owner-timeout, so that a lost one is noticed within
seconds. Each test holds the chat answers of its rollouts in the trainer, so they
are in flight on the replica it then kills (SIGKILL) or pauses (SIGSTOP).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator

import pytest

from tests.helpers import RedisServer
from tests.recording_trainer import RecordingTrainer
from tests.server.store.replicas import Cluster, init_body, round_robin, running_cluster, send_all

OWNER_TIMEOUT = 8.0  # short for the test, long enough that a busy machine's stall is no loss
RESCUE_BOUND = OWNER_TIMEOUT + 30.0  # the bound, from the loss to the completion


@pytest.fixture(scope="module")
def replicas(
    shared_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    options = ["--owner-timeout", str(OWNER_TIMEOUT), "--heartbeat-interval", "0.5"]
    logs = tmp_path_factory.mktemp("replicas")
    with running_cluster(3, "redis", logs, shared_redis, options) as cluster:
        yield cluster


@pytest.fixture
def cluster(replicas: Cluster) -> Iterator[Cluster]:
    yield replicas
    replicas.heal()


def rescued(cluster: Cluster) -> int:
    """Rollouts the surviving replicas rescued so far."""
    return sum(r.health()["store"]["rescued"] for r in cluster.replicas[1:])


def start_in_flight(cluster: Cluster, trainer: RecordingTrainer, prefix: str) -> list[str]:
    """30 held rollouts on replica 0, and 6 on the others (which must be untouched)."""
    victims = [f"{prefix}-v{i}" for i in range(30)]
    others = [f"{prefix}-o{i}" for i in range(6)]
    trainer.held.update([*victims, *others])
    sends = [(cluster.urls[0], init_body(trainer, i)) for i in victims]
    sends += round_robin(cluster.urls[1:], [init_body(trainer, i) for i in others])
    assert [r.status_code for r in send_all(sends)] == [202] * len(sends)
    cluster.wait_for("every chat held", lambda: all(trainer.chats[i] for i in [*victims, *others]))
    return victims


def assert_lost_once(
    cluster: Cluster, trainer: RecordingTrainer, ids: list[str], lost_at: float, before: int
) -> None:
    for rollout_id in ids:
        completion = trainer.wait(
            rollout_id, timeout=max(1.0, lost_at + RESCUE_BOUND - time.monotonic())
        )
        assert completion["status"] == "ERROR", completion
        assert completion["extra_fields"]["error_category"] == "server_lost"
        assert completion["final_messages"] == init_body(trainer, rollout_id)["messages"]
    cluster.wait_for(
        "the rescues recorded",
        lambda: (
            rescued(cluster) - before >= len(ids)
            and all(r.health()["store"]["pending_writes"] == 0 for r in cluster.replicas[1:])
        ),
    )
    assert rescued(cluster) - before == len(ids)
    for rollout_id in ids:
        status = cluster.replicas[1].status(rollout_id).json()
        assert status["state"] == "lost" and status["delivered"] is True, status


def release_others(cluster: Cluster, trainer: RecordingTrainer, prefix: str) -> None:
    others = [f"{prefix}-o{i}" for i in range(6)]
    trainer.held.difference_update(others)
    for rollout_id in others:
        assert trainer.wait(rollout_id, timeout=60)["status"] == "COMPLETED"
        assert len(trainer.completions[rollout_id]) == 1


def test_a_killed_replicas_rollouts_each_get_one_server_lost(cluster, trainer):
    victims, before = start_in_flight(cluster, trainer, "kill"), rescued(cluster)
    cluster.replicas[0].kill()
    lost_at = time.monotonic()
    assert_lost_once(cluster, trainer, victims, lost_at, before)
    release_others(cluster, trainer, "kill")
    assert all(len(trainer.completions[i]) == 1 for i in victims)


def test_a_paused_replica_that_comes_back_sends_no_second_completion(cluster, trainer):
    victims, before = start_in_flight(cluster, trainer, "pause"), rescued(cluster)
    victim = cluster.replicas[0]
    os.kill(victim.pid, signal.SIGSTOP)
    try:
        lost_at = time.monotonic()
        assert_lost_once(cluster, trainer, victims, lost_at, before)
        trainer.held.difference_update(victims)  # its rollouts can finish when it resumes
    finally:
        os.kill(victim.pid, signal.SIGCONT)
    cluster.wait_for(
        "the paused replica idle again", lambda: victim.health()["active_rollouts"] == 0
    )
    cluster.wait_for("its own writes done", lambda: victim.health()["store"]["pending_writes"] == 0)
    release_others(cluster, trainer, "pause")
    assert all(len(trainer.completions[i]) == 1 for i in victims)
    for replica in cluster.replicas:  # the rescue stands, on the owner too
        assert all(replica.status(i).json()["state"] == "lost" for i in victims)


def test_finished_ids_stay_finished_after_redis_restarts_empty(cluster, trainer):
    assert cluster.redis is not None
    ids = [f"restart-{i}" for i in range(12)]
    sends = round_robin(cluster.urls, [init_body(trainer, i) for i in ids])
    firsts = {
        body["rollout_id"]: r.content for r, (_, body) in zip(send_all(sends), sends, strict=True)
    }
    for rollout_id in ids:
        trainer.wait(rollout_id, timeout=60)
    cluster.wait_idle()
    restored = [r.health()["store"]["restored"] for r in cluster.replicas]
    cluster.redis.stop()
    shutil.rmtree(cluster.redis.directory / "appendonlydir")  # a Redis without persistence
    cluster.redis.start()
    cluster.wait_for(
        "every replica wrote its records back",
        lambda: all(
            r.health()["store"]["restored"] > before and r.health()["store"]["pending_writes"] == 0
            for r, before in zip(cluster.replicas, restored, strict=True)
        ),
    )
    for i, rollout_id in enumerate(ids):  # to any replica, not only the owner
        again = cluster.replicas[(i + 1) % 3].init(init_body(trainer, rollout_id, 5))
        assert again.status_code == 202 and again.content == firsts[rollout_id]
    assert all(r.health()["active_rollouts"] == 0 for r in cluster.replicas)
    assert all(len(trainer.chats[i]) == 1 and len(trainer.completions[i]) == 1 for i in ids)


def test_inits_refused_during_a_redis_stall_run_once_when_retried(cluster, trainer):
    assert cluster.redis is not None and cluster.redis.process is not None
    ids = [f"stall-{i}" for i in range(30)]
    sends = round_robin(cluster.urls, [init_body(trainer, i) for i in ids])
    os.kill(cluster.redis.process.pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        refused = send_all(sends)
        time.sleep(max(0.0, 8.0 - (time.monotonic() - stopped)))  # the stall itself: 8 s
    finally:
        os.kill(cluster.redis.process.pid, signal.SIGCONT)
    assert {r.status_code for r in refused} == {503}
    cluster.wait_store("up")
    retried = send_all(sends)  # the trainer's retries
    assert [r.status_code for r in retried] == [202] * len(ids)
    for rollout_id in ids:
        assert trainer.wait(rollout_id, timeout=60)["status"] == "COMPLETED"
    cluster.wait_idle()
    assert all(len(trainer.chats[i]) == 1 and len(trainer.completions[i]) == 1 for i in ids)
