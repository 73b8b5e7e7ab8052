"""Answering POST /v1/rollout/completed: check the payload, record the first one, wake waiters."""

from __future__ import annotations

import random
import time
from typing import Any

from rolloutctl.events import EventKind
from rolloutctl.trainer.asgi import JsonAnswer
from rolloutctl.trainer.config import TrainerConfig
from rolloutctl.trainer.records import UNAUTHORIZED, Records, TrainerRolloutRecord
from rolloutctl.trainer.violations import (
    ViolationFinding,
    history_breach,
    payload_finding,
    tool_message_findings,
)

__all__ = ["OK", "CompletionHandler", "completion_findings"]

OK = {"status": "ok"}


def completion_findings(
    state: TrainerRolloutRecord, body: dict[str, Any]
) -> list[ViolationFinding]:
    """Everything wrong with this completion given what the chat calls showed."""
    found: list[ViolationFinding] = []
    if state.completion is not None:
        same = "the same payload again" if body == state.completion else "a different payload"
        found.append(("completion_duplicate", f"a second completion for this rollout ({same})"))
    if finding := payload_finding(body):
        found.append(finding)
    final = body.get("final_messages")
    if not isinstance(final, list) or not all(isinstance(m, dict) for m in final):
        return found
    status, previous = body.get("status"), state.last_messages
    start = 0
    if previous is not None:
        breach = history_breach(previous, state.last_reply, final)
        if breach and status == "ERROR" and history_breach(previous, None, final) is None:
            breach = None  # the last answer may have been lost before the rollout failed
        if breach:  # the positions of new messages are unknown: skip the tool checks
            return [*found, ("final_messages_not_extending", f"final_messages: {breach}")]
        start = len(previous)
    strict = status == "COMPLETED" and body.get("finish_reason") != "max_tokens"
    return found + tool_message_findings(final, start, strict_end=strict)


class CompletionHandler:
    def __init__(self, records: Records, config: TrainerConfig, rng: random.Random) -> None:
        self.records, self.config, self.rng = records, config, rng

    async def __call__(self, body: dict[str, Any], auth: bytes | None) -> JsonAnswer:
        rollout_id = body.get("rollout_id")
        if not isinstance(rollout_id, str) or not rollout_id:
            detail = "rollout_id: required, a non-empty string"
            self.records.report("", "completion_invalid", detail)
            return 422, {"detail": detail}
        state = self.records.state(rollout_id)
        if not self.records.authorize(state, auth):
            return UNAUTHORIZED
        rate = self.config.fail_completed_rate
        if rate and self.rng.random() < rate:
            self._emit(rollout_id, body, 503)
            return 503, {"detail": "injected failure (fail_completed_rate)"}
        findings = completion_findings(state, body)
        first = state.completion is None
        if first:
            state.completed_at = time.perf_counter()
            self.records.completions[rollout_id] = body
            state.finished(body)
        self._emit(rollout_id, body, 200)
        for finding in findings:
            self.records.report(rollout_id, *finding)
        if first:  # last, so a woken waiter finds this completion's events already queued
            state.completed.fire(body)
        return 200, OK

    def _emit(self, rollout_id: str, body: dict[str, Any], status: int) -> None:
        self.records.emit(EventKind.COMPLETION, rollout_id, {"body": body, "status_code": status})
