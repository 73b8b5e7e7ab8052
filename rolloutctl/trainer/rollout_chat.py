"""The mock trainer's per-rollout chat path: an OpenAI base URL for each rollout.

A client that takes an OpenAI base URL per rollout (the Osmosis SDK 0.3 protocol's
`chat_completions_url`, as in the SDK's local eval) gets `{trainer}/v1/rollouts/{id}`
(`chat_base_url`), so its chat calls arrive at `POST /v1/rollouts/{id}/chat/completions`.
They go through the same `ChatHandler` as v1 calls (policies, fault injection, events,
the append-only and tool checks, the Bearer check) with the rollout id taken from the
path. The policies take the tools from each request's `tools` field, since no 202 lists
them there; the route checks that every request of a rollout carries the same ones.
The rest of the 0.3 bookkeeping (the key, the final result) is `osmosis.trainer_records`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from rolloutctl.trainer.asgi import Handler, JsonAnswer
from rolloutctl.trainer.chat import ChatHandler
from rolloutctl.trainer.records import Records

__all__ = ["RolloutChatRoute", "chat_base_url"]

PREFIX, SUFFIX = "/v1/rollouts/", "/chat/completions"


def chat_base_url(trainer_url: str, rollout_id: str) -> str:
    """The `chat_completions_url` to send for a rollout (without `/chat/completions`)."""
    return f"{trainer_url.rstrip('/')}{PREFIX}{quote(rollout_id, safe='')}"


class RolloutChatRoute:
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
