"""The mock trainer's bookkeeping of an Osmosis SDK 0.3 rollout, for whoever drives it.

The rollout itself is driven by whoever holds the 0.3 client: it tells the trainer the
rollout's key (`expect_rollout`) before the POST /rollout, and hands it the final result
(`record_result`), which is checked and published like a v1 completion. The chat calls
arrive at the trainer's per-rollout path (`trainer.rollout_chat`).
"""

from __future__ import annotations

from typing import Any

from rolloutctl.events import EventKind
from rolloutctl.trainer.records import Records
from rolloutctl.trainer.violations import ViolationFinding, history_breach, tool_message_findings

__all__ = ["expect_rollout", "record_result", "result_findings"]


def expect_rollout(records: Records, rollout_id: str, request: dict[str, Any]) -> None:
    """A 0.3 rollout is about to be posted: remember its key (for the Bearer check) and
    publish its request, the key shown as `***`."""
    state = records.state(rollout_id)
    key = request.get("llm_api_key")
    state.started, state.api_key = True, key if isinstance(key, str) and key else None
    shown = {**request, "llm_api_key": "***"} if state.api_key else request
    records.emit(EventKind.INIT_SENT, rollout_id, {"request": shown})


def record_result(records: Records, rollout_id: str, completion: dict[str, Any]) -> None:
    """The final result: checked against the last chat request, stored, published."""
    state = records.state(rollout_id)
    findings = result_findings(state.last_messages, state.last_reply, completion)
    first = state.completion is None
    if first:
        records.completions[rollout_id] = completion
        state.finished(completion)
    records.emit(EventKind.COMPLETION, rollout_id, {"body": completion, "status_code": 200})
    for finding in findings:
        records.report(rollout_id, *finding)
    if first:
        state.completed.fire(completion)


def result_findings(
    previous: list[dict[str, Any]] | None, reply: dict[str, Any] | None, completion: dict[str, Any]
) -> list[ViolationFinding]:
    """A successful sample's messages must extend the last request and its answer."""
    final = completion.get("final_messages")
    if completion.get("status") != "success" or not isinstance(final, list) or not final:
        return []
    start = 0
    if previous is not None:
        if breach := history_breach(previous, reply, final):
            return [("final_messages_not_extending", f"sample.messages: {breach}")]
        start = len(previous)
    return tool_message_findings(final, start)
