"""One eval run from start to summary: choose the rows, start the servers, run, sum up.

The server under test runs as its own process (as `bench` runs it) unless a
`--server-url` is given, so the agent and the mock trainer do not share one core.
The mock trainer comes up first and goes down last: rollouts still draining when the
run stops can deliver their completions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rolloutctl.bench.load import quiet_trainer_logs
from rolloutctl.bench.server_process import ServerSpec, spawn_servers
from rolloutctl.errors import DatasetError, InputError
from rolloutctl.eval.dataset import BadRow, Row, parse_row_spec
from rolloutctl.eval.keywords import keyword_matcher, row_text
from rolloutctl.eval.results import RunDirectory
from rolloutctl.eval.stats import summarize_outcomes
from rolloutctl.eval.workers import EvalConfig, EvalRunner, Grader, Tally, Task
from rolloutctl.harness import local_stack
from rolloutctl.observe.scrape import read_metrics, server_side
from rolloutctl.trainer import TrainerConfig

__all__ = [
    "Selection",
    "execute",
    "finish",
    "plan_tasks",
    "select_rows",
]

PENDING_URL = "http://127.0.0.1:9"  # replaced by the spawned server's URL before any init


@dataclass(frozen=True)
class Selection:
    rows: str | None = None  # "3,7,10-20"
    limit: int | None = None
    skip_bad: bool = False
    keyword: str | None = None  # -k: a pytest-like expression over a row's id and text


def select_rows(
    items: list[Row | BadRow], path: Path, selection: Selection, warn: Callable[[str], None]
) -> tuple[list[Row], int]:
    """The rows to run, in file order, and how many bad ones were skipped; a bad chosen row
    is fatal unless skipped (then warned)."""
    wanted = parse_row_spec(selection.rows) if selection.rows else None
    if wanted is not None:
        _warn_absent(wanted, len(items), path, warn)
    chosen = [item for item in items if wanted is None or item.index in wanted]
    if selection.keyword is not None:
        matches = keyword_matcher(selection.keyword)
        chosen = [
            item
            for item in chosen
            if isinstance(item, Row) and matches(row_text(item.id, item.messages))
        ]
    if selection.limit is not None:
        chosen = chosen[: selection.limit]
    rows: list[Row] = []
    skipped = 0
    for item in chosen:
        if isinstance(item, Row):
            rows.append(item)
            continue
        message = f"{path}:{item.line}: row {item.index}: {item.reason}"
        if not selection.skip_bad:
            raise DatasetError(message + " (--skip-bad-rows to go on without it)")
        warn(message + " (skipped)")
        skipped += 1
    if not rows:
        why = f"row matches -k {selection.keyword!r}" if selection.keyword is not None else "rows"
        raise InputError(f"{path}: no {why} to run")
    return rows, skipped


def _warn_absent(wanted: set[int], count: int, path: Path, warn: Callable[[str], None]) -> None:
    """A row `--rows` names past the dataset's end is said, not silently left out: a typo
    there would otherwise look like a smaller dataset."""
    absent = sorted(index for index in wanted if index >= count)
    if absent:
        has = f"rows 0-{count - 1}" if count else "no rows"
        warn(
            f"--rows: {path} has {has}, so {len(absent)} of the rows named are left out"
            f" (from row {absent[0]} on)"
        )


def plan_tasks(
    rows: list[Row], epochs: int, run_dir: RunDirectory, mode: str, warn: Callable[[str], None]
) -> list[Task]:
    """`fresh`: every (row, epoch); `resume`: those without a record; `retry`: the ERROR ones.

    For `retry` the ERROR records are removed from results.jsonl first, so that each
    (row, epoch) keeps exactly one line.
    """
    tasks = [Task(row, epoch) for row in rows for epoch in range(epochs)]
    if mode == "fresh":
        return tasks
    cut = run_dir.cut_torn_tail()
    if cut:
        warn(
            f"{run_dir.results}: the last line was cut short ({cut} bytes, a crash mid-write?);"
            " removed, its rollout runs again"
        )
    outcomes = run_dir.outcomes()
    if mode == "resume":
        done = {(o.row, o.epoch) for o in outcomes}
        return [t for t in tasks if (t.row.index, t.epoch) not in done]
    failed = {(o.row, o.epoch) for o in outcomes if o.status != "COMPLETED"}
    run_dir.keep_only({(o.row, o.epoch) for o in outcomes} - failed)
    return [t for t in tasks if (t.row.index, t.epoch) in failed]


async def execute(
    tasks: list[Task],
    run_dir: RunDirectory,
    tally: Tally,
    *,
    config: EvalConfig,
    trainer_config: TrainerConfig,
    server_url: str | None = None,
    spec: ServerSpec | None = None,
    grader: Grader | None = None,
    progress: Any = None,  # an async context manager drawing the tally, or None
    runner: type[EvalRunner] = EvalRunner,  # the protocol's (osmosis.eval for 0.3)
) -> None:
    """Run `tasks` against `server_url`, or against a server spawned from `spec`."""
    if (server_url is None) == (spec is None):
        raise ValueError("give exactly one of server_url or spec")
    await trainer_config.policy.check_reachable()  # before any server starts or row runs
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(quiet_trainer_logs())
        local = await stack.enter_async_context(
            local_stack(None, trainer_config=trainer_config, server_url=server_url or PENDING_URL)
        )
        if spec is not None:
            (spawned,) = await stack.enter_async_context(spawn_servers(spec))
            local = dataclasses.replace(local, server_url=spawned.url)
        run_dir.open_results()
        stack.callback(run_dir.close)
        tally.started = time.perf_counter()
        if progress is not None:
            await stack.enter_async_context(progress)
        before = await read_metrics([local.server_url], config.server_key)
        await runner(local, config, run_dir, tally, grader).run(tasks)
        after = await read_metrics([local.server_url], config.server_key)
        if before is not None and after is not None:  # the server offers /metrics
            tally.server_metrics = server_side(before, after)


def finish(run_dir: RunDirectory, facts: dict[str, Any]) -> dict[str, Any]:
    """Summarise every record on disk (earlier sessions' too) and write summary.json."""
    summary = {"run_dir": str(run_dir.path), **summarize_outcomes(run_dir.outcomes()), **facts}
    run_dir.write_summary(summary)
    return summary
