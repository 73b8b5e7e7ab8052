"""Ctrl-C reaches a command's event loop whichever thread the kernel hands SIGINT to."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from rolloutctl.eventloop import run_interruptible

# SIGINT sent to a worker thread while the loop waits on nothing that will ever happen:
# under plain asyncio.run this process sleeps forever (the loop is never woken).
PROBE = textwrap.dedent("""
    import asyncio, signal, sys, threading, time
    from rolloutctl.eventloop import run_interruptible

    def worker(ready):
        ready.set()
        time.sleep(600)

    async def main():
        ready = threading.Event()
        thread = threading.Thread(target=worker, args=(ready,), daemon=True)
        thread.start()
        ready.wait()
        presses = int(sys.argv[1])
        for n in range(presses):
            asyncio.get_running_loop().call_later(
                0.2 * (n + 1), signal.pthread_kill, thread.ident, signal.SIGINT
            )
        try:
            await asyncio.Event().wait()
        finally:
            if presses > 1:  # a clean-up that would never end: the second Ctrl-C ends it
                await asyncio.Event().wait()

    try:
        run_interruptible(main(), fast_loop=sys.argv[2] == "fast")
    except KeyboardInterrupt:
        print("interrupted")
""")


@pytest.mark.parametrize("loop", ["asyncio", "fast"])
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_caught_by_another_thread_still_interrupts(presses, loop):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(presses), loop],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout == "interrupted\n", result.stderr


def test_the_coroutines_result_and_errors_pass_through():
    async def answer() -> int:
        return 42

    async def broken() -> None:
        raise ValueError("no")

    assert run_interruptible(answer()) == 42
    with pytest.raises(ValueError, match="no"):
        run_interruptible(broken(), fast_loop=True)
