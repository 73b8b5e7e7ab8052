"""A rescuer lost in the middle of its rescue: three real `serve` processes on one store.

Replica 0 runs the rollouts and is killed (SIGKILL). The first replica to send one of
their `server_lost` completions has all of its completions held unanswered by the
trainer (as if they never reached it), and is killed in turn, mid-delivery. The third
replica must then deliver each rollout's completion, once. On Redis a lost owner is
known by its silence (a short --owner-timeout here); on SQLite, by its dead pid.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.store.replicas import Cluster, init_body, running_cluster, send_all

OPTIONS = ["--owner-timeout", "3", "--heartbeat-interval", "0.3"]


@pytest.fixture(params=["redis", "sqlite"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    redis = request.getfixturevalue("redis_server") if request.param == "redis" else None
    with running_cluster(3, request.param, tmp_path, redis, OPTIONS) as cluster:
        yield cluster


class FirstRescuer:
    """The trainer's hold: every completion sent by the first replica that sends one."""

    def __init__(self, owners: list[str]) -> None:
        self.owners, self.owner = owners, ""

    def __call__(self, body: dict[str, Any]) -> bool:
        message = str(body.get("error_message", ""))  # "...; {rescuer} ended it"
        if not self.owner:
            self.owner = next((o for o in self.owners if f"{o} ended it" in message), "")
        return bool(self.owner) and f"{self.owner} ended it" in message


def test_a_rescuer_killed_mid_delivery_is_rescued_by_another_replica(cluster, trainer):
    ids = [f"twice-{i}" for i in range(10)]
    trainer.held.update(ids)
    sends = [(cluster.urls[0], init_body(trainer, rollout_id)) for rollout_id in ids]
    assert [r.status_code for r in send_all(sends)] == [202] * len(ids)
    trainer.wait_for("every chat held", lambda: all(trainer.chats[i] for i in ids))
    witness = cluster.replicas[1]  # the running records (with their messages) are written
    cluster.wait_for(
        "every rollout running in the store",
        lambda: all(witness.status(i).json().get("state") == "running" for i in ids),
    )
    survivors = {r.health()["store"]["owner"]: r for r in cluster.replicas[1:]}
    first = FirstRescuer(list(survivors))
    trainer.hold_completion = first
    cluster.replicas[0].kill()
    trainer.wait_for("a rescuer's completion held", lambda: trainer.held_completions, 60)
    survivors[first.owner].kill()  # mid-delivery: its posts wait in the trainer
    for rollout_id in ids:
        completion = trainer.wait(rollout_id, timeout=60)
        assert completion["extra_fields"]["error_category"] == "server_lost", completion
        assert completion["final_messages"] == init_body(trainer, rollout_id)["messages"]
        assert f"{first.owner} ended it" not in completion["error_message"]
    assert {i: len(trainer.completions[i]) for i in ids} == dict.fromkeys(ids, 1)
    last = next(r for owner, r in survivors.items() if owner != first.owner)
    cluster.wait_for("the rescues written", lambda: last.health()["store"]["pending_writes"] == 0)
    for rollout_id in ids:
        status = last.status(rollout_id).json()
        assert status["state"] == "lost" and status["delivered"] is True, status
