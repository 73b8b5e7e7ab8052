"""`POST /v1/rollouts/start`: the mock trainer sends an init on behalf of `rolloutctl init`.

Not part of the protocol: a route of rolloutctl's own mock trainer. A trainer learns a
rollout's tools, key and limits from the init it sends and the 202 it reads; when
`rolloutctl init` runs in another process, the trainer would see the server's chat calls
without ever having seen either. So `init` asks the trainer to send the init itself, and
the trainer then plays the model with the tools the rollout really offers and checks the
rollout as one it started (its events show the init too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rolloutctl.errors import InitError, InitRefused
from rolloutctl.trainer.asgi import JsonAnswer
from rolloutctl.trainer.starter import RolloutHandle

__all__ = ["START_PATH", "StartRoute"]

START_PATH = "/v1/rollouts/start"

Start = Callable[[str, dict[str, Any], str | None], Awaitable[RolloutHandle]]


class StartRoute:
    """Answers 200 with the server's answer (`status_code`, and the 202's `body` or the
    refusal's `detail`), or 502 when the init could not be delivered at all."""

    def __init__(self, start: Start) -> None:
        self.start = start

    async def __call__(self, body: dict[str, Any], auth: bytes | None) -> JsonAnswer:
        server, init, key = body.get("rollout_server_url"), body.get("init"), body.get("server_key")
        if not isinstance(server, str) or not isinstance(init, dict):
            return 400, {"detail": "rollout_server_url (a URL) and init (an object) are required"}
        try:
            handle = await self.start(server, init, key if isinstance(key, str) else None)
        except InitRefused as exc:
            return 200, {"status_code": exc.status_code, "detail": exc.detail}
        except InitError as exc:
            return 502, {"detail": str(exc)}
        accepted = {"rollout_id": handle.rollout_id, "tools": handle.tools}
        return 200, {"status_code": handle.init_status, "body": accepted}
