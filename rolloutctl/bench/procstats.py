"""CPU time and memory of a process, read from Linux's /proc.

The bench samples the server under test (a child process) and itself the same way,
so the two figures compare: CPU seconds from /proc/<pid>/stat (user + system) and
resident memory from /proc/<pid>/status. On systems without /proc every reading is
None and the report says "n/a" instead of a made-up number.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MIB", "PeakRss", "ProcSample", "machine_cpu", "sample", "sample_all", "sample_tree"]

MIB = 1024 * 1024
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class ProcSample:
    cpu_s: float  # user + system CPU seconds since the process started
    rss_bytes: int  # resident set size now


def sample(pid: int | None = None) -> ProcSample | None:
    """The process's CPU time and RSS now (this process when `pid` is None); None if gone."""
    return _read(f"/proc/{pid if pid is not None else 'self'}", reaped=False)


def _read(where: str, reaped: bool) -> ProcSample | None:
    """CPU and RSS from /proc; with `reaped`, the CPU of the children it waited for too."""
    try:
        with open(f"{where}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        with open(f"{where}/status", "rb") as status:
            rss_kib = next(int(line.split()[1]) for line in status if line.startswith(b"VmRSS:"))
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    # after the ")" that ends the command name: utime, stime, cutime, cstime are fields 12-15
    ticks = sum(int(field) for field in fields[11 : 15 if reaped else 13])
    return ProcSample(ticks / _CLOCK_TICKS, rss_kib * 1024)


def sample_tree(pid: int) -> ProcSample | None:
    """The summed CPU time and RSS of process `pid` and all its descendants (the workers
    of `serve --workers N` do the work; their parent only watches); None if `pid` is gone.

    The CPU of descendants that exited and were waited for stays in (the kernel adds it
    to their parent's), so a worker that died mid-run is not lost. RSS counts pages that
    forked processes share once per process: an upper bound."""
    root = _read(f"/proc/{pid}", reaped=True)
    if root is None:
        return None
    found = [s for s in (_read(f"/proc/{child}", reaped=True) for child in _descendants(pid)) if s]
    return ProcSample(
        root.cpu_s + sum(s.cpu_s for s in found), root.rss_bytes + sum(s.rss_bytes for s in found)
    )


def _descendants(pid: int) -> list[int]:
    """The pids below `pid`, from each thread's /proc children list (Linux)."""
    found: list[int] = []
    stack = [pid]
    while stack:
        for children in glob.glob(f"/proc/{stack.pop()}/task/*/children"):
            with contextlib.suppress(OSError, ValueError):
                with open(children, "rb") as listed:
                    kids = [int(child) for child in listed.read().split()]
                found.extend(kids)
                stack.extend(kids)
    return found


def sample_all(pids: Sequence[int]) -> ProcSample | None:
    """The summed CPU time and RSS of the process trees of `pids` (the replicas of one
    server, each with its workers); None if any is gone."""
    samples = [sample_tree(pid) for pid in pids]
    if not samples or None in samples:
        return None
    return ProcSample(sum(s.cpu_s for s in samples if s), sum(s.rss_bytes for s in samples if s))


class PeakRss:
    """Samples the summed RSS of processes every `interval` seconds while running, keeping
    the peak.

    The peak is what an operator has to provision; before/after alone would miss a
    spike in the middle of a run.
    """

    def __init__(self, pids: Sequence[int], interval: float = 0.25) -> None:
        self.pids, self.interval = pids, interval
        self.peak_bytes = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> int:
        """Stop sampling; return the peak RSS in bytes (0 if never readable)."""
        self._take()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.peak_bytes

    async def _watch(self) -> None:
        while True:
            self._take()
            await asyncio.sleep(self.interval)

    def _take(self) -> None:
        now = sample_all(self.pids)
        if now is not None:
            self.peak_bytes = max(self.peak_bytes, now.rss_bytes)


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat; None if unknown.

    Compared with the bench's and the server's own CPU it shows how much other load
    shared the machine during a run, which makes a figure trustworthy or not.
    """
    try:
        with open("/proc/stat", "rb") as stat:
            ticks = [int(n) for n in stat.readline().split()[1:9]]  # guest time is in user
    except (OSError, ValueError):
        return None
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks) - idle) / _CLOCK_TICKS, sum(ticks) / _CLOCK_TICKS
