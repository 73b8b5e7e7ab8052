"""The RolloutServer app of `try` and `validate`, which needs FastAPI only for extras.

`InProcessApp` answers as `app.create_app` does, but builds its FastAPI part on the
first request that needs it (anything but init), so a server that only gets inits
never imports FastAPI, whose import is most of a `try`'s start-up.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

from rolloutctl.agent.context import Agent
from rolloutctl.server.core import ServerCore
from rolloutctl.server.settings import ServerSettings

__all__ = ["InProcessApp"]


class InProcessApp:
    """`ServerCore` with its own lifespan; FastAPI's routes are built when first needed."""

    def __init__(self, agent: Agent, settings: ServerSettings | None = None) -> None:
        self.core = ServerCore(agent, settings)
        self._routes: Any = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _serve_lifespan(self.core, receive, send)
        elif not (
            await self.core.serve_init(scope, receive, send)
            or await self.core.serve_metrics(scope, send)
        ):
            if self._routes is None:
                from rolloutctl.server.app import routes_app

                self._routes = routes_app(self.core, with_lifespan=False)
            await self._routes(scope, receive, send)


async def _serve_lifespan(core: ServerCore, receive: Any, send: Any) -> None:
    """The ASGI lifespan protocol around `core.lifespan()`."""
    await receive()  # lifespan.startup
    started = False
    try:
        async with core.lifespan():
            started = True
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
    except Exception as exc:
        kind = "shutdown" if started else "startup"
        await send({"type": f"lifespan.{kind}.failed", "message": f"{type(exc).__name__}: {exc}"})
        return
    await send({"type": "lifespan.shutdown.complete"})
