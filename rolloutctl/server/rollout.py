"""One rollout from its 202 to its delivered completion, as one object.

Like uvicorn's `RequestResponseCycle` for a request, a `Rollout` owns everything one
rollout does after `RolloutManager.accept` admitted it: the trainer client, the
agent's context and chat backend, the agent run under the time limit in a
concurrency slot, the completion (built, encoded once, recorded) and its one
delivery. Every path out of `Rollout.run` (the agent's result, its exception, a
trainer failure, the time limit, the server shutting down) makes exactly one
completion. The lifecycle points observers see are in `rolloutctl.observe.hooks`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rolloutctl.agent.context import Agent, RolloutContext, RolloutRequest, RolloutResult
from rolloutctl.agent.tools import Tool
from rolloutctl.errors import (
    BadModelResponse,
    RolloutAborted,
    RolloutFailure,
    TrainerError,
    TurnLimitReached,
)
from rolloutctl.observe.hooks import notify
from rolloutctl.protocol import ErrorCategory, InitRequest
from rolloutctl.server.callbacks import CallWatch, Delivery, TrainerClient, encode_body
from rolloutctl.server.completion import build_payload, kept_payload, log_end
from rolloutctl.server.limits import TimeLimit
from rolloutctl.server.store import RolloutRecord, RolloutState

if TYPE_CHECKING:
    from rolloutctl.observe.trace_headers import TraceHeaders
    from rolloutctl.server.manager import RolloutManager

__all__ = ["Rollout", "execute", "to_rollout_request"]

log = logging.getLogger("rolloutctl.server")
_SHUTDOWN = "server shut down before the rollout finished"


class Rollout:
    """One accepted rollout; `run` is the body of its one task."""

    __slots__ = (
        "_client",
        "_manager",
        "context",
        "init",
        "record",
        "request",
        "tools",
        "trace",
        "watch",
    )

    def __init__(
        self,
        manager: RolloutManager,
        record: RolloutRecord,
        init: InitRequest,
        request: RolloutRequest,
        tools: Sequence[Tool],
        trace: TraceHeaders | None = None,
    ) -> None:
        """`trace`: the init's W3C trace context headers, for observers that trace."""
        self._manager = manager
        self.record, self.init, self.request, self.tools = record, init, request, tools
        self.trace = trace
        self.context: RolloutContext | None = None  # set once the trainer can be called
        self.watch: CallWatch | None = None  # an observer's, at `accepted`: sees callbacks

    @property
    def rollout_id(self) -> str:
        return self.record.rollout_id

    async def run(self) -> None:
        """Execute the agent, build the payload, record it, deliver it: once, always."""
        started = time.perf_counter()
        manager = self._manager
        try:
            self._client = TrainerClient(
                self.init.server_url,
                self.init.key,
                manager.settings.retry,
                manager.pool,
                watch=self.watch,
            )
        except ValueError as exc:  # init validation refuses these; no rollout may hang anyway
            return self._undeliverable(str(exc))
        ctx = self.context = RolloutContext(self.request, self.tools, self.chat)
        self.record.metrics, self.record.context = ctx.metrics, ctx
        if manager.observers:
            ctx.on_tool = self._tool_called
        result = await self._agent_phase(ctx)
        payload = build_payload(ctx, result, (time.perf_counter() - started) * 1000)
        body = encode_body(payload)
        limit = manager.settings.max_record_bytes
        manager.store.finish(self.record, kept_payload(payload, limit, len(body)))
        self._finished(payload, result)
        await self._deliver(body)

    async def chat(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        """The context's model backend: the trainer's chat; protocol fields win over params."""
        body = {**params, "model": "default", "rollout_id": self.rollout_id, "messages": messages}
        observers = self._manager.observers
        if not observers:
            return await self._client.chat(body)
        started = time.perf_counter()
        try:
            response = await self._client.chat(body)
        except BaseException as exc:
            notify(observers, "llm_call", self, time.perf_counter() - started, exc)
            raise
        notify(observers, "llm_call", self, time.perf_counter() - started, None)
        return response

    async def _agent_phase(self, ctx: RolloutContext) -> RolloutResult | RolloutFailure:
        """Wait for a slot, run the agent; shutdown's first cancel ends it as `shutdown`."""
        manager = self._manager
        task = asyncio.current_task()
        assert task is not None
        manager.in_agent[self.rollout_id] = task
        try:
            async with manager.slots:
                self._started()
                return await execute(ctx, manager.agent, manager.settings.rollout_timeout)
        except RolloutFailure as failure:
            return failure
        except asyncio.CancelledError:
            if manager.hard_stop or not manager.agents_stopped:
                raise  # not shutdown's cancel of the agent phase: a hard stop
            task.uncancel()  # the cancel ended the agent; this task still delivers
            return RolloutFailure(ErrorCategory.SHUTDOWN, _SHUTDOWN)
        finally:
            manager.in_agent.pop(self.rollout_id, None)

    def _started(self) -> None:
        self.record.state = RolloutState.RUNNING
        manager = self._manager
        manager.store.changed(self.record)
        # DEBUG: the one line at the end says how it went (log cost: BENCHMARKS.md)
        log.debug("rollout %s started", self.rollout_id, extra={"rollout_id": self.rollout_id})
        if manager.observers:
            notify(manager.observers, "started", self)

    def _tool_called(self, call: dict[str, Any], content: str, seconds: float) -> None:
        notify(self._manager.observers, "tool_call", self, call, content, seconds)

    def _finished(self, payload: dict[str, Any], result: object) -> None:
        log_end(self.rollout_id, payload, result)
        if self._manager.observers:
            notify(self._manager.observers, "finished", self, payload)

    async def _deliver(self, body: bytes) -> None:
        """Send the completion, unless another replica took its delivery over (this one
        was silent in the shared store past --owner-timeout and was rescued)."""
        store = self._manager.store
        try:
            if not await store.claim_delivery(self.record):
                log.warning(
                    "rollout %s: another replica delivered its completion (server_lost); "
                    "this one sends nothing",
                    self.rollout_id,
                    extra={"rollout_id": self.rollout_id},
                )
                return
            delivery = await self._client.complete(body)
        except asyncio.CancelledError:  # the process must exit: say so for this rollout
            delivery = Delivery(False, 0, "the server shut down before the trainer took it")
            self._delivered(delivery)
            store.changed(self.record)
            log.warning(
                "rollout %s: completion delivery failed: %s",
                self.rollout_id,
                delivery.error,
                extra={"rollout_id": self.rollout_id},
            )
            raise
        self._delivered(delivery)
        if not delivery.delivered:
            log.warning(
                "rollout %s: completion delivery failed after %d attempt(s): %s",
                self.rollout_id,
                delivery.attempts,
                delivery.error,
                extra={"rollout_id": self.rollout_id},
            )
        store.changed(self.record)

    def _delivered(self, delivery: Delivery) -> None:
        record = self.record
        record.delivered = delivery.delivered
        if not delivery.delivered:
            record.state, record.delivery_error = RolloutState.DELIVERY_FAILED, delivery.error
        if self._manager.observers:
            notify(self._manager.observers, "delivered", self, delivery)

    def _undeliverable(self, why: str) -> None:
        """End a rollout whose trainer cannot even be addressed: ERROR, kept for status."""
        ctx = RolloutContext(self.request, self.tools, _no_trainer)
        failure = RolloutFailure(ErrorCategory.INTERNAL_ERROR, f"cannot call the trainer: {why}")
        payload = build_payload(ctx, failure, 0.0)
        self._manager.store.finish(self.record, payload)
        self._finished(payload, failure)
        self._delivered(Delivery(False, 0, why))
        self._manager.store.changed(self.record)


def to_rollout_request(init: InitRequest) -> RolloutRequest:
    """The protocol-neutral view of an init that agents see (no URL, no key)."""
    return RolloutRequest(
        rollout_id=init.rollout_id,
        messages=init.messages,
        completion_params=init.completion_params,
        max_turns=init.max_turns,
        max_tokens_total=init.max_tokens_total,
        metadata=init.metadata,
        tool_server_url=init.tool_server_url,
    )


async def execute(ctx: RolloutContext, agent: Agent, timeout: float) -> RolloutResult:
    """Run the agent under the time limit, turning every failure into RolloutFailure."""
    limit = TimeLimit(timeout)
    try:
        with limit:
            result = await agent.run(ctx)
    except TurnLimitReached:
        return RolloutResult(finish_reason="max_turns")
    except RolloutAborted as exc:
        raise RolloutFailure(ErrorCategory.AGENT_ERROR, str(exc)) from exc
    except TrainerError as exc:
        raise RolloutFailure(exc.category, str(exc)) from exc
    except BadModelResponse as exc:
        raise RolloutFailure(ErrorCategory.TRAINER_SERVER_ERROR, str(exc)) from exc
    except TimeoutError as exc:
        if not limit.expired:  # the agent's own TimeoutError is an agent failure
            raise RolloutFailure(ErrorCategory.AGENT_ERROR, f"TimeoutError: {exc}") from exc
        raise RolloutFailure(
            ErrorCategory.TIMEOUT, f"rollout time limit of {timeout:g} s passed"
        ) from exc
    except Exception as exc:
        raise RolloutFailure(ErrorCategory.AGENT_ERROR, f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(result, RolloutResult):
        raise RolloutFailure(
            ErrorCategory.AGENT_ERROR, f"run() returned {type(result).__name__}, not RolloutResult"
        )
    return result


async def _no_trainer(messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("this rollout has no trainer to call")
