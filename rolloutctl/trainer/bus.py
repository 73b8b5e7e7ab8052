"""Fan-out of events and wake-ups across event loops.

The trainer's app may be served by uvicorn in another thread (tests) or in the
caller's own loop (`try`, bench). Subscribers and waiters therefore remember their
loop, and are woken directly when the publisher runs in it, thread-safely otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from rolloutctl.events import Event

__all__ = [
    "EventBus",
    "Listener",
    "Subscription",
    "Waiters",
    "call_in_loop",
    "wait_within",
]


def call_in_loop(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
    """Run `callback(*args)` in `loop`: now if we are in it, else via call_soon_threadsafe."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        callback(*args)
        return
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits there any more
        loop.call_soon_threadsafe(callback, *args)


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


_TIMED_OUT = object()


async def wait_within(future: asyncio.Future[Any], timeout: float) -> bool:
    """Await a waiter of `Waiters` for up to `timeout` seconds; False if time ran out first.
    One loop timer: asyncio.wait_for's timeout block costs several times more, and bench
    waits twice per rollout."""
    timer = asyncio.get_running_loop().call_later(timeout, _resolve, future, _TIMED_OUT)
    try:
        return await future is not _TIMED_OUT
    finally:
        timer.cancel()


class Waiters:
    """Futures, each in its own loop, all resolved with one value by `fire`."""

    __slots__ = ("_futures",)

    def __init__(self) -> None:
        self._futures: list[asyncio.Future[Any]] = []

    def add(self) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        self._futures.append(future)
        return future

    def fire(self, value: Any = None) -> None:
        futures, self._futures = self._futures, []
        for future in futures:
            call_in_loop(future.get_loop(), _resolve, future, value)


_CLOSED = object()


class Subscription:
    """An async iterator of events, optionally of one rollout; create it inside a running loop."""

    def __init__(self, bus: EventBus, rollout_id: str | None = None) -> None:
        self._bus, self.rollout_id = bus, rollout_id
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = False

    def push(self, event: Event) -> None:
        if self.rollout_id is None or event.rollout_id == self.rollout_id:
            call_in_loop(self._loop, self._queue.put_nowait, event)

    def close(self) -> None:
        """End the iteration (after the events already queued)."""
        if not self.closed:
            self.closed = True
            self._bus.remove(self)
            call_in_loop(self._loop, self._queue.put_nowait, _CLOSED)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Listener:
    """A subscriber the publisher calls directly, with no queue or task switch per event.

    Only for consumers in the publisher's own thread (the trainer served in the
    caller's loop, as `eval` does), where that hop per event is measurable.
    """

    def __init__(self, bus: EventBus, callback: Callable[[Event], None]) -> None:
        self._bus, self._callback = bus, callback

    def push(self, event: Event) -> None:
        self._callback(event)

    def close(self) -> None:
        self._bus.remove(self)


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscription | Listener] = []

    @property
    def active(self) -> bool:
        """Whether anyone listens: callers skip building events when nobody does."""
        return bool(self._subscribers)

    def subscribe(self, rollout_id: str | None = None) -> Subscription:
        subscription = Subscription(self, rollout_id)
        self._subscribers = [*self._subscribers, subscription]
        return subscription

    def listen(self, callback: Callable[[Event], None]) -> Listener:
        """Call `callback` with every event from now on, synchronously (see Listener)."""
        listener = Listener(self, callback)
        self._subscribers = [*self._subscribers, listener]
        return listener

    def remove(self, subscription: Subscription | Listener) -> None:
        self._subscribers = [s for s in self._subscribers if s is not subscription]

    def publish(self, event: Event) -> None:
        for subscription in self._subscribers:
            subscription.push(event)

    def close(self) -> None:
        for subscription in self._subscribers:
            subscription.close()
