"""Driving one rollout over the Osmosis SDK 0.3 protocol, with the SDK's own client.

The SDK's `RolloutClient` posts `/rollout` and long-polls the result; the mock trainer
answers the rollout's chat calls at `chat_base_url(trainer, id)` and publishes them as
events, so `try`'s live view, trajectory files and checks see a 0.3 rollout exactly as
they see a v1 one. The final result becomes the trajectory's `completion`: the result's
fields with the sample's flattened in, plus `final_messages` (the sample's messages).

`run_osmosis_rollout` is the one-call library entry (one rollout, its own mock trainer,
the trajectory back), for callers such as eval.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from osmosis_ai.rollout.client import RolloutClient, RolloutProtocolError
from osmosis_ai.rollout.types import RolloutResultResponse

from rolloutctl.errors import InitError, InitRefused
from rolloutctl.events import EventKind
from rolloutctl.harness import serve_app
from rolloutctl.osmosis.trainer_records import expect_rollout, record_result
from rolloutctl.trainer import MockTrainer, TrainerConfig
from rolloutctl.trainer.rollout_chat import chat_base_url
from rolloutctl.trajectory.builder import TrajectoryBuilder

__all__ = [
    "OsmosisRequest",
    "OsmosisRun",
    "completion_from",
    "drive_rollout",
    "osmosis_trajectory",
    "run_osmosis_rollout",
]

PROTOCOL = "osmosis"
CANCEL_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class OsmosisRequest:
    """One rollout's POST /rollout fields (the chat URL is the trainer's, filled in later).

    The SDK grades only requests with a label or metadata, and fails a graded rollout
    without a grader's reward, so metadata is sent unless set to None.
    """

    messages: list[dict[str, Any]]
    rollout_id: str = field(default_factory=lambda: f"osmosis-{uuid.uuid4().hex[:12]}")
    llm_api_key: str | None = field(default=None, repr=False)
    label: str | None = None
    metadata: dict[str, Any] | None = field(default_factory=lambda: {"source": "rolloutctl"})
    grade: bool = True
    agent_timeout_sec: float | None = None
    grader_timeout_sec: float | None = None
    extra_fields: dict[str, Any] | None = None

    def body(self, chat_completions_url: str) -> dict[str, Any]:
        """The POST /rollout body, as RolloutClient sends it."""
        return {
            "initial_messages": self.messages,
            "rollout_id": self.rollout_id,
            "chat_completions_url": chat_completions_url,
            "llm_api_key": self.llm_api_key,
            "label": self.label,
            "metadata": self.metadata,
            "grade": self.grade,
            "agent_timeout_sec": self.agent_timeout_sec,
            "grader_timeout_sec": self.grader_timeout_sec,
            "extra_fields": self.extra_fields,
        }


def completion_from(result: RolloutResultResponse) -> dict[str, Any]:
    """The trajectory's record of a final 0.3 result (no `trajectory_messages`)."""
    raw = result.model_dump(mode="json", exclude={"sample": {"trajectory_messages"}})
    sample = raw.pop("sample", None) or {}
    metrics = {k: _whole(v) for k, v in (sample.get("metrics") or {}).items()}
    completion = {
        **raw,
        **sample,
        "metrics": metrics,
        "final_messages": sample.get("messages") or [],
    }
    reason = (sample.get("extra_fields") or {}).get("finish_reason")
    return completion | ({"finish_reason": reason} if isinstance(reason, str) else {})


def _whole(value: Any) -> Any:
    """Counts arrive as floats (workflow metrics are dict[str, float]): 3.0 reads as 3."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


async def drive_rollout(
    trainer: MockTrainer, client: RolloutClient, request: OsmosisRequest, timeout: float
) -> dict[str, Any] | None:
    """Post the rollout, wait up to `timeout` s for its result, and record it with the
    trainer; None when no result came in time (the rollout is then cancelled).

    InitRefused when POST /rollout is answered with other than 202 (after the client's
    own 429 retries), InitError when it cannot be delivered.
    """
    if trainer.url is None:
        raise ValueError("serve the mock trainer and set its url before driving rollouts")
    rid, records = request.rollout_id, trainer.records
    body = request.body(chat_base_url(trainer.url, rid))
    expect_rollout(records, rid, body)
    try:
        handle = await client.run_rollout_async(**body)
    except RolloutProtocolError as exc:
        records.emit(EventKind.INIT_RESPONSE, rid, {"status_code": exc.status_code, "body": {}})
        raise InitRefused(exc.status_code, str(exc)) from None
    except httpx.HTTPError as exc:
        records.emit(EventKind.INIT_RESPONSE, rid, {"status_code": 0, "body": repr(exc)})
        raise InitError(f"could not post the rollout to {client.url}: {exc!r}") from exc
    accepted = {  # the lease token stays here; the tools come with each chat request
        "rollout_id": rid,
        "status": handle.status.value,
        "tools_offered": "per_request",
    }
    records.emit(EventKind.INIT_RESPONSE, rid, {"status_code": 202, "body": accepted})
    try:
        result = await asyncio.wait_for(asyncio.shield(handle.result_task), timeout)
    except TimeoutError:
        await _cancel(client, handle)
        return None
    except (RolloutProtocolError, httpx.HTTPError) as exc:  # the server broke the long poll
        records.report(rid, "result_poll_failed", f"GET /rollout/{rid}/result: {exc}")
        return None
    completion = completion_from(result)
    record_result(records, rid, completion)
    return completion


async def _cancel(client: RolloutClient, handle: Any) -> None:
    """Stop polling, and ask the server to cancel the rollout (best effort)."""
    handle.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.cancel_rollout(handle.rollout_id), CANCEL_TIMEOUT_S)


@dataclass
class OsmosisRun:
    trajectory: dict[str, Any]
    completion: dict[str, Any] | None  # None: no result within the timeout


async def run_osmosis_rollout(
    server_url: str,
    request: OsmosisRequest,
    trainer_config: TrainerConfig | None = None,
    server_key: str | None = None,
    timeout: float = 60.0,
) -> OsmosisRun:
    """One rollout against the 0.3 server at `server_url`, answered by a mock trainer of
    its own; the trajectory is the same document `try --protocol osmosis --save` writes."""
    trainer = MockTrainer(trainer_config)
    builder = TrajectoryBuilder(request.rollout_id)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(trainer.aclose)
        trainer.url = await stack.enter_async_context(serve_app(trainer.app, "the mock trainer"))
        client = RolloutClient(url=server_url, api_key=server_key)
        stack.push_async_callback(client.aclose)
        async with trainer.subscribe(request.rollout_id) as events:
            pump = asyncio.create_task(_fold(events, builder))
            try:
                completion = await drive_rollout(trainer, client, request, timeout)
            finally:
                events.close()
                await pump
    return OsmosisRun(osmosis_trajectory(builder, trainer, request.rollout_id), completion)


async def _fold(events: Any, builder: TrajectoryBuilder) -> None:
    async for event in events:
        builder.add(event)


def osmosis_trajectory(
    builder: TrajectoryBuilder, trainer: MockTrainer, rollout_id: str
) -> dict[str, Any]:
    """The builder's trajectory, marked as 0.3, with the tools the chat requests carried."""
    traj = builder.trajectory()
    state = trainer.records.rollouts.get(rollout_id)
    traj["protocol"] = PROTOCOL
    traj["tools"] = (state.request_tools if state else None) or []
    return traj
