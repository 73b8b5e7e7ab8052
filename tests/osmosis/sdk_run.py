"""An Osmosis SDK eval run directory written by the SDK's own code, from real rollouts.

`osmosis eval run` sends each (row, attempt) to a rollout server with the SDK's
`RolloutClient`, and the server saves the rollout's ATIF file under
`rollout_trials/<id>/`. It then journals one `TerminalRecord` per result and has its
`Materializer` write index.jsonl, metrics.json and `trajectories/`. This does the same
steps in-process against the real `rolloutctl serve --protocol osmosis` and the mock
trainer, without the CLI's workspace and `uv sync` (tests/osmosis has a test of the CLI
itself). The terminal records take the facts the SDK's runner takes from each result.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osmosis_ai.eval.local.results import (
    TRIALS_DIRNAME,
    Materializer,
    RunIdentity,
    select_attempts,
)
from osmosis_ai.eval.local.state import TerminalRecord, TerminalStatus
from osmosis_ai.rollout.client import RolloutClient
from osmosis_ai.rollout.types import RolloutResultResponse, RolloutStatus

from rolloutctl.osmosis.trainer_records import expect_rollout
from rolloutctl.trainer import MockTrainer
from rolloutctl.trainer.rollout_chat import chat_base_url
from tests.helpers import run_server
from tests.osmosis.servers import adapter_server

KEY = "llm-key-sdk-run-5f0e1d"
SYSTEM = {"role": "system", "content": "Use the tools for every arithmetic step."}


@dataclass(frozen=True)
class Item:
    """One work item: a dataset row's prompt and label, and which attempt this is."""

    row: int
    attempt: int
    question: str
    label: str
    no_model: bool = False  # the model URL answers 404: the rollout fails


QUESTIONS = {0: ("What is (5 + 3) * 2?", "16"), 1: ("What is 4 * 5?", "21"),
             2: ("What is 7 + 1?", "8")}  # fmt: skip
# Run A: row 0 passes twice (n=2), row 1's label is wrong (reward 0), row 2's model URL
# is wrong (the rollout fails, saving no trajectory). Run B: one attempt each, row 1's
# label right and row 2's model found, so both are fixed and row 0's second is missing.
RUN_A = [Item(0, 0, *QUESTIONS[0]), Item(0, 1, *QUESTIONS[0]), Item(1, 0, *QUESTIONS[1]),
         Item(2, 0, *QUESTIONS[2], no_model=True)]  # fmt: skip
RUN_B = [Item(0, 0, *QUESTIONS[0]), Item(1, 0, QUESTIONS[1][0], "20"), Item(2, 0, *QUESTIONS[2])]


def write_sdk_runs(root: Path, runs: dict[str, list[Item]]) -> dict[str, Path]:
    """Run each run's items through one `rolloutctl serve --protocol osmosis` and write
    the SDK's run directory of their results under `root`; the runs by name."""
    trainer, artifacts = MockTrainer(), root / "artifacts"
    made = {name: root / name for name in runs}
    with run_server(trainer.app) as trainer_url, adapter_server(artifacts) as server:
        trainer.url = trainer_url
        for name, items in runs.items():
            results = asyncio.run(_drive(server, trainer, items))
            for _, (result, _ms) in results:
                _collect(artifacts, made[name] / TRIALS_DIRNAME, result)
            _materialize(made[name], items, results)
    return made


def _collect(artifacts: Path, trials: Path, result: RolloutResultResponse) -> None:
    """Move the rollout's folder into the run's rollout_trials/, as if the server had
    written it there (`osmosis eval run` points each run's server at its own), once the
    server has saved its trajectory (a rollout with a sample always gets one)."""
    folder = artifacts / str(result.rollout_id)
    deadline = time.monotonic() + 60
    while result.sample is not None and not (folder / "trajectory.json").exists():
        assert time.monotonic() < deadline, f"no trajectory.json in {folder}"
        time.sleep(0.02)
    trials.mkdir(parents=True, exist_ok=True)
    shutil.move(folder, trials / folder.name)


def _materialize(
    run: Path, items: list[Item], results: list[tuple[Item, tuple[RolloutResultResponse, float]]]
) -> None:
    trials = run / TRIALS_DIRNAME
    latest = {(item.row, item.attempt): _terminal(item, *found) for item, found in results}
    identity = RunIdentity(
        local_run_id=f"local-{run.name}", run_name=run.name, dataset_name="arith.jsonl",
        model_name="mock", rollout_name="calculator", started_at="2026-12-05T02:00:00Z",
        status="finished", completed_at="2026-12-05T02:00:09Z", duration_ms=9000.0,
    )  # fmt: skip
    Materializer(run).refresh(
        select_attempts(latest, trials_dir=trials),
        identity=identity,
        pass_threshold=1.0,
        sampled_rows=len({item.row for item in items}),
        total_dataset_rows=len(QUESTIONS),
        total_runs=len(items),
    )


async def _drive(
    server: str, trainer: MockTrainer, items: list[Item]
) -> list[tuple[Item, tuple[RolloutResultResponse, float]]]:
    client = RolloutClient(url=server)
    try:
        return [(item, await _rollout(client, trainer, item)) for item in items]
    finally:
        await client.aclose()


async def _rollout(
    client: RolloutClient, trainer: MockTrainer, item: Item
) -> tuple[RolloutResultResponse, float]:
    rollout_id = f"r{item.row}a{item.attempt}{time.monotonic_ns() % 10**9:09d}"
    assert trainer.url is not None
    expect_rollout(trainer.records, rollout_id, {"llm_api_key": KEY})
    model = chat_base_url(trainer.url, rollout_id)
    model = trainer.url + "/no-model-here" if item.no_model else model
    started = time.monotonic()
    result = await client.run_rollout(
        initial_messages=[SYSTEM, {"role": "user", "content": item.question}],
        chat_completions_url=model,
        rollout_id=rollout_id,
        llm_api_key=KEY,
        label=item.label,
        extra_fields={"row_index": item.row, "run_index": item.attempt},
    )
    return result, (time.monotonic() - started) * 1000


def _terminal(item: Item, result: RolloutResultResponse, ms: float) -> TerminalRecord:
    """The result as the SDK's runner journals it: success, failed or skipped."""
    sample = result.sample
    metrics: dict[str, Any] = sample.metrics if sample is not None else {}
    tokens = metrics.get("prompt_tokens", 0) + metrics.get("response_tokens", 0)
    status: TerminalStatus = "success"
    error = None
    if result.status is not RolloutStatus.SUCCESS:
        status, error = "failed", result.err_category or result.err_message or "rollout_failed"
    elif sample is not None and sample.remove_sample:
        status = "skipped"
    return TerminalRecord(
        row_index=item.row, run_index=item.attempt, rollout_id=result.rollout_id or "",
        status=status, reward=sample.reward if sample and status == "success" else None,
        tokens=int(tokens) or None, duration_ms=ms, error_type=error,
    )  # fmt: skip
