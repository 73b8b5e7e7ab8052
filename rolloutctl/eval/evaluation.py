"""The engine of `eval`: from options to a run directory and its summary, usable from Python.

`Evaluation(...).run()` chooses the rows, picks (or resumes) the run directory, runs
the rollouts and sums them up into an `EvalOutcome`; `cli/commands/eval_.py` prints
that outcome and decides the exit status.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from rich.console import Console

from rolloutctl.bench.probes import check_key, check_reachable
from rolloutctl.bench.server_process import ServerSpec
from rolloutctl.errors import InputError
from rolloutctl.eval.dataset import parse_columns, read_dataset
from rolloutctl.eval.progress import showing_progress
from rolloutctl.eval.results import CONFIG, RunDirectory, default_run_dir
from rolloutctl.eval.session import Selection, execute, finish, plan_tasks, select_rows
from rolloutctl.eval.workers import EvalConfig, EvalRunner, Grader, Tally, Task
from rolloutctl.eventloop import run_interruptible
from rolloutctl.redaction import without_credentials
from rolloutctl.trainer import TrainerConfig

__all__ = ["EvalOutcome", "Evaluation", "clean_run", "load_grader", "peak_rss_mib"]

SAME_ON_RESUME = ("agent", "server_url", "policy", "grader")


@dataclass(frozen=True)
class EvalOutcome:
    """How a run ended: its summary (as summary.json holds it) and where it is."""

    summary: dict[str, Any]
    run_dir: Path
    interrupted: bool

    @property
    def clean(self) -> bool:
        return clean_run(self.summary)


def _ignore(message: str) -> None:
    pass


@dataclass
class Evaluation:
    """An eval run's options. `progress` is where progress is drawn (a live bar when
    `live`, else a line now and then; None: nowhere); `warn` gets the warnings."""

    dataset: Path
    agent: str | None
    target: str | None
    example: str | None
    server_url: str | None
    server_key: str | None = field(repr=False)
    trainer: TrainerConfig
    columns: list[str]
    rows: str | None
    limit: int | None
    skip_bad_rows: bool
    epochs: int
    seed: int | None
    timeout: float
    retry_errors: int
    concurrency: int
    grader: str | None
    run_dir: Path | None
    resume: Path | None
    retry_failed: Path | None
    progress: Console | None = None
    live: bool = False
    warn: Callable[[str], None] = field(default=_ignore, repr=False)
    keyword: str | None = None  # -k: rows whose id or text match this expression
    fail_fast: bool = False  # -x: start nothing after the first rollout that did not pass
    protocol: str = "v1"  # or "osmosis": the Osmosis SDK 0.3 protocol (served so when spawned)
    runner: type[EvalRunner] = EvalRunner  # the protocol's (`osmosis.eval` for "osmosis")

    def run(self) -> EvalOutcome:
        """Run (or resume) the evaluation; Ctrl-C stops it with what ran kept."""
        items = read_dataset(self.dataset, parse_columns(self.columns))
        selection = Selection(self.rows, self.limit, self.skip_bad_rows, self.keyword)
        rows, skipped = select_rows(items, self.dataset, selection, self.warn)
        grader = load_grader(self.grader) if self.grader else None
        if self.server_url:  # exit 3 (or 2 on a 401) before a run directory is made
            run_interruptible(check_reachable(self.server_url), fast_loop=True)
            if self.protocol == "v1":
                run_interruptible(check_key(self.server_url, self.server_key), fast_loop=True)
        run_dir, mode = self._run_directory()
        tasks = plan_tasks(rows, self.epochs, run_dir, mode, self.warn)
        tally = Tally(total=len(tasks))
        started = time.perf_counter()
        interrupted = False
        try:
            if tasks:
                run_interruptible(self._execute(tasks, run_dir, tally, grader), fast_loop=True)
        except KeyboardInterrupt:
            interrupted = True
        session = {
            "rollouts": tally.done,
            "wall_s": round(time.perf_counter() - started, 3),
            "rollouts_per_s": round(tally.rate, 2),  # server start-up and stop not counted
            "peak_rss_mib": round(peak_rss_mib(), 1),  # of this process, not the server's
            "server_metrics": tally.server_metrics,  # what its /metrics counted; {}: none
        }
        facts = {
            "dataset": str(self.dataset),
            "epochs": self.epochs,
            "interrupted": interrupted,
            "skipped_rows": skipped,  # bad rows left out by --skip-bad-rows this session
            "stopped_at": tally.stopped_at,  # -x: (row, epoch) of the first that did not pass
            "this_session": session,
        }
        return EvalOutcome(finish(run_dir, facts), run_dir.path, interrupted)

    def _run_directory(self) -> tuple[RunDirectory, str]:
        """The directory and the mode: fresh (a new or given dir), resume or retry."""
        if self.resume or self.retry_failed:
            path = self.resume or self.retry_failed
            assert path is not None
            run_dir = RunDirectory(path)
            self._check_same_dataset(run_dir, path)
            return run_dir, "resume" if self.resume else "retry"
        run_dir = RunDirectory(self.run_dir or default_run_dir(self.dataset.stem))
        if run_dir.results.exists():
            raise InputError(
                f"--output {run_dir.path} already holds results; use --resume or another dir"
            )
        run_dir.create(self._config())
        return run_dir, "fresh"

    def _check_same_dataset(self, run_dir: RunDirectory, path: Path) -> None:
        """A resumed run must go on with what it started with, or its rows would mix two
        experiments under one config.json."""
        config = run_dir.config()
        if not config:
            raise InputError(f"{path}: no {CONFIG} here (not an eval run directory)")
        if config.get("dataset") != str(self.dataset.resolve()):
            raise InputError(f"{path} is a run over {config.get('dataset')}, not {self.dataset}")
        now = self._config()
        for key in SAME_ON_RESUME:
            if key in config and config[key] != now[key]:
                raise InputError(
                    f"{path} was run with {key} {config[key]!r}, not {now[key]!r}; "
                    "start a new run (--output) to change it"
                )

    def _config(self) -> dict[str, Any]:
        return {
            "dataset": str(self.dataset.resolve()),
            "agent": self.agent,
            "server_url": without_credentials(self.server_url) if self.server_url else None,
            "policy": self.trainer.policy.describe(),
            "epochs": self.epochs,
            "rows": self.rows,
            "keyword": self.keyword,
            "limit": self.limit,
            "seed": self.seed,
            "grader": self.grader,
            "started_at": datetime.now(UTC).isoformat(),
        }

    async def _execute(
        self, tasks: list[Task], run_dir: RunDirectory, tally: Tally, grader: Any
    ) -> None:
        config = EvalConfig(
            concurrency=self.concurrency,
            timeout=self.timeout,
            seed=self.seed,
            server_key=self.server_key,
            retry_errors=self.retry_errors,
            fail_fast=self.fail_fast,
        )
        spec = None
        osmosis = ("--protocol", "osmosis", "--artifacts-dir", str(run_dir.path / "artifacts"))
        if self.server_url is None:
            spec = ServerSpec(
                target=self.target,
                example=self.example,
                max_concurrent=max(self.concurrency, 100),
                extra_args=osmosis if self.protocol == "osmosis" else (),
            )
        progress: Any = contextlib.nullcontext()
        if self.progress is not None:
            progress = showing_progress(tally, self.progress, self.live)
        await execute(
            tasks,
            run_dir,
            tally,
            config=config,
            trainer_config=self.trainer,
            server_url=self.server_url,
            spec=spec,
            grader=grader,
            progress=progress,
            runner=self.runner,
        )


def clean_run(summary: dict[str, Any]) -> bool:
    """Exit 0 only when every rollout completed, none errored, no grader raised and no
    protocol rule was broken."""
    outcomes = summary.get("outcomes") or {}
    completed = summary["status"].get("COMPLETED", 0) == summary["rollouts"]
    errors = outcomes.get("error", 0) + outcomes.get("grader_error", 0)
    return completed and not errors and not summary["violations"]


def load_grader(target: str) -> Grader:
    from rolloutctl.agent.loader import load_attribute

    if ":" not in target:
        raise InputError(f"--grader {target!r} must look like 'module:fn' or 'file.py:fn'")
    grader = load_attribute(target)
    if not callable(grader):
        raise InputError(f"--grader {target!r} is a {type(grader).__name__}, not a function")
    return cast(Grader, grader)


def peak_rss_mib() -> float:
    """The peak resident memory of this process (Linux and macOS report it differently)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
