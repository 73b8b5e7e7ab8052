"""`/metrics` of `serve --workers N`: every worker's series, through prometheus-client's
multiprocess mode.

Each worker writes its values to files of its own (by pid) in a private folder the
supervisor makes before it forks and removes at exit; whichever worker a scrape
reaches reads every file. A worker that dies leaves its counters and histograms
there, so totals never go back when it is replaced; its gauges are dropped
(`forget_worker`). Every series keeps its `replica` label (host:pid of the worker),
as replicas of a server have theirs. The gauges an observer reads from a function
(queued, in flight, oldest) are copied into the files every second and before a scrape.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from prometheus_client import CollectorRegistry, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from rolloutctl.observe.observer import Observer

__all__ = ["GAUGE_EVERY", "WorkersMetrics", "forget_worker", "share_values"]

GAUGE_EVERY = 1.0  # seconds between copies of a worker's function gauges into its files


def share_values(folder: Path) -> None:
    """In a worker, before its metrics are made: their values go to files in `folder`
    (what prometheus-client does when its variable is set before it is imported)."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


def forget_worker(folder: Path, pid: int) -> None:
    """In the supervisor, once worker `pid` has exited: drop its gauges (its counts stay)."""
    mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]


class WorkersMetrics:
    """What a worker's /metrics serves: the series of every worker, its own fresh."""

    def __init__(self, folder: Path, observer: Observer) -> None:
        self.folder, self.observer = folder, observer

    def registry(self) -> CollectorRegistry:
        """A registry reading every worker's files (made per scrape: nothing is cached)."""
        self.copy_gauges()
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.folder))  # type: ignore[no-untyped-call]
        return registry

    def copy_gauges(self) -> None:
        observer, metrics = self.observer, self.observer.metrics
        metrics.queued.set(observer.queued)
        metrics.in_flight.set(observer.running_now)
        metrics.oldest.set(observer.oldest_age())

    async def copy_gauges_forever(self) -> None:
        while True:
            self.copy_gauges()
            await asyncio.sleep(GAUGE_EVERY)
