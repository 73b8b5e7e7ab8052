"""`eval --protocol osmosis` over a dataset in the SDK's columns: the SDK's own pass rate.

The server is built as the SDK's template builds one; its grader rewards an answer that
contains the label. The same rows are also sent one by one with the SDK's own
`RolloutClient` (the chat answered by the same calculator policy), and the rewards its
grader gives make the pass rate eval must report.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

from osmosis_ai.rollout.client import RolloutClient

from rolloutctl.trainer import MockTrainer
from rolloutctl.trainer.rollout_chat import chat_base_url
from tests.helpers import CLI_BOUND, rolloutctl_bin, run_server
from tests.osmosis.servers import template_server

ROWS: list[dict[str, Any]] = [
    {"user_prompt": "What is 2 + 3?", "ground_truth": "5"},
    {"user_prompt": "What is 4 * 4?", "ground_truth": "16", "metadata": {"level": 1}},
    {"user_prompt": "What is 2 + 2?", "ground_truth": "5"},  # a wrong label: fails
    {"system_prompt": "Use the tools.", "user_prompt": "What is 3 * 3?", "ground_truth": "9"},
]


def test_eval_over_an_sdk_dataset_reports_the_sdks_own_pass_rate(tmp_path: Path) -> None:
    dataset = tmp_path / "rows.jsonl"
    dataset.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    run_dir = tmp_path / "run"
    with template_server(tmp_path / "artifacts") as url:
        done = subprocess.run(
            [rolloutctl_bin(), "eval", str(dataset), "--protocol", "osmosis", "--server-url",
             url, "--output", str(run_dir), "--json", "--concurrency", "2"],
            capture_output=True, text=True, timeout=CLI_BOUND,
        )  # fmt: skip
        sdk_rewards = asyncio.run(sdk_grades(url))
    assert sdk_rewards == [1.0, 1.0, 0.0, 1.0]
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    by_row = {record["row"]: record for record in records}
    assert [by_row[i]["reward"] for i in range(len(ROWS))] == sdk_rewards
    assert [by_row[i]["status"] for i in range(len(ROWS))] == ["COMPLETED"] * len(ROWS)
    summary = json.loads((run_dir / "summary.json").read_text())
    sdk_pass_rate = sum(r == 1.0 for r in sdk_rewards) / len(sdk_rewards)
    assert found(summary, "pass_rate") == sdk_pass_rate == 0.75
    assert done.returncode == 0, done.stdout + done.stderr
    sent = by_row[3]["trajectory"]["init"]
    assert sent["label"] == "9" and sent["initial_messages"][0]["content"] == "Use the tools."


async def sdk_grades(url: str) -> list[float]:
    """Each row through the SDK's client, graded by the server: the rewards."""
    trainer = MockTrainer()  # the calculator policy, as eval's default
    with run_server(trainer.app) as trainer_url:
        client = RolloutClient(url=url)
        try:
            results = [
                await client.run_rollout(
                    initial_messages=messages(row),
                    chat_completions_url=chat_base_url(trainer_url, f"sdk-{n}"),
                    rollout_id=f"sdk-{n}",
                    label=row["ground_truth"],
                    metadata=row.get("metadata"),
                )
                for n, row in enumerate(ROWS)
            ]
        finally:
            await client.aclose()
    rewards = []
    for result in results:
        assert result.sample is not None and result.sample.reward is not None, result
        rewards.append(float(result.sample.reward))
    return rewards


def messages(row: dict[str, Any]) -> list[dict[str, Any]]:
    system = [{"role": "system", "content": row["system_prompt"]}] if "system_prompt" in row else []
    return [*system, {"role": "user", "content": row["user_prompt"]}]


def found(document: Any, key: str) -> Any:
    """The first value of `key` anywhere in a JSON document."""
    if isinstance(document, dict):
        if key in document:
            return document[key]
        document = list(document.values())
    if isinstance(document, list):
        return next((v for v in map(lambda d: found(d, key), document) if v is not None), None)
    return None
