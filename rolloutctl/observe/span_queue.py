"""A bounded queue of ended spans whose drops are counted, exported by a thread of its own.

The SDK's BatchSpanProcessor is bounded too, but it drops silently (a log line) and
gives no public count; an operator needs the number in /metrics. Ending a span only
appends to a deque; a daemon thread exports batches, so a slow or absent receiver
costs the rollouts nothing but the spans it cannot take.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

__all__ = ["BoundedSpanQueue"]

Count = Callable[[int], None]


class BoundedSpanQueue[T]:
    """Exports ended spans in batches of `batch` from a queue of at most `size`.

    `export(batch)` sends one batch and says whether it was delivered; `dropped(n)` is
    told of spans refused because the queue was full, `failed(n)` of spans in batches
    that were not delivered.
    """

    def __init__(
        self,
        export: Callable[[list[T]], bool],
        dropped: Count,
        failed: Count,
        size: int = 2048,
        batch: int = 2048,
        delay: float = 1.0,
    ) -> None:
        self.export, self.size, self.batch, self.delay = export, size, batch, delay
        self._dropped, self._failed = dropped, failed
        self._queue: collections.deque[T] = collections.deque()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="rolloutctl-spans", daemon=True)
        self._thread.start()

    def put(self, span: T) -> None:
        """The rollout's side: an append, or a count when the queue is full."""
        if len(self._queue) >= self.size or self._stopping:
            self._dropped(1)
            return
        self._queue.append(span)
        if len(self._queue) >= self.batch and not self._wake.is_set():
            self._wake.set()  # once per batch: a set takes a lock and wakes the thread

    def _work(self) -> None:
        while not self._stopping:
            self._wake.wait(self.delay)
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        self._idle.clear()
        while self._queue:
            spans = [self._queue.popleft() for _ in range(min(self.batch, len(self._queue)))]
            try:
                ok = self.export(spans)
            except Exception:  # an exporter bug must not end the thread
                ok = False
            if not ok:
                self._failed(len(spans))
        self._idle.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until what is queued now has been handed to the exporter."""
        deadline = time.monotonic() + timeout_millis / 1000
        while self._queue or not self._idle.is_set():
            self._wake.set()
            if time.monotonic() > deadline:
                return False
            self._idle.wait(0.05)
        return True

    def shutdown(self) -> None:
        """Export what is queued (within 10 s), then stop the thread."""
        self.force_flush(10_000)
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=1.0)
