"""The eval loop: C workers take (row, epoch) tasks, run each as one rollout, keep the record.

One MockTrainer serves every rollout (its policy answers the chat calls) and its events
feed a `TrajectoryBuilder` per rollout in flight, so every record carries
the same trajectory `try` would save. A finished rollout is written at once and then
forgotten by the trainer: memory stays flat over any number of rows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rolloutctl.errors import InitError, InitRefused
from rolloutctl.eval.dataset import Row
from rolloutctl.eval.outcomes import classify
from rolloutctl.eval.results import Outcome, RunDirectory
from rolloutctl.events import Event
from rolloutctl.harness import LocalStack
from rolloutctl.trajectory.builder import TrajectoryBuilder
from rolloutctl.trajectory.summary import summarize

__all__ = [
    "EvalConfig",
    "EvalRunner",
    "Tally",
    "Task",
    "build_init",
    "grade",
    "v1_ending",
]

ATTEMPT_FIELDS = ("rollout_id", "outcome", "error_category", "error_message", "latency_ms")

Grader = Callable[[dict[str, Any], dict[str, Any]], float]


@dataclass(frozen=True)
class EvalConfig:
    concurrency: int = 8
    timeout: float = 300.0  # seconds one rollout may take before it counts as lost
    seed: int | None = None  # sent as completion_params.seed (+ epoch) when given
    server_key: str | None = field(default=None, repr=False)
    retry_errors: int = 0  # new attempts for a rollout that ended in an infrastructure error
    fail_fast: bool = False  # -x: start no rollout after the first that did not pass
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])


@dataclass(frozen=True, slots=True)
class Task:
    row: Row
    epoch: int


@dataclass
class Tally:
    """Running counts for the progress view."""

    total: int
    done: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    reward_sum: float = 0.0
    rewards: int = 0
    started: float = field(default_factory=time.perf_counter)
    last: float = 0.0  # when the latest rollout finished
    stopped_at: tuple[int, int] | None = None  # -x: the (row, epoch) that stopped the run
    server_metrics: dict[str, float | None] = field(default_factory=dict)  # its /metrics

    def add(self, outcome: Outcome) -> None:
        self.done += 1
        self.last = time.perf_counter()
        self.statuses[outcome.status] += 1
        if outcome.reward is not None:
            self.reward_sum += outcome.reward
            self.rewards += 1

    @property
    def rate(self) -> float:
        """Rollouts per second from the first init to the latest finish."""
        return self.done / (self.last - self.started) if self.done else 0.0

    @property
    def mean_reward(self) -> float | None:
        return self.reward_sum / self.rewards if self.rewards else None


def build_init(rollout_id: str, task: Task, seed: int | None) -> dict[str, Any]:
    """The init of one task: the row's messages, with `ground_truth` in the metadata."""
    row = task.row
    metadata = dict(row.metadata)
    if row.ground_truth is not None:
        metadata["ground_truth"] = row.ground_truth
    params = dict(row.completion_params)
    if seed is not None:
        params.setdefault("seed", seed + task.epoch)
    init: dict[str, Any] = {
        "rollout_id": rollout_id,
        "messages": row.messages,
        "completion_params": params,
        "metadata": metadata,
    }
    if row.max_turns is not None:
        init["max_turns"] = row.max_turns
    return init


def v1_ending(completion: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """A v1 completion's (status, error_category, error_message)."""
    category = (completion.get("extra_fields") or {}).get("error_category")
    return completion.get("status"), category, completion.get("error_message")


class EvalRunner:
    def __init__(
        self,
        stack: LocalStack,
        config: EvalConfig,
        run_dir: RunDirectory,
        tally: Tally,
        grader: Grader | None = None,
    ) -> None:
        self.stack, self.config, self.run_dir = stack, config, run_dir
        self.tally, self.grader = tally, grader
        self._builders: dict[str, TrajectoryBuilder] = {}

    ending = staticmethod(v1_ending)  # how a completion reads as (status, category, message)

    async def run(self, tasks: list[Task]) -> None:
        # The trainer serves in this loop, so its events can feed the builders directly.
        listener = self.stack.trainer.bus.listen(self._on_event)
        queue = iter(tasks)
        try:
            workers = min(self.config.concurrency, len(tasks))
            await asyncio.gather(*(self._worker(queue) for _ in range(workers)))
        finally:
            listener.close()

    def _on_event(self, event: Event) -> None:
        builder = self._builders.get(event.rollout_id)
        if builder is not None:
            builder.add(event)

    async def _worker(self, queue: Iterator[Task]) -> None:
        for task in queue:
            if self.tally.stopped_at is not None:
                return  # -x: what is in flight finishes and is kept, nothing new starts
            record = await self._one(task)
            self.run_dir.write(record)
            self.tally.add(Outcome.of(record))
            if self.config.fail_fast and record["outcome"] != "passed":
                self.tally.stopped_at = self.tally.stopped_at or (task.row.index, task.epoch)

    async def _one(self, task: Task) -> dict[str, Any]:
        """Run one task, again while it ends in an infrastructure error and retries are left;
        the record keeps what each earlier attempt ended with."""
        rollout_id = f"eval-{self.config.run_id}-{task.row.index}-{task.epoch}"
        record = await self._attempt(task, rollout_id)
        attempts: list[dict[str, Any]] = []
        while record["outcome"] == "error" and len(attempts) < self.config.retry_errors:
            attempts.append({k: record[k] for k in ATTEMPT_FIELDS})
            record = await self._attempt(task, f"{rollout_id}-retry{len(attempts)}")
        if attempts:
            record["attempts"] = [*attempts, {k: record[k] for k in ATTEMPT_FIELDS}]
        return record

    async def _attempt(self, task: Task, rollout_id: str) -> dict[str, Any]:
        """One rollout; its builder has every event up to the completion when the wait ends
        (the trainer publishes the completion before it wakes the waiter)."""
        builder = self._builders[rollout_id] = TrajectoryBuilder(rollout_id)
        started = time.perf_counter()
        failure: tuple[str, str] | None = None
        try:
            failure = await self._drive(task, rollout_id)
        except InitRefused as exc:
            failure = ("init_refused", str(exc))
        except InitError as exc:
            failure = ("init_error", str(exc))
        finally:
            self._builders.pop(rollout_id, None)
            known = self._known(rollout_id)
            self.stack.trainer.forget(rollout_id)
        latency_ms = (time.perf_counter() - started) * 1000
        trajectory = builder.trajectory(copy_it=False) | known  # the builder is done with it
        return self._record(task, rollout_id, trajectory, latency_ms, failure)

    async def _drive(self, task: Task, rollout_id: str) -> tuple[str, str] | None:
        """Send the rollout and wait for its completion: None, or (category, message)."""
        init = build_init(rollout_id, task, self.config.seed)
        handle = await self.stack.trainer.start_rollout(
            self.stack.server_url, init, self.config.server_key
        )
        if await handle.wait(self.config.timeout) is None:
            return ("no_completion", f"no completion within {self.config.timeout:g} s")
        return None

    def _known(self, rollout_id: str) -> dict[str, Any]:
        """What the trainer knows of the rollout beyond its events, before it forgets it."""
        return {}

    def _record(
        self,
        task: Task,
        rollout_id: str,
        trajectory: dict[str, Any],
        latency_ms: float,
        failure: tuple[str, str] | None,
    ) -> dict[str, Any]:
        summary = summarize(trajectory)
        completion = trajectory.get("completion") or {}
        status, category, message = (failure and ("ERROR", *failure)) or self.ending(completion)
        record = {
            "row": task.row.index,
            "id": task.row.id,
            "epoch": task.epoch,
            "rollout_id": rollout_id,
            "status": status,
            "error_category": category,
            "error_message": message,
            "finish_reason": summary.finish_reason,
            "reward": summary.reward,
            "metrics": summary.metrics,
            "violations": summary.violations,
            "latency_ms": round(latency_ms, 3),
            "trajectory": trajectory,
        }
        if self.grader is not None and record["status"] == "COMPLETED":
            record.update(grade(self.grader, completion, task.row))
        record["outcome"] = kind = classify(record)
        if kind == "error":
            record["reward"] = None  # the model was not judged: no reward, least of all 0
        return record


def grade(grader: Grader, completion: dict[str, Any], row: Row) -> dict[str, Any]:
    """The grader's reward, or a `grader_error` beside a null reward when it fails."""
    try:
        return {"reward": float(grader(completion, row.as_dict()))}
    except Exception as exc:  # the user's grader: report it on the row, keep the run going
        return {"reward": None, "grader_error": f"{type(exc).__name__}: {exc}"}
