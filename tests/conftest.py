"""Shared fixtures: a recording trainer and RolloutServers, each a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import compileall
import contextlib
import sys
import sysconfig
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


def pytest_configure(config: pytest.Config) -> None:
    """Compile every module the suite's processes import, once, in the controller.

    Where PYTHONDONTWRITEBYTECODE is set (as on the CI machines), no import writes a .pyc,
    so each of the suite's hundreds of `rolloutctl` processes would compile every module it
    imports again (about 0.4 s of CPU per start). An explicit compile still writes them; a
    later run only checks them, and a .pyc older than its source is ignored.
    """
    if sys.flags.dont_write_bytecode and not hasattr(config, "workerinput"):
        for folder in (Path(__file__).parents[1] / "rolloutctl", sysconfig.get_path("purelib")):
            compileall.compile_dir(folder, quiet=2, workers=0)


# Modules holding the longest tests (`pytest --durations`), longest first. xdist's worksteal
# gives each worker one contiguous share of the collection and idle workers steal from the
# ends of the others' shares, so these go to the heads of the shares, dealt in turn: the
# long tests start at once on different workers instead of ending the run late on one.
LONG_MODULES = [
    "tests/server/store/test_lost_owner.py",
    "tests/server/store/test_redis_faults.py",
    "tests/osmosis/test_shutdown.py",
    "tests/eval/test_faults.py",
    "tests/osmosis/test_sdk_eval_cli.py",
    "tests/trajectory/test_diff.py",
    "tests/cli/test_reload.py",
    "tests/server/store/test_replicas.py",
    "tests/view/test_browser.py",
    "tests/eval/test_eval.py",
    "tests/server/store/test_workers.py",
    "tests/server/store/test_restarts.py",
    "tests/cli/test_init_watch.py",
    "tests/eval/test_select.py",
    "tests/eval/test_outcomes.py",
    "tests/observe/test_server_metrics.py",
    "tests/cli/test_live_view.py",
    "tests/osmosis/test_try.py",
    "tests/cli/test_try.py",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    if workers < 2:
        return
    rank = {module: index for index, module in enumerate(LONG_MODULES)}
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    rest = []
    for item in items:
        module = item.nodeid.split("::")[0]
        if module in rank:
            heads[rank[module] % workers].append(item)
        else:
            rest.append(item)
    for head in heads:  # longest first within a head too, keeping each module's own order
        head.sort(key=lambda item: rank[item.nodeid.split("::")[0]])
    items[:] = _deal(heads, rest)


def _deal(heads: list[list[pytest.Item]], rest: list[pytest.Item]) -> list[pytest.Item]:
    """The shares worksteal cuts (`remaining // workers_left` each, in order), each headed
    by its long modules and filled up from `rest`."""
    ordered: list[pytest.Item] = []
    remaining = sum(map(len, heads)) + len(rest)
    for index, head in enumerate(heads):
        size = max(len(head), remaining // (len(heads) - index))
        fill = size - len(head)
        ordered += head + rest[:fill]
        rest = rest[fill:]
        remaining -= size
    return ordered + rest
