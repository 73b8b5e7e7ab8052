"""`run_osmosis_rollout`: one 0.3 rollout in one call, with its trajectory (for eval)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rolloutctl.agent.loader import load_example
from rolloutctl.errors import InitError
from rolloutctl.osmosis.driver import OsmosisRequest, run_osmosis_rollout
from rolloutctl.osmosis.serve import create_osmosis_app
from rolloutctl.trajectory.summary import summarize
from tests.helpers import refused_url, run_server

QUESTION = [{"role": "user", "content": "What is (5 + 3) * 2?"}]


def test_one_rollout_comes_back_as_a_trajectory(tmp_path: Path) -> None:
    app = create_osmosis_app(load_example("calculator"), artifacts_dir=tmp_path)
    request = OsmosisRequest(QUESTION, llm_api_key="k-driver", label="16")
    with run_server(app) as url:
        run = asyncio.run(run_osmosis_rollout(url, request, timeout=60))
    traj = run.trajectory
    assert traj["protocol"] == "osmosis"
    assert traj["init"]["llm_api_key"] == "***"
    assert [turn["index"] for turn in traj["turns"]] == [1, 2, 3]
    summary = summarize(traj)
    assert (summary.status, summary.reward, summary.ok) == ("success", 1.0, True)
    assert summary.metrics["num_tool_calls"] == 2


def test_an_unreachable_server_is_an_init_error() -> None:
    with refused_url() as url, pytest.raises(InitError):
        asyncio.run(run_osmosis_rollout(url, OsmosisRequest(QUESTION), timeout=5))
