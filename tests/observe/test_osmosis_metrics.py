"""GET /metrics of `serve --protocol osmosis` (the SDK's own server), after real rollouts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from osmosis_ai.rollout.client import RolloutClient

from rolloutctl.agent.loader import load_example
from rolloutctl.osmosis.serve import create_osmosis_app
from rolloutctl.server.settings import ServerSettings
from rolloutctl.trainer import MockTrainer, TrainerConfig
from rolloutctl.trainer.rollout_chat import chat_base_url
from tests.conftest import FAST_RETRY
from tests.helpers import run_server
from tests.observe.scraping import scrape, value

QUESTION = [{"role": "user", "content": "What is (5 + 3) * 2?"}]


def test_osmosis_rollouts_are_counted_and_timed(tmp_path: Path) -> None:
    app = create_osmosis_app(
        load_example("calculator"), ServerSettings(retry=FAST_RETRY), artifacts_dir=tmp_path
    )
    trainer = MockTrainer(TrainerConfig(expect_api_key="the-trainers-key"))
    with run_server(trainer.app) as trainer_url, run_server(app) as url:

        async def go(rollout_id: str, key: str) -> None:
            client = RolloutClient(url=url)
            try:
                await client.run_rollout(
                    initial_messages=QUESTION,
                    chat_completions_url=chat_base_url(trainer_url, rollout_id),
                    rollout_id=rollout_id,
                    llm_api_key=key,
                    label="16",
                )
            finally:
                await client.aclose()

        asyncio.run(go("ok", "the-trainers-key"))
        asyncio.run(go("refused-key", "another-key"))  # the trainer answers 401
        assert httpx.post(f"{url}/rollout", json={}, timeout=30).status_code == 422
        samples = scrape(url)
    completed = "rolloutctl_rollouts_completed_total"
    assert value(samples, "rolloutctl_rollouts_accepted_total") == 2
    assert value(samples, completed, status="COMPLETED", category="") == 1
    assert value(samples, completed, status="ERROR", category="trainer_client_error") == 1
    assert value(samples, "rolloutctl_rollouts_refused_total", status="422") == 1
    assert value(samples, "rolloutctl_llm_call_duration_seconds_count") == 3 + 1
    assert value(samples, "rolloutctl_tool_call_duration_seconds_count", tool="add") == 1
    assert value(samples, "rolloutctl_tool_call_duration_seconds_count", tool="multiply") == 1
    assert value(samples, "rolloutctl_callback_failures_total", endpoint="chat") == 1
    assert value(samples, "rolloutctl_rollouts_in_flight") == 0


def test_osmosis_metrics_are_behind_the_sdks_key(tmp_path: Path) -> None:
    agent = load_example("calculator")
    keyed = create_osmosis_app(agent, ServerSettings(api_key="k1"), artifacts_dir=tmp_path)
    with run_server(keyed) as url:
        assert httpx.get(f"{url}/metrics", timeout=30).status_code == 401
        scrape(url, Authorization="Bearer k1")
    off = create_osmosis_app(agent, ServerSettings(metrics=False), artifacts_dir=tmp_path)
    with run_server(off) as url:
        assert httpx.get(f"{url}/metrics", timeout=30).status_code == 404
