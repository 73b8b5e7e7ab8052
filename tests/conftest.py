"""Shared fixtures: a recording trainer and RolloutServers, each a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rolloutctl.agent.context import Agent
from rolloutctl.agent.loader import load_example
from rolloutctl.server.app import create_app
from rolloutctl.server.callbacks import RetryPolicy
from rolloutctl.server.settings import ServerSettings
from tests.helpers import RedisServer, run_server, running_redis
from tests.recording_trainer import RecordingTrainer

# Quick backoff, but a window and call timeout that a busy machine never reaches by accident.
FAST_RETRY = RetryPolicy(max_retries=3, initial_delay=0.01, window=30.0, call_timeout=30.0)


@pytest.fixture
def trainer() -> Iterator[RecordingTrainer]:
    trainer = RecordingTrainer()
    with run_server(trainer.app) as url:
        trainer.url = url
        try:
            yield trainer
        finally:  # a held call of a killed server would keep the trainer's shutdown waiting
            trainer.release()


@pytest.fixture
def start_server() -> Iterator[Callable[..., str]]:
    """Start a RolloutServer: `start_server(agent=None, **settings) -> base URL`."""
    with contextlib.ExitStack() as stack:

        def start(agent: Agent | None = None, **settings) -> str:
            settings.setdefault("retry", FAST_RETRY)
            app = create_app(agent or load_example("calculator"), ServerSettings(**settings))
            return stack.enter_context(run_server(app))

        yield start


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server of this test's own, on a free port (see `running_redis`)."""
    directory = tmp_path / "redis"
    directory.mkdir()
    with running_redis(directory) as server:
        yield server
