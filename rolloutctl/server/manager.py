"""Admitting rollouts, limiting how many run at once, and shutting down: free of HTTP.

Each admitted init becomes a `Rollout` (`rollout.py`) run by one task, which waits for
a slot, runs the agent and delivers exactly one completion. Shutdown cancels the
tasks still in their agent phase once (the rollout turns that into a `shutdown`
completion and delivers it), and only a second cancel stops a task outright. One
task per rollout, not a task plus a child task for the agent: tasks are a measurable
share of a rollout's CPU. The HTTP layer (`core.py`, `app.py`) only translates
requests to these calls.
"""

from __future__ import annotations

import asyncio
import json
import logging

from rolloutctl.agent.context import Agent
from rolloutctl.agent.tools import Tool
from rolloutctl.errors import AgentToolsError, ServerBusy
from rolloutctl.observe.hooks import RolloutObserver, notify
from rolloutctl.observe.trace_headers import TraceHeaders
from rolloutctl.protocol import InitRequest
from rolloutctl.server.callbacks import HttpPool
from rolloutctl.server.limits import Slots
from rolloutctl.server.rollout import Rollout, to_rollout_request
from rolloutctl.server.settings import ServerSettings
from rolloutctl.server.store import Callback, RecordStore, RolloutRecord

__all__ = ["RolloutManager"]

log = logging.getLogger("rolloutctl.server")


class RolloutManager:
    """Runs rollouts of one agent under `settings`; one per server process.

    What its `Rollout`s read: `agent`, `settings`, `pool`, `store`, `slots`,
    `observers`, and the shutdown state (`in_agent`, `agents_stopped`, `hard_stop`).
    """

    def __init__(
        self,
        agent: Agent,
        settings: ServerSettings,
        pool: HttpPool,
        store: RecordStore,
        observers: list[RolloutObserver] | None = None,
    ) -> None:
        self.agent, self.settings, self.pool, self.store = agent, settings, pool, store
        self.observers: list[RolloutObserver] = [] if observers is None else observers
        self.slots = Slots(settings.max_concurrent)
        self.in_agent: dict[str, asyncio.Task[None]] = {}  # rollout tasks running the agent
        self.draining = self.agents_stopped = self.hard_stop = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._tools_json: tuple[list[Tool], str] | None = None

    async def accept(self, init: InitRequest, trace: TraceHeaders | None = None) -> bytes:
        """Start `init` (or find its twin) and return the 202 body, as sent the first time.

        `trace` is the init's W3C trace context, for observers that trace. Raises
        StoreUnavailable when the store cannot record the rollout: nothing runs then.
        """
        record = self.store.local(init.rollout_id)
        if record is not None:
            return record.response_body
        if init.rollout_id in self.store.forgotten:
            log.warning(
                "rollout %s was forgotten (past --max-records) and is run again",
                init.rollout_id,
                extra={"rollout_id": init.rollout_id},
            )
        self._admit()
        request = to_rollout_request(init)
        try:
            tools = list(self.agent.tools(request))
        except Exception as exc:
            raise AgentToolsError(
                f"the agent's tools() raised {type(exc).__name__}: {exc}"
            ) from exc
        body = self._accepted_body(init.rollout_id, tools)
        record = RolloutRecord(init.rollout_id, body, callback=Callback(init.server_url, init.key))
        record.messages = request.messages  # the history a rescue sends until it runs
        first = await self.store.claim(record)
        if first is not None:  # another replica (or a concurrent init) won the id
            return first
        self._start(Rollout(self, record, init, request, tools, trace))
        return body

    def _admit(self) -> None:
        """ServerBusy while draining or when the queue is full."""
        if self.draining:
            raise ServerBusy("server is shutting down")
        if self.store.active >= self.settings.max_concurrent + self.settings.max_queue:
            raise ServerBusy("rollout queue is full")

    def _start(self, rollout: Rollout) -> None:
        task = asyncio.create_task(rollout.run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self.observers:
            notify(self.observers, "accepted", rollout)

    def _accepted_body(self, rollout_id: str, tools: list[Tool]) -> bytes:
        """The 202 body; the tools part is encoded once while the agent lists the same tools.

        json, not orjson: the body is kept for idempotent repeats, and every orjson
        result holds a buffer of at least 4 KiB, whatever its length (BENCHMARKS.md).
        """
        if self._tools_json is None or self._tools_json[0] != tools:
            self._tools_json = (tools, json.dumps([t.schema() for t in tools]))
        tools_part = self._tools_json[1]
        return f'{{"rollout_id": {json.dumps(rollout_id)}, "tools": {tools_part}}}'.encode()

    async def shutdown(self) -> None:
        """Refuse new work, drain for the grace period, then end the rest as `shutdown`."""
        self.draining = True
        grace = self.settings.shutdown_grace
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        self.agents_stopped = True
        for task in list(self.in_agent.values()):
            task.cancel()
        if self._tasks:  # let the shutdown completions go out, within a bound
            await asyncio.wait(set(self._tasks), timeout=max(grace, 5.0))
        self.hard_stop = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:  # each notes its cut delivery in its record before the store closes
            await asyncio.wait(set(self._tasks), timeout=5.0)
