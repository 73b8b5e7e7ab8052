"""The rollout time limit and the concurrency limit, each at a fraction of asyncio's cost.

Every rollout enters both once. `asyncio.timeout` and `asyncio.Semaphore` showed in a busy
server's profile (BENCHMARKS.md, "Second round"); these keep their guarantees with less work:
`TimeLimit` is one loop timer and a sync context manager, `Slots` hands a freed slot
straight to the first waiter.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType

__all__ = ["Slots", "TimeLimit"]


class TimeLimit:
    """`with TimeLimit(seconds):` inside a task, like `async with asyncio.timeout(seconds)`.

    When the time passes, the task is cancelled, and the block ends in TimeoutError,
    unless someone else cancelled the task too: then their cancel goes on
    (CancelledError), as with asyncio.timeout. `expired` says whether the time passed.
    """

    __slots__ = ("_cancelling", "_handle", "_seconds", "_task", "expired")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self.expired = False

    def __enter__(self) -> TimeLimit:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("TimeLimit is used inside a task")
        self._task, self._cancelling = task, task.cancelling()
        self._handle = asyncio.get_running_loop().call_later(self._seconds, self._expire)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._handle.cancel()
        if (
            self.expired
            and exc_type is asyncio.CancelledError
            and self._task.uncancel() <= self._cancelling
        ):
            raise TimeoutError from exc

    def _expire(self) -> None:
        self.expired = True
        self._task.cancel()


class Slots:
    """At most `size` holders at once (`async with slots:`); waiters go first come, first served.

    A slot freed while others wait goes straight to the first of them; a waiter that is
    cancelled as it is handed a slot passes it on, so no slot is ever lost.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed a slot as it was cancelled: pass it on
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a cancelled waiter is done: skip it
                waiter.set_result(None)
                return
        self._free += 1
