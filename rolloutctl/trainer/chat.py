"""Answering POST /v1/chat/completions: checks, fault injection, policy, response.

This is the bench's hot path, so the common case does no logging, builds events
only for subscribers, and checks only the messages added since the last request.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any
from zlib import crc32

from rolloutctl.errors import UpstreamError
from rolloutctl.events import EventKind
from rolloutctl.trainer.asgi import JsonAnswer
from rolloutctl.trainer.bus import wait_within
from rolloutctl.trainer.config import TrainerConfig
from rolloutctl.trainer.fake_tokens import logprobs_for, message_ids, prompt_ids
from rolloutctl.trainer.policies.base import Policy, Reply, Turn
from rolloutctl.trainer.records import UNAUTHORIZED, Records, TrainerRolloutRecord
from rolloutctl.trainer.violations import (
    history_breach,
    message_shape_problem,
    params_finding,
    tool_message_findings,
)

__all__ = [
    "END_OF_TEXT",
    "INIT_WAIT_S",
    "ChatHandler",
    "build_response",
    "request_tools",
]

log = logging.getLogger("rolloutctl.trainer")
END_OF_TEXT = 0
INIT_WAIT_S = 30.0  # how long a chat call waits for its init's 202 (to learn the tools)


def build_response(turn: Turn, reply: Reply, policy: str) -> dict[str, Any]:
    """An OpenAI chat completion plus the trainer-side extras a real trainer adds."""
    completion = [*message_ids(reply.message)[1:], END_OF_TEXT]
    prompt = prompt_ids(turn.messages)
    usage = reply.usage or {
        "prompt_tokens": len(prompt),
        "completion_tokens": len(completion),
        "total_tokens": len(prompt) + len(completion),
    }
    return {
        "id": f"chatcmpl-{crc32(turn.rollout_id.encode()):08x}-{turn.index}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model or turn.body.get("model") or f"rolloutctl-mock-{policy}",
        "choices": [{"index": 0, "message": reply.message, "finish_reason": reply.finish_reason}],
        "usage": usage,
        "token_ids": completion,
        "logprobs": logprobs_for(completion),
        "prompt_token_ids": prompt,
    }


def request_tools(state: TrainerRolloutRecord | None, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The rollout's tools from its 202; else those of the request (OpenAI clients and the
    0.3 protocol send them there); else none: a policy calls only the tools offered."""
    if state is not None and state.tools is not None:
        return state.tools
    tools = body.get("tools")
    return tools if isinstance(tools, list) else []


class ChatHandler:
    def __init__(self, records: Records, policy: Policy, config: TrainerConfig, rng: random.Random):
        self.records, self.policy, self.config, self.rng = records, policy, config, rng

    async def __call__(self, body: dict[str, Any], auth: bytes | None) -> JsonAnswer:
        rollout_id, messages = body.get("rollout_id"), body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return self._invalid(str(rollout_id or ""), "messages: required, a list of objects")
        problem = message_shape_problem(messages)
        if problem is not None:
            return self._invalid(str(rollout_id or ""), problem, status=400)
        if not isinstance(rollout_id, str) or not rollout_id:
            return await self._plain(body, messages, auth)
        state = self.records.state(rollout_id)
        if not self.records.authorize(state, auth):
            return UNAUTHORIZED
        started = time.perf_counter()
        retry = state.last_messages is not None and messages == state.last_messages
        index = state.turns - retry  # a retry shows as the turn it repeats
        self.records.emit(EventKind.CHAT_REQUEST, rollout_id, {"index": index, "body": body})
        status, answer = await self._answer(state, body, messages, retry)
        await self._delay()
        tools = len(state.last_reply.get("tool_calls") or []) if state.last_reply else 0
        state.calls.append((started, time.perf_counter(), tools if status == 200 else 0))
        if self.records.bus.active:
            data = {"index": index, "status_code": status, "body": answer}
            data["latency_ms"] = (time.perf_counter() - started) * 1000
            self.records.emit(EventKind.CHAT_RESPONSE, rollout_id, data)
        return status, answer

    async def _answer(
        self,
        state: TrainerRolloutRecord,
        body: dict[str, Any],
        messages: list[dict[str, Any]],
        retry: bool,
    ) -> JsonAnswer:
        if self.config.fail_rate and self.rng.random() < self.config.fail_rate:
            return 503, {"detail": "injected failure (fail_rate)"}
        if retry:  # the same request again: its answer was lost, so it gets the same one
            # a retry repeats an answered turn, so last_response is set
            return 200, state.last_response  # type: ignore[return-value]
        self._check(state, body, messages)
        if state.init_pending:
            await self._await_init(state)
        turn = Turn(state.rollout_id, state.turns, messages, body, request_tools(state, body))
        answer, reply = await self._respond(turn)
        if reply is not None:
            state.answered(messages, reply.message, answer[1])
        return answer

    async def _plain(
        self, body: dict[str, Any], messages: list[dict[str, Any]], auth: bytes | None
    ) -> JsonAnswer:
        """No rollout_id: a protocol breach, but answered, so that a mock trainer can also
        stand in as the OpenAI-compatible upstream of another one's proxy policy."""
        self.records.report("", "chat_without_rollout_id", "chat call without a rollout_id")
        if not self.records.authorize(TrainerRolloutRecord(""), auth):
            return UNAUTHORIZED
        answer, _ = await self._respond(Turn("", 0, messages, body, request_tools(None, body)))
        await self._delay()
        return answer

    async def _delay(self) -> None:
        """--latency-ms: the model's time, added to every chat answer."""
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)

    async def _respond(self, turn: Turn) -> tuple[JsonAnswer, Reply | None]:
        started = time.perf_counter()
        try:
            reply = await self.policy.reply(turn)
        except UpstreamError as exc:
            return (exc.status_code, {"detail": exc.detail}), None
        except Exception as exc:
            log.exception("policy %s failed on rollout %s", self.policy.name, turn.rollout_id)
            return (500, {"detail": f"policy {self.policy.name} failed: {exc!r}"}), None
        finally:
            if self.records.metrics is not None:
                self.records.metrics.policy_seconds.observe(time.perf_counter() - started)
        return (200, build_response(turn, reply, self.policy.name)), reply

    def _check(
        self, state: TrainerRolloutRecord, body: dict[str, Any], messages: list[dict[str, Any]]
    ) -> None:
        """All chat-time checks; only messages added since the last request are scanned."""
        report, rid = self.records.report, state.rollout_id
        if state.completion is not None:
            report(rid, "chat_after_completion", "chat call after the completion was posted")
        if state.max_turns is not None and state.turns >= state.max_turns:
            report(rid, "max_turns_exceeded", f"LLM call {state.turns + 1} of {state.max_turns}")
        if state.completion_params and (finding := params_finding(state.completion_params, body)):
            report(rid, *finding)
        start = 0
        if state.last_messages is not None:
            breach = history_breach(state.last_messages, state.last_reply, messages)
            if breach:  # the positions of new messages are unknown: skip the tool checks
                return report(rid, "history_not_append_only", breach)
            start = len(state.last_messages)
        for finding in tool_message_findings(messages, start):
            report(rid, *finding)

    async def _await_init(self, state: TrainerRolloutRecord) -> None:
        """The server may call before this trainer has read the 202 that lists the tools."""
        waiter = state.tools_known.add()
        if state.init_pending:
            await wait_within(waiter, INIT_WAIT_S)

    def _invalid(self, rollout_id: str, detail: str, status: int = 422) -> JsonAnswer:
        self.records.report(rollout_id, "chat_invalid", detail)
        return status, {"detail": detail}
