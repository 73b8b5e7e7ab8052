"""Faults of a real Redis under the store: a stall (SIGSTOP), a restart that lost
everything, a burst of inits. Store objects in this process stand for replicas; the
process-level versions of the first two are in test_lost_owner.py."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import threading
import time
from typing import Any

import orjson
import pytest
import redis

from rolloutctl.errors import StoreUnavailable
from rolloutctl.server.store.redis import RedisStore
from tests.server.store.owners import WAIT, finish, in_flight, started
from tests.server.store.replicas import init_body, running_cluster, send_all

STALL = 8.0  # seconds Redis stays stopped, as in the audit


async def wait_up(store: RedisStore) -> None:
    deadline = time.monotonic() + WAIT
    while store.health()["state"] != "up":
        assert time.monotonic() < deadline, store.health()
        await asyncio.sleep(0.05)


def test_claims_that_redis_runs_after_a_stall_leave_no_record(redis_server, shared_store):
    ids = [f"stalled-{i}" for i in range(20)]
    raw = redis.Redis.from_url(redis_server.url)

    async def run() -> None:
        async with started(shared_store) as refused, started(shared_store) as retried:
            assert isinstance(refused, RedisStore)
            assert await refused.claim(in_flight("warm")) is None  # its script is loaded
            os.kill(redis_server.process.pid, signal.SIGSTOP)
            stopped = time.monotonic()
            try:
                results = await asyncio.gather(
                    *(refused.claim(in_flight(i)) for i in ids), return_exceptions=True
                )
                await asyncio.sleep(max(0.0, STALL - (time.monotonic() - stopped)))
            finally:
                os.kill(redis_server.process.pid, signal.SIGCONT)
            assert all(isinstance(r, StoreUnavailable) for r in results), results
            await wait_up(refused)
            assert raw.exists(*(refused.key(i) for i in ids)) == 0  # nothing ran late
            for rollout_id in ids:  # the trainer's retries, to either replica, own the id
                store = refused if rollout_id.endswith(("0", "2", "4")) else retried
                assert await store.claim(in_flight(rollout_id)) is None

    asyncio.run(run())


def test_records_come_back_after_redis_restarts_empty(redis_server, shared_store):
    async def run() -> None:
        async with (
            started(shared_store, heartbeat_interval=0.2) as owner,
            started(shared_store) as other,
        ):
            assert isinstance(owner, RedisStore)
            done, running = in_flight("kept-done"), in_flight("kept-running")
            for record in (done, running):
                assert await owner.claim(record) is None
            finish(owner, done)
            assert await owner.claim_delivery(done)
            redis_server.stop()
            shutil.rmtree(redis_server.directory / "appendonlydir")  # nothing persisted
            redis_server.start()
            deadline = time.monotonic() + WAIT
            while owner.restored == 0 or owner.health()["pending_writes"]:
                assert time.monotonic() < deadline, owner.health()
                await asyncio.sleep(0.05)
            assert await other.claim(in_flight("kept-done")) == done.response_body
            assert await other.claim(in_flight("kept-running")) == running.response_body
            status = await other.status("kept-done")
            assert status is not None and status["state"] == "completed"

    asyncio.run(run())


@pytest.fixture
def shared_store(redis_server):
    """Redis stores only: these faults are Redis's."""
    prefix = f"f{os.getpid()}{time.monotonic_ns() % 10**6}"
    return lambda **options: RedisStore(redis_server.url, prefix=prefix, **options)


def test_a_burst_of_1000_inits_to_one_replica_gets_no_503(redis_server, trainer, tmp_path):
    ids = [f"burst-{i}" for i in range(1000)]
    with running_cluster(1, "redis", tmp_path, redis_server) as cluster:
        sends = [(cluster.urls[0], init_body(trainer, rollout_id)) for rollout_id in ids]
        answers = send_all(sends, parallel=len(sends))  # every init at once
        refused = [r.text for r in answers if r.status_code != 202]
        slowest = max(r.elapsed.total_seconds() for r in answers)
        assert not refused, (len(refused), refused[:3], slowest)
        for rollout_id in ids:
            trainer.wait(rollout_id, timeout=120)
        cluster.wait_idle()
    assert all(len(trainer.completions[i]) == 1 for i in ids)


def test_a_delivery_cut_by_shutdown_is_recorded_as_not_delivered(redis_server, tmp_path, trainer):
    trainer.hold_completion = lambda body: True  # the trainer never answers a completion
    options = ["--shutdown-grace", "1"]
    with running_cluster(1, "redis", tmp_path, redis_server, options) as cluster:
        replica = cluster.replicas[0]
        assert replica.init(init_body(trainer, "cut-1")).status_code == 202
        cluster.wait_for("the rollout finished", lambda: replica.health()["completed_rollouts"])
        replica.stop()  # SIGTERM while the trainer holds the completion
    stored = redis.Redis.from_url(redis_server.url).get("test:rollout:cut-1")
    assert stored is not None
    status = orjson.loads(stored)["status"]
    assert status["state"] == "delivery_failed" and status["delivered"] is False, status
    assert "shut down" in status["delivery_error"]


def claim_answered_late(store: RedisStore, raw: redis.Redis, rollout_id: str, during: Any) -> Any:
    """Start `store`'s claim of `rollout_id`, and once Redis has run it, block the event
    loop past the claim's timeout (as a busy or paused server would) while `during()`
    runs; then await the claim: its answer came too late."""

    async def run() -> BaseException | bytes | None:
        claim = asyncio.ensure_future(store.claim(in_flight(rollout_id)))
        deadline = time.monotonic() + WAIT
        while not raw.exists(store.key(rollout_id)):  # one loop turn at a time
            assert time.monotonic() < deadline and not claim.done()
            await asyncio.sleep(0)
        blocked_until = time.monotonic() + 2 * store.claim_window + 0.3
        during()
        time.sleep(max(0.0, blocked_until - time.monotonic()))  # the loop reads nothing
        try:
            return await claim
        except StoreUnavailable as exc:
            return exc

    return run()


@pytest.fixture
def late_store(shared_store):
    """A replica whose claims time out after 1 s instead of 12 (the same code path)."""

    def open_store(**options: Any) -> RedisStore:
        store = shared_store(**options)
        store.claim_window = 0.5
        return store

    return open_store


def test_a_claim_answered_too_late_is_released_so_the_retry_runs_it(
    redis_server, late_store, shared_store
):
    raw = redis.Redis.from_url(redis_server.url)

    async def run() -> None:
        async with started(late_store) as late, started(shared_store) as retried:
            assert isinstance(late, RedisStore)
            assert await late.claim(in_flight("warm")) is None  # its scripts are loaded
            outcome = await claim_answered_late(late, raw, "late-1", lambda: None)
            assert isinstance(outcome, StoreUnavailable), outcome  # the init gets 503
            assert raw.exists(late.key("late-1")) == 0  # released before the 503
            assert await retried.claim(in_flight("late-1")) is None  # the retry runs it
            assert await late.scan_lost() == []  # nobody to tell

    asyncio.run(run())


def test_a_duplicate_that_saw_a_late_claim_gets_one_server_lost(
    redis_server, late_store, shared_store
):
    raw = redis.Redis.from_url(redis_server.url)
    seen: list[bytes | None] = []

    def duplicate() -> None:  # another replica's init of the same id, meanwhile
        async def claim() -> None:
            async with started(shared_store) as other:
                seen.append(await other.claim(in_flight("late-2")))

        thread = threading.Thread(target=asyncio.run, args=(claim(),))
        thread.start()
        thread.join(WAIT)

    async def run() -> None:
        async with started(late_store) as late:
            assert isinstance(late, RedisStore)
            assert await late.claim(in_flight("warm")) is None
            outcome = await claim_answered_late(late, raw, "late-2", duplicate)
            assert isinstance(outcome, StoreUnavailable), outcome
            assert seen == [in_flight("late-2").response_body]  # that init got 202
            [told] = await late.scan_lost()  # so its trainer is told, once
            assert told.rollout_id == "late-2" and told.lost_reason is not None
            assert told.callback is not None and await late.scan_lost() == []

    asyncio.run(run())
