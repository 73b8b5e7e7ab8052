"""The RolloutServer's HTTP face: `create_app(agent, settings)` returns a FastAPI app.

Routes stay thin: they authenticate and translate; `RolloutManager` does the work.
Init itself, and the lifespan, are `ServerCore`'s (in `core.py`, free of FastAPI):
an authorised init never enters FastAPI, and an unauthorised one gets the
middleware's 401. FastAPI only documents init in its OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Scope

from rolloutctl import __version__
from rolloutctl.agent.context import Agent
from rolloutctl.errors import StoreUnavailable
from rolloutctl.protocol import INIT_PATH, InitRequest
from rolloutctl.server.answers import status_json
from rolloutctl.server.auth import bearer_ok
from rolloutctl.server.core import ServerCore
from rolloutctl.server.settings import ServerSettings

__all__ = ["InboundKeyMiddleware", "RolloutApp", "create_app", "routes_app"]


class RolloutApp(FastAPI):
    """FastAPI, except that an authorised POST /v1/rollout/init skips its middleware stack.

    Init is the one route a trainer hits per rollout; FastAPI's layers (error and
    exception middleware, exit stacks, routing) cost about as much as the work
    itself. Everything else, and an init that fails the inbound key, goes the normal
    way, so the answers are the same either way.
    """

    def __init__(self, core: ServerCore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.core = core

    def __rolloutctl_agent__(self) -> Agent:
        """The agent this app serves, so that `file.py:app` is a target as good as the agent."""
        return self.core.agent

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if not (
            await self.core.serve_init(scope, receive, send)
            or await self.core.serve_metrics(scope, send)
        ):
            await super().__call__(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        """FastAPI's schema plus init, which `ServerCore` serves outside FastAPI's routes."""
        if self.openapi_schema is None:
            super().openapi()["paths"][INIT_PATH] = {"post": _init_operation()}
        return self.openapi_schema or {}


def create_app(agent: Agent, settings: ServerSettings | None = None) -> FastAPI:
    """A RolloutServer for `agent`; the same app `rolloutctl serve` runs."""
    return routes_app(ServerCore(agent, settings), with_lifespan=True)


def routes_app(core: ServerCore, with_lifespan: bool) -> RolloutApp:
    """The FastAPI app of `core`; without the lifespan when its owner runs that itself."""
    agent, settings = core.agent, core.settings
    app = RolloutApp(
        core,
        title=f"rolloutctl RolloutServer ({agent.name})",
        version=__version__,
        lifespan=core.lifespan if with_lifespan else None,
    )
    if settings.api_key:
        app.add_middleware(InboundKeyMiddleware, key=settings.api_key)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        store = core.manager.store
        store_health = store.health()
        body: dict[str, Any] = {"status": "healthy", "agent": agent.name}
        if store_health["state"] != "up":  # still 200: running rollouts go on; inits get 503
            body["status"] = "degraded"
            body["reason"] = f"record store unavailable: {store_health.get('error')}"
        body.update(
            active_rollouts=store.active, completed_rollouts=store.finished, store=store_health
        )
        if core.workers is not None:  # every worker's counts, and their totals on top
            body.update(core.workers.health(core.counts))
        return body

    @app.get("/v1/rollout/{rollout_id:path}")  # :path, so that ids holding "/" are reachable
    async def rollout_status(rollout_id: str) -> Response:
        try:
            body = await core.manager.store.status(rollout_id)
        except StoreUnavailable as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})
        if body is None:
            return JSONResponse({"detail": f"unknown rollout {rollout_id!r}"}, status_code=404)
        return Response(status_json(body), media_type="application/json")

    return app


_RESPONSES = {
    "202": "Accepted: the rollout runs; the body holds its tools.",
    "401": "The server has an inbound key and the request lacks it (Authorization: Bearer).",
    "413": "The body is larger than the server's --max-init-bytes.",
    "422": "The body breaks the init schema; the detail names the field.",
    "503": "The server is shutting down or its queue is full; see Retry-After.",
}


def _init_operation() -> dict[str, Any]:
    schema = InitRequest.model_json_schema()
    return {
        "summary": "Start a rollout",
        "operationId": "init_rollout",
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {code: {"description": text} for code, text in _RESPONSES.items()},
    }


class InboundKeyMiddleware:
    """Requires `Authorization: Bearer <key>` on every route but /health (constant time)."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.expected = key.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] == "/health" or bearer_ok(scope, self.expected):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"detail": "missing or wrong Authorization bearer key"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)
