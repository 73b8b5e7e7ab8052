"""The completion of a rollout: the /v1/rollout/completed body, its kept copy, its log line."""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any

import orjson

from rolloutctl.agent.context import RolloutContext, RolloutMetrics, RolloutResult
from rolloutctl.errors import RolloutFailure
from rolloutctl.status import ErrorCategory

__all__ = ["build_payload", "kept_payload", "log_end", "lost_payload"]

log = logging.getLogger("rolloutctl.server")
_METRIC_FIELDS = tuple(f.name for f in fields(RolloutMetrics))  # numbers: no deep copy needed


def build_payload(
    ctx: RolloutContext, result: RolloutResult | RolloutFailure, elapsed_ms: float
) -> dict[str, Any]:
    """The /v1/rollout/completed body for a finished or failed rollout."""
    ctx.metrics.total_latency_ms = elapsed_ms
    # field by field: dataclasses.asdict deep-copies, several times slower (BENCHMARKS.md)
    metrics = {name: getattr(ctx.metrics, name) for name in _METRIC_FIELDS}
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


def lost_payload(
    rollout_id: str, metrics: RolloutMetrics, messages: list[Any], why: str
) -> dict[str, Any]:
    """The ERROR `server_lost` completion a rescuer sends for a lost owner's rollout,
    with the history and counts the owner last wrote to the store."""
    return {
        "rollout_id": rollout_id,
        "metrics": {name: getattr(metrics, name) for name in _METRIC_FIELDS},
        "status": "ERROR",
        "final_messages": messages,
        "finish_reason": "error",
        "error_message": why,
        "reward": None,
        "extra_fields": {"error_category": ErrorCategory.SERVER_LOST.value},
    }


def kept_payload(payload: dict[str, Any], limit: int, size: int) -> dict[str, Any]:
    """The copy of a completion kept for the status endpoint, at most about `limit` bytes.

    The trainer gets the payload whole; an hour of records must not hold every long
    history whole too. Past the limit, `final_messages` keeps its leading messages that
    fit, and `truncated` says what was dropped. `size` is the payload's encoded length,
    known from the body sent to the trainer, so the payload is not encoded twice.
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


def log_end(rollout_id: str, payload: dict[str, Any], result: object) -> None:
    """One line per rollout: INFO when it completed, WARNING with the category when not.

    At DEBUG the agent's (or tool's) exception follows with its traceback, which
    ends in the user's own file and line.
    """
    metrics = payload["metrics"]
    status = payload["status"]
    fields = {"rollout_id": rollout_id, "status": status}
    if status != "ERROR":
        log.info(
            "rollout %s %s finish_reason=%s turns=%d duration=%.0fms",
            rollout_id,
            status,
            payload["finish_reason"],
            metrics["num_llm_calls"],
            metrics["total_latency_ms"],
            extra=fields,
        )
        return
    category = payload["extra_fields"]["error_category"]
    log.warning(
        "rollout %s ERROR category=%s turns=%d duration=%.0fms error=%s",
        rollout_id,
        category,
        metrics["num_llm_calls"],
        metrics["total_latency_ms"],
        payload["error_message"],
        extra={**fields, "category": category},
    )
    cause = getattr(result, "__cause__", None)
    if cause is not None and log.isEnabledFor(logging.DEBUG):
        log.debug("rollout %s: the error's traceback", rollout_id, exc_info=cause)
