"""Owners, heartbeats and rescues, at the store's interface: one suite for every store
that processes share (`shared_store`). Each store object here stands for one process.

A silent owner is a store whose heartbeat interval is far longer than the test: it is
alive and can still finish its rollouts, but tells the store nothing, exactly as a
partitioned or paused replica would look to the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable

from rolloutctl.server.store import Callback, RecordStore, RolloutRecord, RolloutState
from rolloutctl.server.store.owner_ids import PID_SPACE, owner_dead
from rolloutctl.server.store.shared import SharedStore
from tests.server.store.owners import WAIT, finish, in_flight, started

SILENT = 3600.0  # a heartbeat interval no test lives to see
TIMEOUT = 1.0  # owner timeout of the rescuers
LIVE = {"owner_timeout": TIMEOUT, "heartbeat_interval": 0.1}  # a rescuer that stays alive


async def rescue_until(rescuer: RecordStore, wanted: int) -> list[RolloutRecord]:
    """Scan until `wanted` lost records were taken over (or WAIT passed)."""
    found: list[RolloutRecord] = []
    deadline = time.monotonic() + WAIT
    while len(found) < wanted and time.monotonic() < deadline:
        found += await rescuer.scan_lost()
        await asyncio.sleep(0.05)
    return found


def test_a_claim_is_exclusive_across_processes(shared_store):
    async def run() -> None:
        async with started(shared_store) as a, started(shared_store) as b:
            first = in_flight("c1")
            assert await a.claim(first) is None
            assert await b.claim(in_flight("c1")) == first.response_body

    asyncio.run(run())


def test_a_silent_owners_rollout_is_rescued_once_with_its_callback_and_history(shared_store):
    async def run() -> None:
        async with (
            started(shared_store, heartbeat_interval=SILENT) as owner,
            started(shared_store, **LIVE) as rescuer,
            started(shared_store, **LIVE) as other,
        ):
            assert await owner.claim(in_flight("lost-1")) is None
            [found] = await rescue_until(rescuer, 1)
            assert found.rollout_id == "lost-1" and found.owner == owner.owner
            assert found.callback == Callback("http://127.0.0.1:9/trainer", "k-secret")
            assert found.history() == [{"role": "user", "content": "question lost-1"}]
            assert await other.scan_lost() == [] and await rescuer.scan_lost() == []

    asyncio.run(run())


def test_an_owner_that_comes_back_after_the_rescue_sends_nothing(shared_store):
    async def run() -> None:
        async with (
            started(shared_store, heartbeat_interval=SILENT) as owner,
            started(shared_store, **LIVE) as rescuer,
        ):
            record = in_flight("back-1")
            assert await owner.claim(record) is None
            [found] = await rescue_until(rescuer, 1)
            found.state, found.delivered = RolloutState.LOST, True
            found.payload = {"rollout_id": "back-1", "status": "ERROR"}
            rescuer.rescued(found)
            finish(owner, record)
            assert await owner.claim_delivery(record) is False
            owner.changed(record)  # its later writes do not undo the rescue
            await wait_status(rescuer, "back-1", "lost")
            await asyncio.sleep(0.3)  # give a wrong write time to land
            assert (await rescuer.status("back-1") or {})["state"] == "lost"

    asyncio.run(run())


def test_an_owner_that_claims_its_delivery_first_is_not_rescued(shared_store):
    async def run() -> None:
        async with (
            started(shared_store, heartbeat_interval=SILENT) as owner,
            started(shared_store, **LIVE) as rescuer,
        ):
            done, control = in_flight("first-1"), in_flight("first-2")
            for record in (done, control):
                assert await owner.claim(record) is None
            finish(owner, done)
            assert await owner.claim_delivery(done) is True
            found = await rescue_until(rescuer, 1)
            assert [r.rollout_id for r in found] == ["first-2"]
            assert await rescuer.scan_lost() == []

    asyncio.run(run())


def test_owner_and_rescuer_racing_deliver_each_rollout_exactly_once(shared_store):
    ids = [f"race-{i}" for i in range(40)]

    async def run() -> None:
        async with (
            started(shared_store, heartbeat_interval=SILENT) as owner,
            started(shared_store, **LIVE) as rescuer,
        ):
            records = [in_flight(rollout_id) for rollout_id in ids]
            for record in records:
                assert await owner.claim(record) is None
                finish(owner, record)
            await asyncio.sleep(TIMEOUT)  # the owner is overdue from now on
            claims = asyncio.gather(*(owner.claim_delivery(r) for r in records))
            rescued: list[RolloutRecord] = []
            while not claims.done():
                rescued += await rescuer.scan_lost()
            owned = await claims
            rescued += await rescuer.scan_lost()
            won = {r.rollout_id for r, mine in zip(records, owned, strict=True) if mine}
            taken = [r.rollout_id for r in rescued]
            assert len(taken) == len(set(taken))
            assert won.isdisjoint(taken) and won | set(taken) == set(ids)

    asyncio.run(run())


async def wait_status(store: RecordStore, rollout_id: str, state: str) -> None:
    deadline = time.monotonic() + WAIT
    while ((await store.status(rollout_id)) or {}).get("state") != state:
        assert time.monotonic() < deadline, await store.status(rollout_id)
        await asyncio.sleep(0.05)


def rescue(store: RecordStore, record: RolloutRecord) -> None:
    """What the rescuer does once it delivered `record`'s server_lost."""
    record.state, record.delivered = RolloutState.LOST, True
    record.payload = {"rollout_id": record.rollout_id, "status": "ERROR"}
    record.callback = None
    store.rescued(record)


@contextlib.asynccontextmanager
async def a_rescue_chain(
    shared_store: Callable[..., RecordStore],
) -> AsyncIterator[tuple[RecordStore, RecordStore, RecordStore]]:
    """A silent owner, a first rescuer that falls silent too, and a second that lives."""
    async with (
        started(shared_store, heartbeat_interval=SILENT) as owner,
        started(shared_store, heartbeat_interval=SILENT, owner_timeout=TIMEOUT) as first,
        started(shared_store, **LIVE) as second,
    ):
        yield owner, first, second


def test_a_rescuer_that_falls_silent_before_it_delivered_is_rescued_in_turn(shared_store):
    async def run() -> None:
        async with a_rescue_chain(shared_store) as (owner, first, second):
            assert await owner.claim(in_flight("twice-1")) is None
            [taken] = await rescue_until(first, 1)
            [again] = await rescue_until(second, 1)  # `first` died before it delivered
            assert again.rollout_id == "twice-1" and again.owner == first.owner
            assert again.callback == Callback("http://127.0.0.1:9/trainer", "k-secret")
            assert again.history() == [{"role": "user", "content": "question twice-1"}]
            rescue(second, again)
            await wait_status(second, "twice-1", "lost")
            rescue(first, taken)  # a rescuer that comes back late does not undo the rescue
            await asyncio.sleep(0.3)  # give a wrong write time to land
            assert await second.scan_lost() == [] and await owner.scan_lost() == []
            assert (await second.status("twice-1") or {})["state"] == "lost"

    asyncio.run(run())


def test_a_finished_rescue_is_not_taken_over_when_its_rescuer_dies_later(shared_store):
    async def run() -> None:
        async with a_rescue_chain(shared_store) as (owner, first, second):
            assert await owner.claim(in_flight("once-1")) is None
            [taken] = await rescue_until(first, 1)
            rescue(first, taken)
            await wait_status(second, "once-1", "lost")
            assert first.health()["pending_writes"] == 0
            await asyncio.sleep(2 * TIMEOUT)  # `first` is silent from now on
            assert await second.scan_lost() == []

    asyncio.run(run())


def test_a_dead_process_of_this_machine_is_rescued_before_the_owner_timeout(shared_store):
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid names a process that no longer runs

    async def run() -> None:
        dead_owner = f"{socket.gethostname()}:{gone.pid}:{PID_SPACE}0a1b2c"
        async with started(shared_store, heartbeat_interval=SILENT, owner=dead_owner) as dead:
            assert await dead.claim(in_flight("pid-1")) is None
            async with started(shared_store, owner_timeout=SILENT) as rescuer:
                assert isinstance(rescuer, SharedStore)
                [found] = await rescue_until(rescuer, 1)
                assert found.rollout_id == "pid-1" and found.owner == dead_owner

    asyncio.run(run())


def test_a_process_of_this_host_name_that_sees_other_pids_is_judged_by_heartbeat():
    gone = subprocess.Popen(["true"])
    gone.wait()
    elsewhere = "0000" if PID_SPACE != "0000" else "0001"  # another container's pids
    owner = f"{socket.gethostname()}:{gone.pid}:{elsewhere}0a1b2c"
    assert not owner_dead(owner, "me") and owner_dead(f"{owner[:-10]}{PID_SPACE}0a1b2c", "me")
