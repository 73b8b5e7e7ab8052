"""TimeLimit and Slots keep the guarantees of asyncio.timeout and asyncio.Semaphore."""

from __future__ import annotations

import asyncio

import pytest

from rolloutctl.server.limits import Slots, TimeLimit
from tests.helpers import in_loop


@in_loop
async def test_time_limit_ends_the_block_in_timeout_error():
    limit = TimeLimit(0.05)
    with pytest.raises(TimeoutError), limit:
        await asyncio.sleep(60)
    assert limit.expired
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


@in_loop
async def test_time_limit_not_reached_changes_nothing():
    limit = TimeLimit(60)
    with limit:
        await asyncio.sleep(0)
    assert not limit.expired


@in_loop
async def test_the_blocks_own_timeout_error_is_not_the_limit():
    limit = TimeLimit(60)
    with pytest.raises(TimeoutError), limit:
        raise TimeoutError("the agent's own")
    assert not limit.expired


@in_loop
async def test_another_cancel_goes_on_even_when_the_time_passed_too():
    async def body(limit: TimeLimit) -> None:
        with limit:
            await asyncio.sleep(60)

    limit = TimeLimit(0.05)
    task = asyncio.create_task(body(limit))
    await asyncio.sleep(0)
    task.cancel()  # someone else's cancel, before the limit's
    limit._expire()  # and the limit's timer fires too
    with pytest.raises(asyncio.CancelledError):
        await task


@in_loop
async def test_slots_hold_at_most_size_and_serve_waiters_in_order():
    slots, order, inside = Slots(2), [], []

    async def holder(n: int) -> None:
        async with slots:
            inside.append(n)
            assert len(inside) <= 2
            order.append(n)
            await asyncio.sleep(0.01)
            inside.remove(n)

    await asyncio.wait_for(asyncio.gather(*(holder(n) for n in range(6))), 60)
    assert order == list(range(6))


@in_loop
async def test_a_cancelled_waiter_loses_no_slot():
    slots = Slots(1)
    release = asyncio.Event()

    async def hold() -> None:
        async with slots:
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter.cancel()  # cancelled while waiting
    handed = asyncio.create_task(hold())
    await asyncio.sleep(0)
    release.set()
    await asyncio.sleep(0)  # the holder leaves and hands its slot to `handed`
    await asyncio.wait_for(asyncio.gather(holder, handed), 60)
    with pytest.raises(asyncio.CancelledError):
        await waiter
    async with slots:  # the one slot is free again
        pass


@in_loop
async def test_a_waiter_cancelled_as_it_is_handed_the_slot_passes_it_on():
    slots = Slots(1)
    await slots.__aenter__()
    first = asyncio.create_task(slots.__aenter__())
    second = asyncio.create_task(slots.__aenter__())
    await asyncio.sleep(0)
    await slots.__aexit__()  # hands the slot to `first` ...
    first.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 60)  # so `second` got it
    await slots.__aexit__()
    await asyncio.wait_for(slots.__aenter__(), 60)
