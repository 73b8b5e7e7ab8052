"""What the server's observer costs per rollout, in process: CPU of its calls alone.

A calculator rollout's points, in order, as the server makes them: accepted, started,
two chat calls (each opened, tried once, answered, ended) with one tool call between
them, finished, the completion's delivery (opened, tried once, delivered). Metrics only,
or metrics with the rollout traced (its five spans made and queued; none is sent: the
queue is unbounded and never drained here). The best of five rounds of `--rollouts`
is printed. End-to-end figures are benchmarks/observe_overhead.py's; this one is
steadier on a shared machine, and says what the observer's own code costs.

    uv run python benchmarks/observer_calls.py [--rollouts 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from rolloutctl.observe.hooks import notify
from rolloutctl.observe.observer import Observer
from rolloutctl.observe.server_metrics import ServerMetrics
from rolloutctl.observe.spans import TracedWatch
from rolloutctl.observe.tracing import Tracing
from rolloutctl.server.callbacks import Delivery

ANSWER = {"model": "mock", "usage": {"prompt_tokens": 31, "completion_tokens": 12}}
TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
PAYLOAD = {"status": "COMPLETED", "extra_fields": {}}
DELIVERED = Delivery(True, 1)


class FakeRollout:
    """What the observer reads of a rollout."""

    __slots__ = ("rollout_id", "trace", "watch")

    def __init__(self, n: int) -> None:
        self.rollout_id, self.trace, self.watch = f"rollout-{n}", None, None


def one_rollout(observers: list[Any], n: int) -> None:
    rollout = FakeRollout(n)
    notify(observers, "accepted", rollout)
    notify(observers, "started", rollout)
    for turn in range(2):
        watch = rollout.watch
        watch.opened("chat")
        watch.callback("chat", 1, True)
        watch.answered(ANSWER)
        notify(observers, "llm_call", rollout, 0.002, None)
        if turn == 0:
            notify(observers, "tool_call", rollout, TOOL_CALL, "8", 0.0001)
    notify(observers, "finished", rollout, PAYLOAD)
    rollout.watch.opened("completed")
    rollout.watch.callback("completed", 1, True)
    notify(observers, "delivered", rollout, DELIVERED)


def observer(traced: bool) -> tuple[Observer, Tracing | None]:
    made = Observer("calculator", ServerMetrics("calculator"))
    if not traced:
        return made, None
    ignore: list[int] = []  # counts of dropped or failed spans: none here
    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = str(10**12)  # the export thread never wakes
    tracing = Tracing("rolloutctl", ignore.append, ignore.append, "http://127.0.0.1:9/v1/traces")
    tracing.queue.size = tracing.queue.batch = 2**62  # every span kept
    made.tracing, made._traced = tracing, TracedWatch
    return made, tracing


async def measure(traced: bool, rollouts: int) -> float:
    """µs of CPU per rollout, the best of five rounds."""
    made, tracing = observer(traced)
    for n in range(2000):  # warm-up: caches, bound children, encoded keys
        one_rollout([made], n)
    best = float("inf")
    for _ in range(5):
        if tracing is not None:
            tracing.queue._queue.clear()
        started = time.process_time()
        for n in range(rollouts):
            one_rollout([made], n)
        best = min(best, (time.process_time() - started) / rollouts * 1e6)
    if tracing is not None:
        tracing.queue._queue.clear()
        tracing.shutdown()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=20000)
    options = parser.parse_args()
    for traced in (True, False):
        spent = asyncio.run(measure(traced, options.rollouts))  # chat spans are kept by task
        what = "metrics + the rollout traced" if traced else "metrics only"
        print(f"{what}: {spent:.1f} µs of CPU per rollout")


if __name__ == "__main__":
    main()
