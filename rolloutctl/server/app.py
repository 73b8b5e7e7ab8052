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

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.types import ASGIApp, Scope

from rolloutctl import __version__
from rolloutctl.agent.context import Agent
from rolloutctl.net.http_pool import Header, HttpPool
from rolloutctl.protocol import INIT_PATH, InitRequest
from rolloutctl.server.manager import AgentToolsError, RolloutManager, ServerBusy
from rolloutctl.server.settings import ServerSettings
from rolloutctl.server.store import StoreUnavailable, open_store

__all__ = [
    "EVICT_INTERVAL",
    "InboundKeyMiddleware",
    "InitAnswer",
    "InitEndpoint",
    "RolloutApp",
    "bearer_ok",
    "create_app",
    "read_body",
    "status_json",
    "validation_detail",
]

EVICT_INTERVAL = 60.0
InitAnswer = tuple[int, bytes, tuple[Header, ...]]


def validation_detail(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as FastAPI-style detail, without the offending input values."""
    return [
        {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def _json(status: int, content: Any, headers: tuple[Header, ...] = ()) -> InitAnswer:
    return status, orjson.dumps(content), headers


def _unprocessable(field: str, message: str) -> InitAnswer:
    return _json(422, {"detail": [{"loc": ["body", field], "msg": message, "type": "value_error"}]})


def _unprocessable_json(exc: orjson.JSONDecodeError) -> InitAnswer:
    message = f"body is not JSON (NaN, Infinity and out-of-range numbers are not): {exc}"
    return _json(422, {"detail": [{"loc": ["body"], "msg": message, "type": "json_invalid"}]})


def _too_large(limit: int) -> InitAnswer:
    """413, closing the connection: otherwise the server would read the rest to discard it."""
    detail = {"detail": f"init body is larger than {limit} bytes (--max-init-bytes)"}
    return _json(413, detail, ((b"connection", b"close"),))


class InitEndpoint:
    """POST /v1/rollout/init, from raw body to (status, JSON body, extra headers).

    Free of any framework so that `RolloutApp` can serve it without FastAPI's stack.
    """

    def __init__(self, settings: ServerSettings, state: dict[str, RolloutManager]) -> None:
        self.settings, self.state = settings, state

    async def answer(self, raw: bytes | None) -> InitAnswer:
        if raw is None:
            return _too_large(self.settings.max_init_bytes)
        try:
            # orjson refuses NaN, Infinity and numbers past a double, which pydantic's
            # parser would let in and which no JSON encoder can then send on
            init = InitRequest.model_validate(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            return _unprocessable_json(exc)
        except ValidationError as exc:
            return _json(422, {"detail": validation_detail(exc)})
        host = urlsplit(init.server_url).hostname or ""
        if not self.settings.callback_host_allowed(host):
            return _unprocessable(
                "server_url",
                f"callback host {host!r} is not on this server's allowlist (--allow-callback-host)",
            )
        manager = self.state["manager"]
        try:
            return 202, await manager.accept(init), ()
        except (ServerBusy, StoreUnavailable) as exc:
            retry_after = b"5" if manager.draining else b"1"
            return _json(503, {"detail": str(exc)}, ((b"retry-after", retry_after),))
        except AgentToolsError as exc:
            return _json(500, {"detail": str(exc)})


class RolloutApp(FastAPI):
    """FastAPI, except that an authorised POST /v1/rollout/init skips its middleware stack.

    Init is the one route a trainer hits per rollout; FastAPI's layers (error and
    exception middleware, exit stacks, routing) cost about as much as the work
    itself. Everything else, and an init that fails the inbound key, goes the normal
    way, so the answers are the same either way.
    """

    def __init__(self, agent: Agent, init: InitEndpoint, key: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._agent = agent
        self._init = init
        self._expected = key.encode() if key else None

    def __rolloutctl_agent__(self) -> Agent:
        """The agent this app serves, so that `file.py:app` is a target as good as the agent."""
        return self._agent

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == INIT_PATH
            and scope["method"] == "POST"
            and bearer_ok(scope, self._expected)
        ):
            raw = await read_body(scope, receive, self._init.settings.max_init_bytes)
            status, body, headers = await self._init.answer(raw)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [*_json_headers(len(body)), *headers],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await super().__call__(scope, receive, send)


async def read_body(scope: Scope, receive: Any, limit: int) -> bytes | None:
    """The request body, or None once it is known to exceed `limit` bytes.

    A declared Content-Length over the limit is refused before any of the body is
    read; a body without one is read chunk by chunk, joined once (linear time).
    """
    declared = _content_length(scope)
    if declared is not None and declared > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _json_headers(length: int) -> tuple[Header, Header]:
    return (b"content-type", b"application/json"), (b"content-length", b"%d" % length)


def bearer_ok(scope: Scope, expected: bytes | None) -> bool:
    """Whether the request carries the inbound key (always, when the server has none).

    `expected` is the key itself; the scheme name is case-insensitive (RFC 7235) and
    the key is compared in constant time.
    """
    if expected is None:
        return True
    given = dict(scope["headers"]).get(b"authorization", b"")
    scheme, _, token = given.partition(b" ")
    return hmac.compare_digest(token, expected) and scheme.lower() == b"bearer"


def create_app(agent: Agent, settings: ServerSettings | None = None) -> FastAPI:
    """A RolloutServer for `agent`; the same app `rolloutctl serve` runs."""
    settings = settings or ServerSettings()
    state: dict[str, RolloutManager] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        await store.start()
        async with HttpPool() as pool:
            manager = state["manager"] = RolloutManager(agent, settings, pool, store)
            evictor = asyncio.create_task(_evict_forever(manager))
            try:
                yield
            finally:
                evictor.cancel()
                await manager.shutdown()
                await store.aclose()

    init = InitEndpoint(settings, state)
    app = RolloutApp(
        agent,
        init,
        settings.api_key,
        title=f"rolloutctl RolloutServer ({agent.name})",
        version=__version__,
        lifespan=lifespan,
    )
    if settings.api_key:
        app.add_middleware(InboundKeyMiddleware, key=settings.api_key)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        store = state["manager"].store
        return {
            "status": "healthy",
            "agent": agent.name,
            "active_rollouts": store.active,
            "completed_rollouts": store.finished,
            "store": store.health(),
        }

    @app.post(INIT_PATH, status_code=202, openapi_extra=_init_openapi())
    async def init_rollout(request: Request) -> Response:
        raw = await read_body(request.scope, request.receive, settings.max_init_bytes)
        status, body, headers = await init.answer(raw)
        return Response(
            body,
            status,
            dict((k.decode(), v.decode()) for k, v in headers),
            media_type="application/json",
        )

    @app.get("/v1/rollout/{rollout_id:path}")  # :path, so that ids holding "/" are reachable
    async def rollout_status(rollout_id: str) -> Response:
        try:
            body = await state["manager"].store.status(rollout_id)
        except StoreUnavailable as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})
        if body is None:
            return JSONResponse({"detail": f"unknown rollout {rollout_id!r}"}, status_code=404)
        return Response(status_json(body), media_type="application/json")

    return app


async def _evict_forever(manager: RolloutManager) -> None:
    """Expire old idempotency records even on a server that gets no new inits."""
    while True:
        await asyncio.sleep(EVICT_INTERVAL)
        manager.store.evict()


def status_json(status: dict[str, Any]) -> bytes:
    """The status body; it cannot fail, whatever an agent put in its result.

    orjson writes NaN and Infinity as null, stringifies what it cannot encode, and
    refuses only absurd nesting, which then shows as a string.
    """
    try:
        return orjson.dumps(status, default=str, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        completion = repr(status.get("completion"))[:10_000]
        return orjson.dumps({**status, "completion": completion}, default=str)


_ERROR_RESPONSES = {
    "401": "The server has an inbound key and the request lacks it (Authorization: Bearer).",
    "413": "The body is larger than the server's --max-init-bytes.",
    "422": "The body breaks the init schema; the detail names the field.",
    "503": "The server is shutting down or its queue is full; see Retry-After.",
}


def _init_openapi() -> dict[str, Any]:
    schema = InitRequest.model_json_schema()
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {code: {"description": text} for code, text in _ERROR_RESPONSES.items()},
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
