"""Shutdown of `serve --protocol osmosis`: no result is lost, no poll gets a 500.

Left to uvicorn, the first SIGTERM closes the listener at once (results that finish
later can never be read), and the long polls still open when the grace runs out are
cancelled into HTTP 500. Instead (`serve_forever`'s `drain`), the server keeps serving
through `--shutdown-grace`: POST /rollout answers 503, as the SDK's own server does
while it shuts down; result polls, cancel and /health answer as usual. A rollout still
running when the grace is over ends as `failure` with a shutdown reason, its waiting
polls get that result at once, and only then does uvicorn stop.
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
        if self.draining and scope["type"] == "http" and _admission(scope):
            await _answer_503(send)
            return
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


def _admission(scope: dict[str, Any]) -> bool:
    return scope["method"] == "POST" and scope["path"].rstrip("/") == "/rollout"


async def _answer_503(send: Any) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(REFUSED)).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": REFUSED})
