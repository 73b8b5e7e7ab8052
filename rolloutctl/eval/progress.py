"""Progress of an eval run: a live bar on a terminal, a plain line now and then elsewhere.

Both read the runner's `Tally` from a side task, so the workers never wait on drawing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rolloutctl.eval.workers import Tally

__all__ = [
    "counts_text",
    "plain_line",
    "showing_progress",
]

BAR_INTERVAL = 0.1
PLAIN_INTERVAL = 5.0


def counts_text(tally: Tally) -> str:
    """`COMPLETED 118 ERROR 2 reward 0.950`: the running outcome of the run."""
    parts = [f"COMPLETED {tally.statuses['COMPLETED']}", f"ERROR {tally.statuses['ERROR']}"]
    if tally.mean_reward is not None:
        parts.append(f"reward {tally.mean_reward:.3f}")
    return " ".join(parts)


def plain_line(tally: Tally) -> str:
    """One progress line: done/total, rate, ETA and the counts."""
    elapsed = max(time.perf_counter() - tally.started, 1e-9)
    rate = tally.done / elapsed
    left = tally.total - tally.done
    eta = f"{left / rate:.0f} s" if rate > 0 else "?"
    percent = 100 * tally.done / tally.total if tally.total else 100.0
    return (
        f"eval: {tally.done}/{tally.total} ({percent:.0f}%) {rate:.1f}/s ETA {eta} "
        + counts_text(tally)
    )


@contextlib.asynccontextmanager
async def showing_progress(
    tally: Tally, console: Console, live: bool, interval: float = PLAIN_INTERVAL
) -> AsyncIterator[None]:
    """Draw progress on `console` while the block runs: a bar when `live`, else lines."""
    if live:
        columns = (
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}/s"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[counts]}"),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            row = bar.add_task("eval", total=tally.total, rate="0.0", counts="")

            def draw() -> None:
                elapsed = max(time.perf_counter() - tally.started, 1e-9)
                rate = f"{tally.done / elapsed:.1f}"
                bar.update(row, completed=tally.done, rate=rate, counts=counts_text(tally))

            async with _ticking(draw, BAR_INTERVAL):
                yield
        return
    async with _ticking(lambda: console.print(plain_line(tally)), interval, first=False):
        yield
    if tally.total:
        console.print(plain_line(tally))


@contextlib.asynccontextmanager
async def _ticking(
    draw: Callable[[], None], interval: float, first: bool = True
) -> AsyncIterator[None]:
    async def tick() -> None:
        if not first:
            await asyncio.sleep(interval)
        while True:
            draw()
            await asyncio.sleep(interval)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        if first:
            draw()
