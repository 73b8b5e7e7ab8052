"""The workers of `serve --workers N` as /health shows them, in memory they all share.

The supervisor makes one row per worker slot before it forks; a worker writes its own
row each second (and on every /health it answers), the supervisor writes the pid and
restart count when it (re)starts one, and clears the pid when one exits. Any worker
can then answer /health for all of them without a round-trip to anyone: rows are a
few floats, and a reader that sees a row half-written shows numbers one second old.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ALIVE_WITHIN", "CROWDED", "WorkerBoard"]

ALIVE_WITHIN = 5.0  # seconds since a worker's last heartbeat for it to count as alive
CROWDED = 1.25  # times its share of the rollouts in flight (plus 2) past which a worker sheds
BEAT = 1.0  # seconds between a worker's heartbeats
_FIELDS = ("pid", "started_at", "heartbeat_at", "active", "finished", "restarts")
_PID, _STARTED, _BEAT, _ACTIVE, _FINISHED, _RESTARTS = range(len(_FIELDS))

Counts = Callable[[], tuple[int, int]]  # (active, finished) of this worker's store


class WorkerBoard:
    """One row of floats per worker, in shared memory made before the fork."""

    def __init__(self, workers: int) -> None:
        self.size = workers
        self._cells = multiprocessing.RawArray("d", workers * len(_FIELDS))
        self.index: int | None = None  # this process's slot (None: the supervisor)

    def _set(self, index: int, field: int, value: float) -> None:
        self._cells[index * len(_FIELDS) + field] = value

    def _get(self, index: int, field: int) -> float:
        return float(self._cells[index * len(_FIELDS) + field])

    def started(self, index: int, pid: int, restart: bool) -> None:
        """The supervisor (re)started slot `index` as process `pid`."""
        self._set(index, _PID, pid)
        self._set(index, _STARTED, time.time())
        for field in (_BEAT, _ACTIVE, _FINISHED):
            self._set(index, field, 0.0)
        if restart:
            self._set(index, _RESTARTS, self._get(index, _RESTARTS) + 1)

    def exited(self, index: int) -> None:
        """The supervisor saw slot `index`'s process exit: not alive, and no pid to signal
        (a pid is soon another process's) until it is restarted."""
        self._set(index, _PID, 0.0)
        self._set(index, _BEAT, 0.0)

    def beat(self, counts: Counts) -> None:
        """This worker is alive, with these counts."""
        assert self.index is not None
        active, finished = counts()
        self._set(self.index, _ACTIVE, active)
        self._set(self.index, _FINISHED, finished)
        self._set(self.index, _BEAT, time.time())

    def crowded(self, active: int) -> bool:
        """Whether this worker, with `active` rollouts, has well over its share of all the
        workers' (the others' as of their last beat). A keep-alive connection stays with
        the worker the kernel gave it, so a trainer with a few connections can load one
        worker and leave another idle; a crowded worker closes the connection of the init
        it answers, and the client's next one lands where the kernel puts it."""
        assert self.index is not None
        self._set(self.index, _ACTIVE, active)
        share = sum(self._get(index, _ACTIVE) for index in range(self.size)) / self.size
        return active > share * CROWDED + 2

    def attach(self, index: int, counts: Counts) -> None:
        """In worker `index`: beat every second until the supervisor is gone, then stop
        this worker as SIGTERM does (drain), so no worker outlives its supervisor."""
        self.index = index
        supervisor = os.getppid()

        def beat_forever() -> None:
            while os.getppid() == supervisor:
                self.beat(counts)
                time.sleep(BEAT)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=beat_forever, name="rolloutctl-board", daemon=True).start()

    def others(self) -> list[int]:
        """The pids of the other workers alive now."""
        now = time.time()
        rows = [self._row(index, now) for index in range(self.size) if index != self.index]
        return [row["pid"] for row in rows if row["alive"] and row["pid"]]

    def health(self, counts: Counts) -> dict[str, Any]:
        """The part of /health about every worker, this one's row fresh; totals on top."""
        self.beat(counts)
        now = time.time()
        rows = [self._row(index, now) for index in range(self.size)]
        return {
            "active_rollouts": sum(row["active_rollouts"] for row in rows),
            "completed_rollouts": sum(row["completed_rollouts"] for row in rows),
            "worker": self.index,
            "workers": rows,
        }

    def _row(self, index: int, now: float) -> dict[str, Any]:
        beat = self._get(index, _BEAT)
        return {
            "index": index,
            "pid": int(self._get(index, _PID)),
            "alive": beat > 0 and now - beat < ALIVE_WITHIN,
            "active_rollouts": int(self._get(index, _ACTIVE)),
            "completed_rollouts": int(self._get(index, _FINISHED)),
            "restarts": int(self._get(index, _RESTARTS)),
            "heartbeat_age_s": round(now - beat, 3) if beat > 0 else None,
        }
