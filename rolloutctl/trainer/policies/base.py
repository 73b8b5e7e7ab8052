"""What a policy is: the mock trainer's stand-in for the model behind chat calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Policy",
    "Reply",
    "Turn",
    "assistant",
    "last_user_index",
]


@dataclass(slots=True)
class Turn:
    """One chat call, as a policy sees it."""

    rollout_id: str
    index: int  # 0 for the rollout's first answered chat call
    messages: list[dict[str, Any]]
    body: dict[str, Any]  # the whole request, completion_params included
    tools: list[dict[str, Any]] | None  # from the init's 202; None when unknown


@dataclass(slots=True)
class Reply:
    message: dict[str, Any]  # the assistant message
    finish_reason: str = "stop"
    usage: dict[str, int] | None = None  # None: counted from the fake tokens
    model: str | None = None  # None: the policy's name


class Policy:
    """Base of all policies. State, if any, must be derived per rollout from the Turn."""

    name = "policy"

    def describe(self) -> str:
        """One line for banners."""
        return self.name

    async def check_reachable(self) -> None:
        """Raise a CannotStartError when what the policy relies on cannot be reached
        (the proxy's upstream); a local policy relies on nothing."""

    async def reply(self, turn: Turn) -> Reply:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release resources (the proxy's HTTP client)."""


def assistant(
    content: str | None, tool_calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An assistant message shaped like an OpenAI one."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def last_user_index(messages: list[dict[str, Any]]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            return index
    return None
