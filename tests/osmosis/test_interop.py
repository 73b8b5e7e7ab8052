"""Interop that trusts neither side: the SDK's own client and server against rolloutctl's."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from osmosis_ai.rollout.client import RolloutClient

from rolloutctl.osmosis.trainer_records import expect_rollout
from rolloutctl.trainer import MockTrainer
from rolloutctl.trainer.rollout_chat import chat_base_url
from tests.helpers import run_cli, run_server
from tests.osmosis.servers import adapter_server, sdk_server

KEY = "llm-key-interop-0123456789"
MESSAGES = [
    {"role": "system", "content": "Use the tools for every arithmetic step."},
    {"role": "user", "content": "What is (5 + 3) * 2?"},
]


async def sdk_rollout(server: str, trainer_url: str, rollout_id: str) -> Any:
    client = RolloutClient(url=server)
    try:
        return await client.run_rollout(
            initial_messages=MESSAGES,
            chat_completions_url=chat_base_url(trainer_url, rollout_id),
            rollout_id=rollout_id,
            llm_api_key=KEY,
            label="16",
        )
    finally:
        await client.aclose()


def test_the_sdk_client_drives_the_adapter_served_agent(tmp_path: Path) -> None:
    trainer = MockTrainer()
    rollout_id = "interop-sdk-client-1"
    with run_server(trainer.app) as trainer_url, adapter_server(tmp_path) as server:
        trainer.url = trainer_url
        expect_rollout(trainer.records, rollout_id, {"llm_api_key": KEY})  # for Bearer checks
        result = asyncio.run(sdk_rollout(server, trainer_url, rollout_id))
    assert result.status.value == "success", result.err_message
    messages = result.sample.messages
    assert [m["content"] for m in messages if m["role"] == "tool"] == ["8", "16"]
    assert result.sample.reward == 1.0  # the default grader: the label "16" is in the answer
    assert result.sample.metrics["num_llm_calls"] == 3
    assert trainer.violations() == []
    # every chat call carried the rollout's tools, which is all the model side learns of them
    tools = trainer.records.state(rollout_id).request_tools or []
    assert {t["function"]["name"] for t in tools} == {
        "add", "subtract", "multiply", "divide"
    }  # fmt: skip

    saved = tmp_path / rollout_id / "trajectory.json"  # the SDK's own ATIF file
    assert KEY not in saved.read_text()
    replay = run_cli("replay", str(saved), "--plain")
    assert replay.returncode == 0, replay.stderr
    assert "-> multiply(a=8, b=2)" in replay.stdout
    assert "tool       16" in replay.stdout


def test_try_against_a_server_written_on_the_sdk_alone(tmp_path: Path) -> None:
    saved = tmp_path / "run.json"
    with sdk_server() as url:
        done = run_cli(
            "try", "--protocol", "osmosis", "--server-url", url, "--plain",
            "--callback-key", KEY, "--save", str(saved),
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    shown = ("-> add(a=5, b=3)", "tool       8", "-> multiply(a=8, b=2)", "tool       16")
    for line in (*shown, "success"):
        assert line in done.stdout
    traj = json.loads(saved.read_text())
    assert traj["protocol"] == "osmosis"
    assert traj["completion"]["status"] == "success"
    assert KEY not in saved.read_text()
    replay = run_cli("replay", str(saved), "--plain")
    assert replay.returncode == 0
    assert "tool       16" in replay.stdout


def test_try_serves_a_rolloutctl_agent_through_the_sdk_server() -> None:
    done = run_cli("try", "--example", "calculator", "--protocol", "osmosis", "--json")
    assert done.returncode == 0, done.stderr
    traj = json.loads(done.stdout)
    assert traj["protocol"] == "osmosis"
    assert [t["function"]["name"] for t in traj["tools"]][:2] == ["add", "subtract"]
    tools = [m["content"] for m in traj["completion"]["final_messages"] if m["role"] == "tool"]
    assert tools == ["8", "16"]
