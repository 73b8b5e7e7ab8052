"""Wire schemas of the Remote Rollout Protocol v1 (see docs/protocol.md).

Inbound bodies are pydantic models so that a bad body is refused with a 422 naming
the field; outbound bodies are built as plain dicts on the hot path and described
here by models that the mock trainer uses to check what it receives.
"""

from __future__ import annotations

import functools
import json
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from rolloutctl.counters import RolloutMetrics
from rolloutctl.status import ErrorCategory

__all__ = [
    "CHAT_FIELDS",
    "CHAT_PATH",
    "COMPLETED_PATH",
    "INIT_PATH",
    "MAX_METADATA_BYTES",
    "TOOL_NAME_PATTERN",
    "CompletedRequest",
    "ErrorCategory",
    "FunctionSchema",
    "InitRequest",
    "InitResponse",
    "Status",
    "ToolSchema",
]

MAX_METADATA_BYTES = 1024 * 1024
TOOL_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$"
CHAT_PATH = "/v1/chat/completions"
COMPLETED_PATH = "/v1/rollout/completed"
INIT_PATH = "/v1/rollout/init"
CHAT_FIELDS = ("model", "rollout_id", "messages")  # set by the protocol, never by params


class Status(StrEnum):
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class InitRequest(_Body):
    """Body of POST /v1/rollout/init. `api_key` is a SecretStr so no repr or log shows it."""

    rollout_id: str = Field(min_length=1, max_length=256)
    server_url: str
    messages: list[dict[str, Any]]
    completion_params: dict[str, Any] = Field(default_factory=dict)
    api_key: SecretStr | None = None
    max_turns: int = Field(default=10, ge=1, strict=True)  # "5" and true are refused
    max_tokens_total: int = Field(default=8192, ge=1, strict=True)
    tool_server_url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("rollout_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        problem = _url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("messages")
    @classmethod
    def _messages_have_roles(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, message in enumerate(value):
            if not isinstance(message.get("role"), str):
                raise ValueError(f"message {index} has no string 'role'")
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_absent(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and any(c in value for c in "\r\n\0"):
            raise ValueError("must not contain line breaks or NUL (it becomes a header)")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str, ensure_ascii=False).encode()) > MAX_METADATA_BYTES:
            raise ValueError("must be at most 1 MiB as JSON")
        return value

    @property
    def key(self) -> str | None:
        """The callback Bearer token, or None."""
        return self.api_key.get_secret_value() if self.api_key else None

    @property
    def base_url(self) -> str:
        return self.server_url.rstrip("/")


@functools.lru_cache(maxsize=1024)
def _url_problem(value: str) -> str | None:
    """Why `value` is no usable callback URL, or None; cached because a trainer sends the
    same server_url with every init and parsing it costs more than the rest of the init."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        httpx.URL(value)
    except (ValueError, httpx.InvalidURL):
        return "must be an http(s) URL with a host"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL with a host"
    if parts.query or parts.fragment or "?" in value or "#" in value:
        # the callback paths are appended to it, so a query would swallow them
        return "must not have a query (?) or fragment (#)"
    return None


class FunctionSchema(_Body):
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolSchema(_Body):
    type: Literal["function"] = "function"
    function: FunctionSchema


class InitResponse(_Body):
    rollout_id: str
    tools: list[ToolSchema] = Field(default_factory=list)


class CompletedRequest(_Body):
    """Body of POST {server_url}/v1/rollout/completed."""

    rollout_id: str
    status: Status
    final_messages: list[dict[str, Any]]
    finish_reason: str
    error_message: str | None = None
    reward: float | None = None
    metrics: RolloutMetrics  # the counters the agent's context keeps
    extra_fields: dict[str, Any] = Field(default_factory=dict)
