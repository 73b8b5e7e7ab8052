"""MockTrainer: the training side of the protocol as a library object.

It serves the callbacks (through `app`), starts rollouts on a RolloutServer, checks
everything the server sends, and publishes each exchange as an Event.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import httpx

from rolloutctl.protocol import CHAT_PATH, COMPLETED_PATH
from rolloutctl.trainer.app import TrainerApp
from rolloutctl.trainer.asgi import Handler
from rolloutctl.trainer.bus import EventBus, Subscription
from rolloutctl.trainer.chat import ChatHandler
from rolloutctl.trainer.completed import CompletionHandler
from rolloutctl.trainer.config import TrainerConfig
from rolloutctl.trainer.policies.per_rollout import (
    PerRolloutCompletions,
    PerRolloutPolicy,
    PlannedAnswer,
    RolloutPlan,
    make_plan,
)
from rolloutctl.trainer.records import Records
from rolloutctl.trainer.rollout_chat import RolloutChatRoute
from rolloutctl.trainer.start_route import START_PATH, StartRoute
from rolloutctl.trainer.starter import RolloutHandle, Starter
from rolloutctl.trainer.violations import Violation

__all__ = ["MockTrainer"]


class MockTrainer:
    """Serve `app` with uvicorn, then set `url` to its base URL before starting rollouts."""

    def __init__(
        self, config: TrainerConfig | None = None, client: httpx.AsyncClient | None = None
    ):
        self.config = config or TrainerConfig()
        self.url: str | None = None
        self.bus = EventBus()
        metrics = None
        if self.config.metrics:
            from rolloutctl.observe.trainer_metrics import TrainerMetrics

            metrics = TrainerMetrics(self.config.policy.name)
        self.records = Records(self.bus, self.config.expect_api_key, metrics)
        rng = random.Random(self.config.seed)
        self._plans: dict[str, RolloutPlan] = {}
        policy = PerRolloutPolicy(self.config.policy, self._plans)
        chat = ChatHandler(self.records, policy, self.config, rng)
        completed = PerRolloutCompletions(
            CompletionHandler(self.records, self.config, rng), self._plans, self.records
        )
        health = {"policy": self.config.policy.name, "faults": self.config.faults()}
        posts: dict[str, Handler] = {
            CHAT_PATH: chat,
            COMPLETED_PATH: completed,
            START_PATH: StartRoute(self.start_rollout),
        }
        route = RolloutChatRoute(chat, self.records).route  # the 0.3 protocol's per-rollout chat
        self.app = TrainerApp(self.records, posts, health, route)
        self._starter = Starter(self.records, client)

    @property
    def completions(self) -> dict[str, dict[str, Any]]:
        """The first completion payload of each rollout, by rollout_id."""
        return self.records.completions

    def subscribe(self, rollout_id: str | None = None) -> Subscription:
        """Every Event from now on (of one rollout if given); call it inside a running loop."""
        return self.bus.subscribe(rollout_id)

    async def start_rollout(
        self, rollout_server_url: str, init: dict[str, Any], server_key: str | None = None
    ) -> RolloutHandle:
        """POST the init; InitRefused on a non-202, InitError when it cannot be delivered."""
        if "server_url" not in init:
            if self.url is None:
                raise ValueError("set MockTrainer.url (or the init's server_url) before starting")
            init = {**init, "server_url": self.url}
        return await self._starter.start(rollout_server_url, init, server_key)

    def plan_rollout(
        self,
        rollout_id: str,
        replies: Iterable[PlannedAnswer] = (),
        completed: Iterable[int] = (),
        delay: float = 0.0,
    ) -> None:
        """Give one rollout its own trainer: its chat calls get `replies` in order (a Reply, an
        assistant message, or an HTTP status 400-599 to answer with), then the policy's; its
        completion posts get the `completed` statuses first (unrecorded), then the usual 200.
        `delay` seconds pass before each planned answer. Call it before the init."""
        self._plans[rollout_id] = make_plan(replies, completed, delay)

    def violations(self, rollout_id: str | None = None) -> list[Violation]:
        if rollout_id is None:
            return list(self.records.violations)
        state = self.records.rollouts.get(rollout_id)
        return list(state.violations) if state else []

    def forget(self, rollout_id: str) -> None:
        """Drop a finished rollout's records (keeps memory flat in long benchmarks)."""
        self.records.forget(rollout_id)
        self._plans.pop(rollout_id, None)

    async def aclose(self) -> None:
        """End event streams, close the init client and the policy's resources."""
        self.bus.close()
        await self._starter.aclose()
        await self.config.policy.aclose()
