"""The mock trainer's ASGI app: the two protocol callbacks plus read-only views.

POST /v1/chat/completions, POST /v1/rollout/completed, GET /v1/rollout/completed/{id},
GET /v1/rollouts, GET /health, GET /metrics (when on) and GET /v1/events (server-sent
events); and, for the
Osmosis SDK 0.3 protocol, POST /v1/rollouts/{rollout_id}/chat/completions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from itertools import islice
from typing import Any
from urllib.parse import parse_qs

import orjson

from rolloutctl.observe.observer import METRICS_PATH
from rolloutctl.protocol import COMPLETED_PATH
from rolloutctl.trainer.asgi import (
    Handler,
    JsonAnswer,
    Receive,
    Send,
    header,
    lifespan,
    read_body,
    send_json,
    stream_events,
)
from rolloutctl.trainer.records import Records, TrainerRolloutRecord

__all__ = ["COMPLETED_PREFIX", "DEFAULT_LIST_LIMIT", "TrainerApp", "rollout_summary"]

COMPLETED_PREFIX = COMPLETED_PATH + "/"
DEFAULT_LIST_LIMIT = 100


def rollout_summary(state: TrainerRolloutRecord) -> dict[str, Any]:
    completion = state.completion or {}
    return {
        "rollout_id": state.rollout_id,
        "started_here": state.started,
        "chat_calls": state.turns,
        "completed": state.completion is not None,
        "status": completion.get("status"),
        "finish_reason": completion.get("finish_reason"),
        "violations": len(state.violations),
        "first_seen": state.first_seen,
    }


class TrainerApp:
    """Raw ASGI callable; `posts` maps the callback paths to their handlers."""

    def __init__(
        self,
        records: Records,
        posts: dict[str, Handler],
        health: dict[str, Any],
        route: Callable[[str], Handler | None] | None = None,
    ):
        """`route` finds the handler of a POST path with parameters (the 0.3 chat path)."""
        self.records, self.posts, self.health, self.route = records, posts, health, route

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["method"] == "POST":
                await self._post(scope, receive, send)
            elif scope["method"] == "GET":
                await self._get(scope, receive, send)
            else:
                await send_json(send, 405, {"detail": "Method Not Allowed"})
        elif scope["type"] == "lifespan":
            await lifespan(receive, send)

    def answer_json(self, scope: dict[str, Any], body: bytes) -> Awaitable[JsonAnswer] | None:
        """A POST callback's answer, for a server that takes it as (status, JSON value)
        instead of ASGI messages (rolloutctl's lean HTTP server); None for other requests."""
        handler = self._handler(scope["path"]) if scope["method"] == "POST" else None
        return None if handler is None else self._answer(scope, handler, body)

    def _handler(self, path: str) -> Handler | None:
        handler = self.posts.get(path)
        if handler is None and self.route is not None:
            handler = self.route(path)
        return handler

    async def _post(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        handler = self._handler(scope["path"])
        if handler is None:
            await send_json(send, 404, {"detail": "Not Found"})
            return
        await send_json(send, *await self._answer(scope, handler, await read_body(receive)))

    async def _answer(self, scope: dict[str, Any], handler: Handler, raw: bytes) -> JsonAnswer:
        try:
            body = orjson.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.records.report("", "body_not_json", f"{scope['path']}: body is not a JSON object")
            return 400, {"detail": "body: must be a JSON object"}
        status, payload = await handler(body, header(scope, b"authorization"))
        if self.records.metrics is not None:
            self.records.metrics.answered(scope["path"] == COMPLETED_PATH, status)
        return status, payload

    async def _get(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        path, query = scope["path"], parse_qs(scope["query_string"].decode())
        if path == "/v1/events":
            subscription = self.records.bus.subscribe(query.get("rollout_id", [None])[0])
            await stream_events(receive, send, subscription)
        elif path == "/health":
            await send_json(send, 200, self._health())
        elif path == METRICS_PATH and self.records.metrics is not None:
            from rolloutctl.observe.exposition import send_metrics

            await send_metrics(self.records.metrics.registry, send)
        elif path == "/v1/rollouts":
            await send_json(send, 200, self._list(query))
        elif path.startswith(COMPLETED_PREFIX):
            rollout_id = path[len(COMPLETED_PREFIX) :]
            completion = self.records.completions.get(rollout_id)
            if completion is None:
                detail = f"no completion received for rollout {rollout_id!r}"
                await send_json(send, 404, {"detail": detail})
            else:
                await send_json(send, 200, completion)
        elif path in self.posts:
            await send_json(send, 405, {"detail": "Method Not Allowed"})
        else:
            await send_json(send, 404, {"detail": "Not Found"})

    def _health(self) -> dict[str, Any]:
        records = self.records
        counts = {"rollouts": len(records.rollouts), "completions": len(records.completions)}
        return {"status": "healthy", **self.health, **counts, "violations": len(records.violations)}

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """Known rollouts, newest first (`?limit=N`, default 100)."""
        try:
            limit = max(0, int(query.get("limit", [DEFAULT_LIST_LIMIT])[0]))
        except ValueError:
            limit = DEFAULT_LIST_LIMIT
        states = islice(reversed(self.records.rollouts.values()), limit)
        return {
            "rollouts": [rollout_summary(s) for s in states],
            "total": len(self.records.rollouts),
        }
