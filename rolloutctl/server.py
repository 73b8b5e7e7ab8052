"""The RolloutServer's HTTP face: `create_app(agent, settings)` returns a FastAPI app.

Routes stay thin: they validate, authenticate and translate; `RolloutManager` does
the work. The init body is validated by hand (not by a FastAPI body parameter) so the
422 is ours: it names the field and never echoes the input, which may hold `api_key`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from rolloutctl import __version__
from rolloutctl.agent import Agent
from rolloutctl.client import HttpPool
from rolloutctl.manager import RolloutManager, ServerBusy
from rolloutctl.protocol import INIT_PATH, InitRequest
from rolloutctl.settings import ServerSettings

EVICT_INTERVAL = 60.0


def validation_detail(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as FastAPI-style detail, without the offending input values."""
    return [
        {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def _unprocessable(field: str, message: str) -> JSONResponse:
    detail = [{"loc": ["body", field], "msg": message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


def create_app(agent: Agent, settings: ServerSettings | None = None) -> FastAPI:
    """A RolloutServer for `agent`; the same app `rolloutctl serve` runs."""
    settings = settings or ServerSettings()
    state: dict[str, RolloutManager] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with HttpPool() as pool:
            manager = state["manager"] = RolloutManager(agent, settings, pool)
            evictor = asyncio.create_task(_evict_forever(manager))
            try:
                yield
            finally:
                evictor.cancel()
                await manager.shutdown()

    app = FastAPI(
        title=f"rolloutctl RolloutServer ({agent.name})", version=__version__, lifespan=lifespan
    )
    if settings.api_key:
        app.add_middleware(InboundKeyMiddleware, key=settings.api_key)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        registry = state["manager"].registry
        return {
            "status": "healthy",
            "agent": agent.name,
            "active_rollouts": registry.active,
            "completed_rollouts": registry.finished,
        }

    @app.post(INIT_PATH, status_code=202, openapi_extra=_init_openapi())
    async def init_rollout(request: Request) -> Response:
        try:
            init = InitRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return JSONResponse({"detail": validation_detail(exc)}, status_code=422)
        host = urlsplit(init.server_url).hostname or ""
        if not settings.callback_host_allowed(host):
            return _unprocessable(
                "server_url",
                f"callback host {host!r} is not on this server's allowlist (--allow-callback-host)",
            )
        try:
            body = state["manager"].accept(init)
        except ServerBusy as exc:
            retry_after = "5" if state["manager"].draining else "1"
            return JSONResponse(
                {"detail": str(exc)}, status_code=503, headers={"Retry-After": retry_after}
            )
        return Response(body, status_code=202, media_type="application/json")

    @app.get("/v1/rollout/{rollout_id}")
    async def rollout_status(rollout_id: str) -> Response:
        record = state["manager"].registry.get(rollout_id)
        if record is None:
            return JSONResponse({"detail": f"unknown rollout {rollout_id!r}"}, status_code=404)
        return JSONResponse(record.status())

    return app


async def _evict_forever(manager: RolloutManager) -> None:
    """Expire old idempotency records even on a server that gets no new inits."""
    while True:
        await asyncio.sleep(EVICT_INTERVAL)
        manager.registry.evict()


def _init_openapi() -> dict[str, Any]:
    schema = InitRequest.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


class InboundKeyMiddleware:
    """Requires `Authorization: Bearer <key>` on every route but /health (constant time)."""

    def __init__(self, app: Any, key: str) -> None:
        self.app = app
        self.expected = f"Bearer {key}".encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] == "/health":
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"authorization", b"")
        if hmac.compare_digest(given, self.expected):
            return await self.app(scope, receive, send)
        response = JSONResponse(
            {"detail": "missing or wrong Authorization bearer key"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)
