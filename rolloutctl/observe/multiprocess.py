"""`/metrics` of `serve --workers N`: every worker's series, from snapshots the workers share.

Each worker counts in memory, as a single server does: an increment costs the same
(prometheus-client's multiprocess mode wrote every one to a memory-mapped file, 2.7x
the cost). A worker writes a snapshot of its samples to a file of its own (by pid) in a
private folder the supervisor makes before it forks: every second, when another
worker asks (SIGUSR1) before it answers a scrape, and as it exits. The worker a scrape
reaches asks the others, waits a bounded time for their fresh snapshots, writes its
own, and serves them all merged. What a scrape shows is always in a file first, so a
worker that dies leaves counters and histograms at least as high as any scrape saw:
totals never go back. Its gauges are dropped (`forget_worker`). Every series keeps
its `replica` label (host:pid of the worker), as replicas of a server have theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Metric

__all__ = [
    "ASK_SIGNAL",
    "ASK_WITHIN",
    "PUBLISH_EVERY",
    "WorkersMetrics",
    "forget_worker",
    "merged",
    "read_snapshot",
    "write_snapshot",
]

PUBLISH_EVERY = 1.0  # seconds between a worker's snapshots
# seconds a scrape waits at most for the other workers' fresh snapshots: they come in
# milliseconds, but a worker the machine starves for a second must not make a scrape stale;
# well inside Prometheus' default scrape timeout (10 s)
ASK_WITHIN = 5.0
ASK_SIGNAL = signal.SIGUSR1  # "write your snapshot now"; ignored until a worker listens


def _path(folder: Path, pid: int) -> Path:
    return folder / f"{pid}.json"


def _temporary(folder: Path, pid: int) -> Path:
    """Where a snapshot is written before it replaces the last one whole."""
    return folder / f"{pid}.json.tmp"


def write_snapshot(folder: Path, pid: int, at: float, families: Iterable[Metric]) -> None:
    """Worker `pid`'s samples as of `at`, replacing its last snapshot whole."""
    rows = [
        [f.name, f.documentation, f.type, f.unit, [[s.name, s.labels, s.value] for s in f.samples]]
        for f in families
    ]
    temporary = _temporary(folder, pid)
    temporary.write_text(json.dumps({"at": at, "families": rows}))
    os.replace(temporary, _path(folder, pid))


def read_snapshot(path: Path) -> tuple[float, list[Metric]]:
    """(when it was taken, its families); (0, []) for a file gone meanwhile."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return 0.0, []
    families = []
    for name, documentation, kind, unit, samples in data["families"]:
        family = Metric(name, documentation, kind, unit)
        for sample_name, labels, value in samples:
            family.add_sample(sample_name, labels, value)
        families.append(family)
    return float(data["at"]), families


def forget_worker(folder: Path, pid: int) -> None:
    """In the supervisor, once worker `pid` has exited: drop its gauges (its counts stay)."""
    _temporary(folder, pid).unlink(missing_ok=True)
    at, families = read_snapshot(_path(folder, pid))
    if families:
        write_snapshot(folder, pid, at, [f for f in families if f.type != "gauge"])


class _Families:
    """A collector answering fixed families (what a scrape serves)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def merged(snapshots: Iterable[Iterable[Metric]]) -> CollectorRegistry:
    """One family per name, with the samples of every snapshot."""
    families: dict[str, Metric] = {}
    for snapshot in snapshots:
        for family in snapshot:
            into = families.get(family.name)
            if into is None:
                into = Metric(family.name, family.documentation, family.type, family.unit)
                families[family.name] = into
            into.samples.extend(family.samples)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(list(families.values())))
    return registry


class WorkersMetrics:
    """A worker's part: its snapshots, and the merged registry its /metrics serves.
    `others` gives the pids of the other workers alive now (the worker board)."""

    def __init__(self, folder: Path, registry: CollectorRegistry, others: Callable[[], list[int]]):
        self.folder, self.registry, self.others = folder, registry, others
        self.pid = os.getpid()

    def publish(self) -> list[Metric]:
        """Write this worker's snapshot now; its families."""
        at = time.time()
        families = list(self.registry.collect())
        write_snapshot(self.folder, self.pid, at, families)
        return families

    async def publish_forever(self) -> None:
        """Every second and when asked, while the server runs (the worker publishes once
        more as it exits, after its drain)."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(ASK_SIGNAL, self.publish)
        try:
            while True:
                self.publish()
                await asyncio.sleep(PUBLISH_EVERY)
        finally:
            loop.remove_signal_handler(ASK_SIGNAL)
            signal.signal(ASK_SIGNAL, signal.SIG_IGN)  # a late ask must not end this worker

    async def scraped(self) -> CollectorRegistry:
        """Every worker's series: the others asked for fresh snapshots, this one's own."""
        asked_at, asked = time.time(), self.others()
        for pid in asked:
            with contextlib.suppress(OSError):  # gone meanwhile
                os.kill(pid, ASK_SIGNAL)
        own = self.publish()
        return merged([own, *await self._others(asked, asked_at)])

    async def _others(self, asked: list[int], since: float) -> list[list[Metric]]:
        """The other snapshots, once those asked are newer than `since` (or time is up)."""
        snapshots = {
            int(path.name.removesuffix(".json")): read_snapshot(path)
            for path in self.folder.glob("*.json")
            if path.name != f"{self.pid}.json"
        }
        deadline = time.monotonic() + ASK_WITHIN
        while stale := [pid for pid in asked if snapshots.get(pid, (0.0, []))[0] < since]:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.005)
            snapshots.update((pid, read_snapshot(_path(self.folder, pid))) for pid in stale)
        return [families for _, families in snapshots.values()]
