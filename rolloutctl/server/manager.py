"""Accepting, scheduling and finishing rollouts: the server's engine, free of HTTP.

Each accepted rollout gets one task that waits for a concurrency slot, runs the agent,
and then delivers exactly one completion. Shutdown cancels the tasks still in their
agent phase once (the task turns that into a `shutdown` completion and delivers it),
and only a second cancel stops a task outright. One task per rollout instead of a
task plus a child task for the agent: tasks are a measurable share of a rollout's CPU.
The HTTP layer (`core.py`, `app.py`) only translates requests to these calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from rolloutctl.agent.context import Agent, RolloutContext, RolloutRequest, RolloutResult
from rolloutctl.agent.tools import Tool
from rolloutctl.errors import AgentToolsError, RolloutFailure, ServerBusy
from rolloutctl.protocol import ErrorCategory, InitRequest
from rolloutctl.server.callbacks import HttpPool, TrainerClient, encode_body
from rolloutctl.server.limits import Slots
from rolloutctl.server.runner import (
    build_payload,
    execute,
    kept_payload,
    to_rollout_request,
    v1_backend,
)
from rolloutctl.server.settings import ServerSettings
from rolloutctl.server.store import RecordStore, RolloutRecord, RolloutState

__all__ = ["RolloutManager", "ServerBusy"]

log = logging.getLogger("rolloutctl.server")


class RolloutManager:
    """Runs rollouts of one agent under `settings`; one per server process."""

    def __init__(
        self, agent: Agent, settings: ServerSettings, pool: HttpPool, store: RecordStore
    ) -> None:
        self.agent = agent
        self.settings = settings
        self.pool = pool
        self.store = store
        self.draining = False
        self._slots = Slots(settings.max_concurrent)
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_agent: dict[str, asyncio.Task[None]] = {}  # rollout tasks running the agent
        self._agents_stopped = self._hard_stop = False
        self._tools_json: tuple[list[Tool], str] | None = None

    async def accept(self, init: InitRequest) -> bytes:
        """Start `init` (or find its twin) and return the 202 body, as sent the first time.

        Raises StoreUnavailable when the store cannot record the rollout: nothing runs then.
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
        if self.draining:
            raise ServerBusy("server is shutting down")
        if self.store.active >= self.settings.max_concurrent + self.settings.max_queue:
            raise ServerBusy("rollout queue is full")
        request = to_rollout_request(init)
        try:
            tools = list(self.agent.tools(request))
        except Exception as exc:
            raise AgentToolsError(
                f"the agent's tools() raised {type(exc).__name__}: {exc}"
            ) from exc
        body = self._accepted_body(init.rollout_id, tools)
        record = RolloutRecord(init.rollout_id, body)
        first = await self.store.claim(record)
        if first is not None:  # another replica (or a concurrent init) won the id
            return first
        task = asyncio.create_task(self._run(record, init, request, tools))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return body

    def _accepted_body(self, rollout_id: str, tools: list[Tool]) -> bytes:
        """The 202 body; the tools part is encoded once while the agent lists the same tools.

        json, not orjson: the body is kept for idempotent repeats, and every orjson
        result holds a 4 KiB buffer, whatever its length (measured: 78 MiB for 20k).
        """
        if self._tools_json is None or self._tools_json[0] != tools:
            self._tools_json = (tools, json.dumps([t.schema() for t in tools]))
        tools_part = self._tools_json[1]
        return f'{{"rollout_id": {json.dumps(rollout_id)}, "tools": {tools_part}}}'.encode()

    async def _run(
        self,
        record: RolloutRecord,
        init: InitRequest,
        request: RolloutRequest,
        tools: Sequence[Tool],
    ) -> None:
        started = time.perf_counter()
        try:
            client = TrainerClient(init.server_url, init.key, self.settings.retry, self.pool)
        except ValueError as exc:  # init validation refuses these; no rollout may hang anyway
            return self._undeliverable(record, request, tools, str(exc))
        ctx = RolloutContext(request, tools, v1_backend(client, init.rollout_id))
        record.metrics = ctx.metrics
        task = asyncio.current_task()
        assert task is not None
        self._in_agent[record.rollout_id] = task
        try:
            result: RolloutResult | RolloutFailure = await self._run_agent(record, ctx)
        except RolloutFailure as failure:
            result = failure
        except asyncio.CancelledError:
            if self._hard_stop or not self._agents_stopped:
                raise  # not shutdown's cancel of the agent phase: a hard stop
            task.uncancel()  # the cancel ended the agent; this task still delivers
            result = RolloutFailure(
                ErrorCategory.SHUTDOWN, "server shut down before the rollout finished"
            )
        finally:
            self._in_agent.pop(record.rollout_id, None)
        payload = build_payload(ctx, result, (time.perf_counter() - started) * 1000)
        body = encode_body(payload)
        self.store.finish(record, kept_payload(payload, self.settings.max_record_bytes, len(body)))
        _log_end(record, payload, result)
        await self._deliver(record, client, body)

    def _undeliverable(
        self, record: RolloutRecord, request: RolloutRequest, tools: Sequence[Tool], why: str
    ) -> None:
        """End a rollout whose trainer cannot even be addressed: ERROR, kept for status."""
        ctx = RolloutContext(request, tools, _no_trainer)
        failure = RolloutFailure(ErrorCategory.INTERNAL_ERROR, f"cannot call the trainer: {why}")
        payload = build_payload(ctx, failure, 0.0)
        self.store.finish(record, payload)
        record.delivered, record.delivery_error = False, why
        record.state = RolloutState.DELIVERY_FAILED
        self.store.changed(record)
        _log_end(record, payload, failure)

    async def _run_agent(self, record: RolloutRecord, ctx: RolloutContext) -> RolloutResult:
        async with self._slots:
            record.state = RolloutState.RUNNING
            self.store.changed(record)
            rollout_id = record.rollout_id
            # DEBUG: the line at the end says how it went and how long it took; two INFO
            # lines per rollout took 6.5% of a busy server's CPU samples, one takes 1.9%
            log.debug("rollout %s started", rollout_id, extra={"rollout_id": rollout_id})
            return await execute(ctx, self.agent, self.settings.rollout_timeout)

    async def _deliver(self, record: RolloutRecord, client: TrainerClient, body: bytes) -> None:
        try:
            delivery = await client.complete(body)
        except asyncio.CancelledError:  # the process must exit: say so for this rollout
            record.delivered, record.state = False, RolloutState.DELIVERY_FAILED
            record.delivery_error = "the server shut down before the trainer took it"
            log.warning(
                "rollout %s: completion delivery failed: %s",
                record.rollout_id,
                record.delivery_error,
                extra={"rollout_id": record.rollout_id},
            )
            raise
        record.delivered = delivery.delivered
        if not delivery.delivered:
            record.state = RolloutState.DELIVERY_FAILED
            record.delivery_error = delivery.error
            log.warning(
                "rollout %s: completion delivery failed after %d attempt(s): %s",
                record.rollout_id,
                delivery.attempts,
                delivery.error,
                extra={"rollout_id": record.rollout_id},
            )
        self.store.changed(record)

    async def shutdown(self) -> None:
        """Refuse new work, drain for the grace period, then end the rest as `shutdown`."""
        self.draining = True
        grace = self.settings.shutdown_grace
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        self._agents_stopped = True
        for task in list(self._in_agent.values()):
            task.cancel()
        if self._tasks:  # let the shutdown completions go out, within a bound
            await asyncio.wait(set(self._tasks), timeout=max(grace, 5.0))
        self._hard_stop = True
        for task in list(self._tasks):
            task.cancel()


async def _no_trainer(messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("this rollout has no trainer to call")


def _log_end(record: RolloutRecord, payload: dict[str, Any], result: object) -> None:
    """One line per rollout: INFO when it completed, WARNING with the category when not.

    At DEBUG the agent's (or tool's) exception follows with its traceback, which
    ends in the user's own file and line.
    """
    metrics = payload["metrics"]
    status = payload["status"]
    fields = {"rollout_id": record.rollout_id, "status": status}
    if status != "ERROR":
        log.info(
            "rollout %s %s finish_reason=%s turns=%d duration=%.0fms",
            record.rollout_id,
            status,
            payload["finish_reason"],
            metrics["num_llm_calls"],
            metrics["total_latency_ms"],
            extra=fields,
        )
        return
    category = payload["extra_fields"]["error_category"]
    log.warning(
        "rollout %s ERROR category=%s turns=%d duration=%.0fms error=%s",
        record.rollout_id,
        category,
        metrics["num_llm_calls"],
        metrics["total_latency_ms"],
        payload["error_message"],
        extra={**fields, "category": category},
    )
    cause = getattr(result, "__cause__", None)
    if cause is not None and log.isEnabledFor(logging.DEBUG):
        log.debug("rollout %s: the error's traceback", record.rollout_id, exc_info=cause)
