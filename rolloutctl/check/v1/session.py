"""What every v1 check works with: the session and its rollouts.

A `Session` plays the trainer for one run: an in-process MockTrainer the server under
test calls back, an HTTP client for raw requests, and the tools the server declared.
`Session.start` sends one init with its own planned trainer behaviour and watches
everything the trainer sees of that rollout (see `check.outcome`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from rolloutctl.check.base import CheckOptions, CheckSession, CheckStatus, Verdict, key_hint
from rolloutctl.check.outcome import Outcome, Watch
from rolloutctl.check.turns import answer
from rolloutctl.check.v1.tools import ToolLint
from rolloutctl.errors import InitError, InitRefused, KeyRequired
from rolloutctl.protocol import INIT_PATH
from rolloutctl.trainer import MockTrainer
from rolloutctl.trainer.policies.per_rollout import PlannedAnswer

__all__ = ["DROP", "SYSTEM", "Running", "Session"]

SYSTEM = {"role": "system", "content": "You are being checked by rolloutctl check."}
DROP = object()  # as a field's value in `Session.init_body`: leave the field out


@dataclass
class Running:
    """A started rollout: `finish` waits for its completion, listens on, and reports."""

    session: Session
    rollout_id: str
    init: dict[str, Any]
    watch: Watch
    tools: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    refused_status: int | None = None  # the HTTP status of a refused init

    async def finish(self) -> Outcome:
        options = self.session.options
        if self.error is None and await self.watch.delivered(options.timeout):
            await asyncio.sleep(options.linger)
        return await self.session.outcome(self.rollout_id, self.init, self.watch, self.error)


class Session(CheckSession):
    def __init__(
        self, url: str, trainer: MockTrainer, http: httpx.AsyncClient, options: CheckOptions
    ) -> None:
        super().__init__(url, trainer, http, options)
        self.lint = ToolLint()  # what the probe's 202 declared, and what is wrong with it
        self.tools_error: str | None = None  # the probe's init was not accepted
        self.probe: asyncio.Task[Outcome] | None = None

    def init_body(self, rollout_id: str, /, **fields: Any) -> dict[str, Any]:
        """A valid init; `fields` replace or add top-level fields, and one given as DROP
        is left out. It carries `completion_params: {}` although the spec makes it
        optional: some servers require it, and only `init-defaults` should mind that."""
        user = {"role": "user", "content": f"Rollout {rollout_id}: answer as scripted."}
        body: dict[str, Any] = {
            "rollout_id": rollout_id,
            "server_url": self.trainer.url,
            "messages": [SYSTEM, user],
            "completion_params": {},
            **fields,
        }
        if self.options.metadata:
            body["metadata"] = self.options.metadata
        return {name: value for name, value in body.items() if value is not DROP}

    def watch(self, rollout_ids: Collection[str]) -> Watch:
        return Watch(self.trainer, rollout_ids)

    async def start(
        self,
        label: str,
        replies: Iterable[PlannedAnswer],
        completed: Iterable[int] = (),
        delay: float = 0.0,
        **fields: Any,
    ) -> Running:
        """Script the trainer for a new rollout, then send its init through the trainer."""
        rollout_id = self.new_id(label)
        init = self.init_body(rollout_id, **fields)
        self.trainer.plan_rollout(rollout_id, replies, completed, delay)
        running = Running(self, rollout_id, init, self.watch([rollout_id]))
        try:
            handle = await self.trainer.start_rollout(self.url, init, self.options.api_key)
        except InitError as exc:
            running.error = str(exc)
            running.refused_status = exc.status_code if isinstance(exc, InitRefused) else None
        else:
            running.tools = handle.tools
        return running

    async def run(self, label: str, replies: Iterable[PlannedAnswer], **kwargs: Any) -> Outcome:
        return await (await self.start(label, replies, **kwargs)).finish()

    async def outcome(
        self, rollout_id: str, init: dict[str, Any], watch: Watch, error: str | None = None
    ) -> Outcome:
        await watch.close()
        violations = self.trainer.violations(rollout_id)
        return Outcome(
            rollout_id, init, watch.chats, watch.posts, violations, self.options.timeout, error
        )

    async def post_init(self, body: dict[str, Any]) -> httpx.Response:
        """A raw init, outside the trainer's bookkeeping (for bodies it would not send)."""
        return await self.http.post(self.url + INIT_PATH, json=body, headers=self.headers())

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(self.url + path, headers=self.headers())

    def precondition(self, *outs: Outcome) -> Verdict | None:
        """SKIP when an init was refused and the plain probe init was refused too: the
        check's own rule was never put to the test."""
        refused = next((out.error for out in outs if out.error), None)
        if refused and self.tools_error:
            return Verdict(CheckStatus.SKIP, f"not tested: the init was refused ({refused})")
        return None

    async def discover(self) -> None:
        """Start the probe rollout; its 202 tells the checks which tools they can call.
        A 401 means the key is missing or wrong: one KeyRequired says so for every check."""
        running = await self.start("init-tools", [answer()])
        self.probe = asyncio.create_task(running.finish())
        if running.refused_status == 401:
            raise KeyRequired(key_hint(self.url, self.options.api_key))
        if running.error:
            self.tools_error = running.error
            return
        self.lint = ToolLint.of(running.tools)
        self.tools = self.lint.callable
