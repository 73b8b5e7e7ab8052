"""Shutdown of `serve --protocol osmosis`: no result is lost, no poll gets a 500.

Left to uvicorn, the first SIGTERM closes the listener at once (results that finish
later can never be read), and the long polls still open when the grace runs out are
cancelled into HTTP 500. Instead (`serve_forever`'s `drain`), the server keeps serving
through `--shutdown-grace`: POST /rollout answers 503 and /health reports
`lifecycle.accepting_rollouts: false`, as the SDK's own server does while it shuts down;
result polls and cancel answer as usual. A rollout still running when the grace is over
ends as `failure` with a shutdown reason, its waiting polls get that result at once, and
only then does uvicorn stop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from osmosis_ai.rollout.types import RolloutErrorCategory, RolloutResultResponse, RolloutStatus

__all__ = ["ShutdownDrain", "shutdown_message"]

ANSWER_S = 1.0  # after the last result: time for the open long polls to be answered
REFUSED = json.dumps({"detail": "rollout server is shutting down"}).encode()


def shutdown_message(grace: float) -> str:
    return f"shutdown: still running when the server's {grace:g} s shutdown grace ran out"


class ShutdownDrain:
    """The SDK's app, refusing new rollouts once `drain` has begun."""

    def __init__(self, app: Any, grace: float) -> None:
        self.app, self.grace, self.draining = app, grace, False
        self.state = app.state  # the SDK keeps its result registry there

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.draining and scope["type"] == "http":
            if _admission(scope):
                await _answer_503(send)
                return
            if scope["path"].rstrip("/") == "/health":
                send = _NotAccepting(send)
        await self.app(scope, receive, send)

    async def drain(self) -> None:
        """Until every rollout is finished or the grace is over; then what still runs
        ends as a failure, and its pollers have a moment to read it."""
        self.draining = True
        registry = self.state.rollout_futures
        running = [e.result for e in registry.entries.values() if not e.result.done()]
        if running:
            await asyncio.wait(running, timeout=self.grace)
        left = [(rid, e) for rid, e in list(registry.entries.items()) if not e.result.done()]
        for rollout_id, entry in left:
            failure = RolloutResultResponse(
                rollout_id=rollout_id,
                status=RolloutStatus.FAILURE,
                err_message=shutdown_message(self.grace),
                err_category=RolloutErrorCategory.INTERNAL_ERROR,
            )
            await registry.complete(rollout_id, failure)
            registry.cancel_execution(entry)
        await asyncio.sleep(ANSWER_S if registry.entries else 0.0)


class _NotAccepting:
    """The SDK's /health answer, passed on with `lifecycle.accepting_rollouts` false.

    The SDK keeps that flag in its app, out of reach, and sets it only when uvicorn stops
    (after this drain), so the answer is rewritten on its way out; the rest of the body,
    `status: ok` and `active_rollouts` among it, is the SDK's, as its own drain shows it.
    """

    def __init__(self, send: Any) -> None:
        self.send, self.body = send, b""
        self.start: dict[str, Any] | None = None

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] != "http.response.body" or self.start is None:
            await self.send(message)
        else:
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                await self._answer(self.start, _not_accepting(self.body))

    async def _answer(self, start: dict[str, Any], body: bytes) -> None:
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.send({**start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})


def _not_accepting(body: bytes) -> bytes:
    """`body` with `lifecycle.accepting_rollouts` false; as it is when it has no lifecycle
    (a 401 without the key, say)."""
    try:
        health = json.loads(body)
    except ValueError:
        return body
    lifecycle = health.get("lifecycle") if isinstance(health, dict) else None
    if not isinstance(lifecycle, dict):
        return body
    lifecycle["accepting_rollouts"] = False
    return json.dumps(health).encode()


def _admission(scope: dict[str, Any]) -> bool:
    return scope["method"] == "POST" and scope["path"].rstrip("/") == "/rollout"


async def _answer_503(send: Any) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(REFUSED)).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": REFUSED})
