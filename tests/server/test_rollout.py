"""One rollout's lifecycle as observers see it, over real HTTP against a recording trainer."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import httpx
import pytest

from rolloutctl.agent.loader import load_example
from rolloutctl.observe.hooks import RolloutObserver
from rolloutctl.server.app import RolloutApp, create_app
from rolloutctl.server.core import ServerCore
from rolloutctl.server.rollout import Rollout
from rolloutctl.server.settings import ServerSettings
from tests.conftest import FAST_RETRY
from tests.helpers import run_server
from tests.recording_trainer import RecordingTrainer, assistant, call

POINTS = ("accepted", "started", "llm_call", "tool_call", "finished", "delivered")


class Recorder(RolloutObserver):
    """Records (point, rollout id, detail) for every point; `done` once one is delivered."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []
        self.done = threading.Event()

    def accepted(self, rollout: Rollout) -> None:
        self.seen.append(("accepted", rollout.rollout_id, None))

    def started(self, rollout: Rollout) -> None:
        self.seen.append(("started", rollout.rollout_id, None))

    def llm_call(self, rollout: Rollout, seconds: float, error: BaseException | None) -> None:
        self.seen.append(("llm_call", rollout.rollout_id, error))

    def tool_call(
        self, rollout: Rollout, call: dict[str, Any], content: str, seconds: float
    ) -> None:
        self.seen.append(("tool_call", rollout.rollout_id, content))

    def finished(self, rollout: Rollout, payload: dict[str, Any]) -> None:
        self.seen.append(("finished", rollout.rollout_id, payload["status"]))

    def delivered(self, rollout: Rollout, delivery: Any) -> None:
        self.seen.append(("delivered", rollout.rollout_id, delivery.delivered))
        self.done.set()


class Raiser(RolloutObserver):
    """Fails at every point it is told of."""

    def __getattribute__(self, name: str) -> Any:
        if name in POINTS:
            return lambda *args: 1 / 0
        return super().__getattribute__(name)


def serve(*observers: RolloutObserver) -> contextlib.AbstractContextManager[str]:
    app = create_app(load_example("calculator"), ServerSettings(retry=FAST_RETRY))
    assert isinstance(app, RolloutApp)
    app.core.observers.extend(observers)
    return run_server(app)


def start(server: str, trainer: RecordingTrainer, rollout_id: str) -> None:
    body = {
        "rollout_id": rollout_id,
        "server_url": trainer.url,
        "messages": [{"role": "user", "content": "What is 5 + 3?"}],
    }
    response = httpx.post(f"{server}/v1/rollout/init", json=body, timeout=60)
    assert response.status_code == 202


def test_observers_see_every_point_of_a_rollout_in_order(trainer: RecordingTrainer) -> None:
    recorder = Recorder()
    trainer.script("obs", assistant("", tool_calls=[call("add", {"a": 5, "b": 3})]))
    with serve(recorder) as server:
        start(server, trainer, "obs")
        assert trainer.wait("obs", timeout=120)["status"] == "COMPLETED"
        assert recorder.done.wait(120)
    assert [(point, detail) for point, _, detail in recorder.seen] == [
        ("accepted", None),
        ("started", None),
        ("llm_call", None),
        ("tool_call", "8"),
        ("llm_call", None),
        ("finished", "COMPLETED"),
        ("delivered", True),
    ]
    assert {rollout_id for _, rollout_id, _ in recorder.seen} == {"obs"}


def test_an_observer_that_raises_changes_nothing_for_the_rollout(trainer: RecordingTrainer) -> None:
    recorder = Recorder()
    trainer.script("raise", assistant("", tool_calls=[call("add", {"a": 1, "b": 2})]))
    with serve(Raiser(), recorder) as server:
        start(server, trainer, "raise")
        assert trainer.wait("raise", timeout=120)["status"] == "COMPLETED"
        assert recorder.done.wait(120)
    assert len(trainer.completions["raise"]) == 1
    assert [point for point, _, _ in recorder.seen][-2:] == ["finished", "delivered"]


def test_a_failed_chat_call_reaches_observers_with_its_error(trainer: RecordingTrainer) -> None:
    recorder = Recorder()
    trainer.script("bad", (400, {"detail": "no"}))
    with serve(recorder) as server:
        start(server, trainer, "bad")
        assert trainer.wait("bad", timeout=120)["status"] == "ERROR"
        assert recorder.done.wait(120)
    errors = [detail for point, _, detail in recorder.seen if point == "llm_call"]
    assert len(errors) == 1 and "HTTP 400" in str(errors[0])
    assert ("finished", "bad", "ERROR") in recorder.seen


def test_the_manager_before_start_up_fails_with_a_clear_message() -> None:
    core = ServerCore(load_example("echo"))
    with pytest.raises(RuntimeError, match="has not started"):
        _ = core.manager
