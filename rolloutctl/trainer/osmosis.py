"""The mock trainer as the LLM side of the Osmosis SDK 0.3 protocol.

A 0.3 rollout's `chat_completions_url` is an OpenAI base URL; here it is
`{trainer}/v1/rollouts/{rollout_id}` (as in the SDK's local eval), so its chat calls
arrive at `POST /v1/rollouts/{rollout_id}/chat/completions`. They go through the same
`ChatHandler` as v1 calls (policies, fault injection, events, the append-only and tool
checks, the Bearer check) with the rollout id taken from the path. The policies take
the tools from each request's `tools` field, since no 202 lists them in this protocol.

The rollout itself is driven by whoever holds the 0.3 client: it tells the trainer the
rollout's key (`expect_rollout`) before the POST /rollout, and hands it the final result
(`record_result`), which is checked and published like a v1 completion.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from rolloutctl.events import EventKind
from rolloutctl.trainer.asgi import Handler, JsonAnswer
from rolloutctl.trainer.chat import ChatHandler
from rolloutctl.trainer.records import Records
from rolloutctl.trainer.violations import ViolationFinding, history_breach, tool_message_findings

__all__ = ["OsmosisChat", "chat_base_url", "expect_rollout", "record_result", "result_findings"]

PREFIX, SUFFIX = "/v1/rollouts/", "/chat/completions"


def chat_base_url(trainer_url: str, rollout_id: str) -> str:
    """The `chat_completions_url` to send for a rollout (without `/chat/completions`)."""
    return f"{trainer_url.rstrip('/')}{PREFIX}{quote(rollout_id, safe='')}"


class OsmosisChat:
    """Routes the per-rollout chat path to `ChatHandler`, checking the tools on the way."""

    def __init__(self, chat: ChatHandler, records: Records) -> None:
        self.chat, self.records = chat, records

    def route(self, path: str) -> Handler | None:
        if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
            return None
        rollout_id = unquote(path[len(PREFIX) : -len(SUFFIX)])
        if not rollout_id or "/" in rollout_id:
            return None

        async def answer(body: dict[str, Any], auth: bytes | None) -> JsonAnswer:
            self._check_tools(rollout_id, body)
            return await self.chat({**body, "rollout_id": rollout_id}, auth)

        return answer

    def _check_tools(self, rollout_id: str, body: dict[str, Any]) -> None:
        """The tools must come with every request, the same each time within a rollout."""
        state = self.records.state(rollout_id)
        tools = body.get("tools")
        if state.request_tools is None:
            state.request_tools = tools if isinstance(tools, list) else []
        elif state.request_tools and tools is None:
            self.records.report(rollout_id, "tools_missing", "chat request without `tools`")
        elif state.request_tools and tools != state.request_tools:
            message = "chat request's `tools` differ from the rollout's first request"
            self.records.report(rollout_id, "tools_changed", message)


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
