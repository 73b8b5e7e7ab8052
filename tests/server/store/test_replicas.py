"""Idempotency and status across replicas: real `serve` processes, a real Redis, real SQLite.

`cluster` runs each behavioural test against every store: three replicas sharing
Redis, three sharing an SQLite file, and the single process the in-memory store is
for. `shared_cluster` (SQLite, Redis) tests what only a shared store can do: survive
a replica's death; `redis_cluster`, Redis going away.
"""

from __future__ import annotations

import random
import socket
import time

from tests.server.store.replicas import (
    Cluster,
    assert_one_completion_each,
    init_body,
    round_robin,
    send_all,
)


def assert_every_replica_shows(cluster: Cluster, ids: list[str], state: str) -> None:
    for replica in cluster.replicas:
        for rollout_id in ids:
            status = replica.status(rollout_id).json()
            assert status.get("state") == state, (replica.url, status)
            assert status["delivered"] is True


def test_duplicates_and_distinct_ids_complete_exactly_once(cluster, trainer):
    urls, duplicate = cluster.urls, "dup"
    sends = round_robin(urls, [init_body(trainer, duplicate, i) for i in range(30)])
    distinct = [f"id-{i}" for i in range(300)]
    sends += round_robin(urls, [init_body(trainer, rollout_id) for rollout_id in distinct])
    random.Random(14).shuffle(sends)
    responses = send_all(sends)
    assert [r.status_code for r in responses] == [202] * len(sends)
    pairs = zip(responses, sends, strict=True)
    assert len({r.content for r, (_, body) in pairs if body["rollout_id"] == duplicate}) == 1
    ids = [duplicate, *distinct]
    for rollout_id in ids:
        trainer.wait(rollout_id, timeout=60)
    cluster.wait_idle()
    assert_one_completion_each(trainer, ids)
    cluster.wait_for(
        "every record written",
        lambda: all(r.health()["store"].get("pending_writes", 0) == 0 for r in cluster.replicas),
    )
    assert_every_replica_shows(cluster, ids, "completed")


def test_repeated_init_of_a_finished_id_gets_its_first_body_and_starts_nothing(cluster, trainer):
    first = cluster.replicas[0].init(init_body(trainer, "done-1"))
    assert first.status_code == 202
    trainer.wait("done-1", timeout=60)
    cluster.wait_idle()
    for variant, replica in enumerate(cluster.replicas, start=1):
        cluster.wait_for("the record shared", lambda r=replica: r.status("done-1").is_success)
        again = replica.init(init_body(trainer, "done-1", variant))
        assert again.status_code == 202 and again.content == first.content
        assert replica.health()["active_rollouts"] == 0  # nothing was started
    assert_one_completion_each(trainer, ["done-1"])


def test_a_restarted_replica_still_knows_finished_ids(shared_cluster, trainer):
    cluster, victim = shared_cluster, shared_cluster.replicas[0]
    first = victim.init(init_body(trainer, "before-crash"))
    trainer.wait("before-crash", timeout=60)
    cluster.wait_for(
        "the completion recorded in Redis",
        lambda: cluster.replicas[1].status("before-crash").json().get("delivered") is True,
    )
    victim.kill()
    victim.start()  # a new process, with nothing in its memory
    for replica in cluster.replicas:
        again = replica.init(init_body(trainer, "before-crash", 7))
        assert again.status_code == 202 and again.content == first.content
    health = victim.health()
    assert health["active_rollouts"] == 0 and health["completed_rollouts"] == 0
    assert_one_completion_each(trainer, ["before-crash"])


def test_a_dead_owner_shows_until_a_witness_ends_its_rollout_as_lost(shared_cluster, trainer):
    cluster, victim = shared_cluster, shared_cluster.replicas[0]
    trainer.held.add("orphan")
    first = victim.init(init_body(trainer, "orphan"))
    witness = cluster.replicas[1]
    cluster.wait_for(
        "the rollout running", lambda: witness.status("orphan").json().get("state") == "running"
    )
    owner = f"{socket.gethostname()}:{victim.pid}"
    victim.kill()
    killed_at = time.time()
    status = witness.status("orphan").json()
    if status["state"] == "running":  # a witness's next scan sees the dead pid: lost
        assert status["owner"].startswith(f"{owner}:")
        assert status["heartbeat_at"] <= killed_at
    again = witness.init(init_body(trainer, "orphan", 1))  # no failover: nothing reruns it
    assert again.status_code == 202 and again.content == first.content
    assert witness.health()["active_rollouts"] == 0
    # a witness takes the dead pid's rollout over: one ERROR, and its state says lost
    completion = trainer.wait("orphan", timeout=60)
    assert completion["status"] == "ERROR" and len(trainer.chats["orphan"]) == 1
    cluster.wait_for("the lost state", lambda: witness.status("orphan").json()["state"] == "lost")


def test_redis_outage_refuses_inits_and_holds_completions_until_it_returns(redis_cluster, trainer):
    cluster = redis_cluster
    assert cluster.redis is not None
    running = [f"run-{i}" for i in range(12)]
    trainer.held.update(running)
    sends = round_robin(cluster.urls, [init_body(trainer, rollout_id) for rollout_id in running])
    assert [r.status_code for r in send_all(sends)] == [202] * len(running)
    cluster.wait_for("all chats held", lambda: all(trainer.chats[i] for i in running))

    cluster.redis.stop()
    for replica in cluster.replicas:
        refused = replica.init(init_body(trainer, "during-outage"))
        assert refused.status_code == 503 and refused.headers["retry-after"]
    cluster.wait_store("unavailable")
    trainer.held.clear()  # the running rollouts finish while Redis is down
    cluster.wait_idle()
    assert not trainer.chats["during-outage"]  # a refused init started nothing
    # a completion is sent only once its delivery is claimed in the store (exactly once,
    # even if another replica rescued the rollout): none can go out during the outage
    assert not any(trainer.completions[i] for i in running)

    cluster.redis.start()
    cluster.wait_store("up")
    for rollout_id in running:
        trainer.wait(rollout_id, timeout=60)
    cluster.wait_for(
        "the records written after the outage",
        lambda: all(r.health()["store"]["pending_writes"] == 0 for r in cluster.replicas),
    )
    assert_every_replica_shows(cluster, running, "completed")
    recovered = cluster.replicas[2].init(init_body(trainer, "during-outage"))
    assert recovered.status_code == 202
    trainer.wait("during-outage", timeout=60)
    cluster.wait_idle()
    assert_one_completion_each(trainer, [*running, "during-outage"])
