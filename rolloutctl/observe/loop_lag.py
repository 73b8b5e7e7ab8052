"""Event-loop lag: how late the loop wakes a task that asked to sleep a known time.

A loop busy with CPU work (a blocking tool, a huge JSON body) runs everything late,
and every rollout's figures with it; this is the one number that shows it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["INTERVAL", "Observes", "measure_lag"]

INTERVAL = 0.25


class Observes(Protocol):
    def observe(self, amount: float) -> None: ...


async def measure_lag(histogram: Observes, interval: float = INTERVAL) -> None:
    """Sleep `interval` seconds, again and again; observe how much longer each one took."""
    while True:
        asked = time.perf_counter() + interval
        await asyncio.sleep(interval)
        histogram.observe(max(0.0, time.perf_counter() - asked))
