"""The pydantic models of the Osmosis SDK 0.2 agent API: tool schemas, requests, results.

Same names, fields and defaults as `osmosis_ai.rollout` 0.2 (see
shared/OSMOSIS_0_2_AGENT_API.md), so agent code that builds or reads them runs as is.
`RolloutMetrics` is the agent API's own: it has the same fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from rolloutctl.agent.context import ChatResult
from rolloutctl.agent.context import RolloutRequest as AgentRequest

__all__ = [
    "CompletionsResult",
    "OpenAIFunctionParametersSchema",
    "OpenAIFunctionPropertySchema",
    "OpenAIFunctionSchema",
    "OpenAIFunctionToolSchema",
    "RolloutRequest",
]


class OpenAIFunctionPropertySchema(BaseModel):
    type: str
    description: str | None = None
    enum: list[str] | None = None


class OpenAIFunctionParametersSchema(BaseModel):
    type: str = "object"
    properties: dict[str, OpenAIFunctionPropertySchema] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)


class OpenAIFunctionSchema(BaseModel):
    name: str
    description: str = ""
    parameters: OpenAIFunctionParametersSchema = Field(
        default_factory=OpenAIFunctionParametersSchema
    )
    strict: bool = False


class OpenAIFunctionToolSchema(BaseModel):
    type: str = "function"
    function: OpenAIFunctionSchema


class RolloutRequest(BaseModel):
    """The init as a 0.2 agent reads it. rolloutctl never hands agents the trainer's URL
    or the rollout's `api_key`: `server_url` is empty and `api_key` None here."""

    rollout_id: str
    server_url: str = ""
    messages: list[dict[str, Any]]
    completion_params: dict[str, Any] = Field(default_factory=dict)
    tool_server_url: str | None = None
    max_turns: int = 10
    max_tokens_total: int = 8192
    metadata: dict[str, Any] = Field(default_factory=dict)
    api_key: str | None = None
    idempotency_key: str | None = None

    @classmethod
    def from_agent_request(cls, request: AgentRequest) -> RolloutRequest:
        return cls(
            rollout_id=request.rollout_id,
            messages=list(request.messages),
            completion_params=dict(request.completion_params),
            tool_server_url=request.tool_server_url,
            max_turns=request.max_turns,
            max_tokens_total=request.max_tokens_total,
            metadata=dict(request.metadata),
            idempotency_key=request.rollout_id,
        )


class CompletionsResult(BaseModel):
    """One chat call's answer: the assistant message and the trainer's extras."""

    message: dict[str, Any]
    token_ids: list[int] = Field(default_factory=list)
    logprobs: list[float] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)
    finish_reason: str = "stop"

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return self.message.get("tool_calls") or []

    @property
    def has_tool_calls(self) -> bool:
        return bool(self.tool_calls)

    @property
    def content(self) -> str | None:
        return self.message.get("content")

    @classmethod
    def from_chat(cls, result: ChatResult) -> CompletionsResult:
        """Extras the trainer did not send (or sent malformed) become empty, as in 0.2;
        missing usage is the token counts the context read (zeros)."""
        response = result.response
        usage = response.get("usage")
        if not isinstance(usage, dict):
            prompt, completion = result.prompt_tokens, result.completion_tokens
            usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                     "total_tokens": prompt + completion}  # fmt: skip
        return cls(
            message=result.message,
            token_ids=_list_of(response.get("token_ids"), int),
            logprobs=_list_of(response.get("logprobs"), int | float),
            usage=usage,
            finish_reason=result.finish_reason,
        )


def _list_of(values: Any, kind: Any) -> list[Any]:
    """`values` when it is a list of `kind`, else []."""
    if isinstance(values, list) and all(isinstance(value, kind) for value in values):
        return values
    return []
