"""A server on an SQLite file, SIGKILLed and started again on the same file: it forgets nothing."""

from __future__ import annotations

from tests.server.store.replicas import Cluster, Replica, init_body, send_all


def test_a_restart_on_the_same_file_keeps_finished_ids_and_ends_the_lost_ones(tmp_path, trainer):
    # a quick rescue scan: the test is about who is ended, not how soon (default: 10 s)
    store = ["--store", f"sqlite:///{tmp_path / 'records.db'}", "--heartbeat-interval", "0.2"]
    server = Replica(store, tmp_path / "serve.log")
    cluster = Cluster("sqlite", [server])
    finished, lost = [f"done-{i}" for i in range(5)], [f"lost-{i}" for i in range(20)]
    server.start()
    try:
        first = {i: server.init(init_body(trainer, i)).content for i in finished}
        for rollout_id in finished:
            trainer.wait(rollout_id, timeout=60)
        cluster.wait_for("delivered, on file", lambda: all(delivered(server, i) for i in finished))
        trainer.held.update(lost)
        sends = [(server.url, init_body(trainer, i)) for i in lost]
        assert {r.status_code for r in send_all(sends)} == {202}
        cluster.wait_for("every chat held", lambda: all(trainer.chats[i] for i in lost))
        server.kill()
        server.start()  # a new process on the same file
        for rollout_id in lost:
            completion = trainer.wait(rollout_id, timeout=120)
            assert completion["status"] == "ERROR"
            assert completion["extra_fields"]["error_category"] == "server_lost"
            assert completion["final_messages"] == init_body(trainer, rollout_id)["messages"]
        for rollout_id in finished:
            again = server.init(init_body(trainer, rollout_id, 1))
            assert again.status_code == 202 and again.content == first[rollout_id]
        assert server.health()["active_rollouts"] == 0  # the repeats started nothing
        trainer.held.clear()
        cluster.wait_for("the lost ones shown", lambda: all(delivered(server, i) for i in lost))
        assert all(server.status(i).json()["state"] == "lost" for i in lost)
        ids = finished + lost
        assert {i: len(trainer.completions[i]) for i in ids} == dict.fromkeys(ids, 1)
        assert all(len(trainer.chats[i]) == 1 for i in ids)  # nothing ran twice
    finally:
        server.stop()


def delivered(server: Replica, rollout_id: str) -> bool:
    return server.status(rollout_id).json().get("delivered") is True
