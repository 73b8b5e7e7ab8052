"""What every 0.3 check works with: raw requests to the server, and scripted rollouts.

Wire rules (status codes, bodies, the lease) are checked with raw httpx requests the
SDK's client would never send. Whole rollouts go through `drive_rollout` (the SDK's own
`RolloutClient`) against an in-process MockTrainer, whose checks (Bearer, append-only
history, tool messages, the tools of every request) come back as violations.
Every rollout is sent with `grade=false`, so a server needs no grader to pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import httpx
from osmosis_ai.rollout.client import RolloutClient

from rolloutctl.check.base import CheckOptions, CheckSession
from rolloutctl.check.outcome import Outcome
from rolloutctl.errors import InitError, InitRefused
from rolloutctl.events import EventKind
from rolloutctl.osmosis.driver import OsmosisRequest, drive_rollout
from rolloutctl.trainer import MockTrainer
from rolloutctl.trainer.policies.per_rollout import PlannedAnswer
from rolloutctl.trainer.rollout_chat import chat_base_url

__all__ = ["OsmosisSession"]

LEASE_HEADER = "X-Osmosis-Rollout-Lease"
SYSTEM = {"role": "system", "content": "You are being checked by rolloutctl check."}


class OsmosisSession(CheckSession):
    def __init__(
        self, url: str, trainer: MockTrainer, http: httpx.AsyncClient, options: CheckOptions
    ) -> None:
        super().__init__(url, trainer, http, options)
        self.client = RolloutClient(url=url, http_client=http, api_key=options.api_key)
        self.probe: Outcome | None = None  # its first chat request tells the tools
        self.refusals: asyncio.Future[Any] | None = None  # see wire.refusals

    def messages(self, rollout_id: str) -> list[dict[str, Any]]:
        user = {"role": "user", "content": f"Rollout {rollout_id}: answer as scripted."}
        return [SYSTEM, user]

    def body(self, rollout_id: str, **fields: Any) -> dict[str, Any]:
        """A valid POST /rollout body; `fields` replace or add top-level fields."""
        assert self.trainer.url is not None
        body = {
            "rollout_id": rollout_id,
            "initial_messages": self.messages(rollout_id),
            "chat_completions_url": chat_base_url(self.trainer.url, rollout_id),
            "grade": False,
        }
        return {**body, **fields}

    def headers(self, lease: str | None = None) -> dict[str, str]:
        return super().headers() | ({LEASE_HEADER: lease} if lease is not None else {})

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.http.post(self.url + path, json=body, headers=self.headers())

    async def get_result(self, rollout_id: str, lease: str | None) -> httpx.Response:
        url = f"{self.url}/rollout/{rollout_id}/result"
        return await self.http.get(url, headers=self.headers(lease))

    def plan(self, rollout_id: str, replies: Iterable[PlannedAnswer], delay: float = 0.0) -> None:
        self.trainer.plan_rollout(rollout_id, replies, delay=delay)

    async def run(
        self,
        label: str,
        replies: Iterable[PlannedAnswer],
        llm_api_key: str | None = None,
        delay: float = 0.0,
    ) -> Outcome:
        """One planned rollout through the SDK's client; what the trainer saw of it."""
        rollout_id = self.new_id(label)
        self.plan(rollout_id, replies, delay)
        request = OsmosisRequest(
            self.messages(rollout_id), rollout_id, llm_api_key, metadata=None, grade=False
        )
        chats: list[dict[str, Any]] = []
        async with self.trainer.subscribe(rollout_id) as events:
            collect = asyncio.create_task(_collect(events, chats))
            error, completion, refused = None, None, None
            try:
                completion = await drive_rollout(
                    self.trainer, self.client, request, self.options.timeout
                )
            except InitError as exc:
                error = str(exc)
                refused = exc.status_code if isinstance(exc, InitRefused) else None
            finally:
                events.close()
                await collect
        posts = [(200, completion)] if completion is not None else []
        violations = self.trainer.violations(rollout_id)
        init = {"messages": request.messages}
        waited = self.options.timeout
        return Outcome(rollout_id, init, chats, posts, violations, waited, error, refused)


async def _collect(events: Any, chats: list[dict[str, Any]]) -> None:
    async for event in events:
        if event.kind is EventKind.CHAT_REQUEST:
            chats.append(event.data["body"])
