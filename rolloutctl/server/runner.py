"""One rollout from accepted init to delivered completion, whatever goes wrong.

Every path out of `run_rollout` produces exactly one completion payload and hands it
to one logical delivery: the agent's result, its exception, a trainer failure, the
time limit, or the server shutting down.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson

from rolloutctl.agent.context import (
    Agent,
    LLMBackend,
    RolloutContext,
    RolloutMetrics,
    RolloutRequest,
    RolloutResult,
)
from rolloutctl.errors import (
    BadModelResponse,
    RolloutAborted,
    RolloutFailure,
    TrainerError,
    TurnLimitReached,
)
from rolloutctl.protocol import ErrorCategory, InitRequest
from rolloutctl.server.callbacks import TrainerClient
from rolloutctl.server.limits import TimeLimit

__all__ = [
    "build_payload",
    "execute",
    "kept_payload",
    "to_rollout_request",
    "v1_backend",
]


_METRIC_FIELDS = tuple(f.name for f in fields(RolloutMetrics))  # numbers: no deep copy needed


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


def v1_backend(client: TrainerClient, rollout_id: str) -> LLMBackend:
    """Chat through the trainer's /v1/chat/completions; protocol fields win over params."""

    async def chat(messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        body = {**params, "model": "default", "rollout_id": rollout_id, "messages": messages}
        return await client.chat(body)

    return chat


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


def build_payload(
    ctx: RolloutContext, result: RolloutResult | RolloutFailure, elapsed_ms: float
) -> dict[str, Any]:
    """The /v1/rollout/completed body for a finished or failed rollout."""
    ctx.metrics.total_latency_ms = elapsed_ms
    metrics = {name: getattr(ctx.metrics, name) for name in _METRIC_FIELDS}  # asdict: 5x slower
    payload: dict[str, Any] = {"rollout_id": ctx.request.rollout_id, "metrics": metrics}
    if isinstance(result, RolloutFailure):
        payload.update(
            status="ERROR",
            final_messages=ctx.messages,
            finish_reason="error",
            error_message=str(result),
            reward=None,
            extra_fields={"error_category": result.category.value},
        )
    else:
        messages = ctx.messages if result.messages is None else result.messages
        payload.update(
            status="COMPLETED",
            final_messages=messages,
            finish_reason=result.finish_reason,
            reward=result.reward,
            extra_fields=result.extra_fields,
        )
    return payload


def kept_payload(payload: dict[str, Any], limit: int, size: int) -> dict[str, Any]:
    """The copy of a completion kept for the status endpoint, at most about `limit` bytes.

    The trainer gets the payload whole; an hour of records must not hold every long
    history whole too. Past the limit, `final_messages` keeps its leading messages that
    fit, and `truncated` says what was dropped. `size` is the payload's encoded length,
    known from the body sent to the trainer (encoding it again cost 1% of a rollout).
    """
    if size <= limit:
        return payload
    messages = payload.get("final_messages") or []
    kept: list[Any] = []
    budget = limit - 4096  # room for the rest of the payload
    for message in messages:
        budget -= _json_size(message)
        if budget < 0:
            break
        kept.append(message)
    truncated: dict[str, Any] = {"bytes": size, "limit": limit}
    truncated.update(messages=len(messages), kept=len(kept))
    extra = payload.get("extra_fields") or {}
    if _json_size(extra) > 4096:
        extra = {k: v for k, v in extra.items() if k == "error_category"}
        truncated["extra_fields"] = "dropped"
    return {**payload, "final_messages": kept, "extra_fields": extra, "truncated": truncated}


def _json_size(value: Any) -> int:
    """Bytes of `value` as JSON; what orjson cannot encode (deep nesting) counts as huge."""
    try:
        return len(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))
    except orjson.JSONEncodeError:
        return 1 << 62
