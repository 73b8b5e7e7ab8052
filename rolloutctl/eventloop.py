"""Running a command's coroutine to its end, or to Ctrl-C, whichever comes first.

`asyncio.run` catches Ctrl-C with a plain signal handler, and Python runs those in the
main thread only. When the kernel hands SIGINT to another thread of the process (the
resolver's worker, a spinner's, a tool's), a loop blocked in its selector is not woken
and sleeps on until its next event: on a busy machine `watch` once ignored Ctrl-C for
minutes while its event stream was quiet. `loop.add_signal_handler` goes through the
loop's wakeup fd instead, which a signal caught by any thread reaches.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["run_interruptible"]


class _Interrupted(Exception):
    """Carries a Ctrl-C out of the loop, which ends normally, to be re-raised outside it."""


def run_interruptible[T](coro: Coroutine[Any, Any, T], *, fast_loop: bool = False) -> T:
    """Run `coro` in a new event loop; Ctrl-C cancels it and raises KeyboardInterrupt here.

    A second Ctrl-C raises at once, whatever the coroutine is still cleaning up.
    `fast_loop` runs it on uvloop when installed (bench and eval: less CPU per rollout).
    """
    try:
        return asyncio.run(_until_interrupt(coro), loop_factory=_loop_factory(fast_loop))
    except _Interrupted:
        raise KeyboardInterrupt from None


def _loop_factory(fast_loop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if not fast_loop:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _until_interrupt[T](coro: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    interrupts = 0

    def on_interrupt() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            raise KeyboardInterrupt  # out of the loop now
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
        return await coro
    try:
        return await coro
    except asyncio.CancelledError:
        if interrupts and task.uncancel() == 0:
            raise _Interrupted from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)
