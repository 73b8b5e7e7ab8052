"""The RolloutServer's own ASGI layer, free of FastAPI: init, the inbound key, the lifespan.

Init is the one route a trainer hits per rollout, so it is served here, and only
here, without any framework. `ServerCore` also owns the lifespan (the callback pool
and the `RolloutManager`). `rolloutctl serve` wraps it in FastAPI (`app.create_app`:
health, status, OpenAPI docs); the in-process server of `try` and `validate` wraps it
in `inprocess.InProcessApp`, which imports FastAPI only when a request other than
init arrives (the import is most of a `try`'s start-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from pydantic import ValidationError
from starlette.types import Scope

from rolloutctl.agent.context import Agent
from rolloutctl.errors import AgentToolsError, ServerBusy, StoreUnavailable
from rolloutctl.net.http_pool import Header, HttpPool
from rolloutctl.observe.hooks import RolloutObserver
from rolloutctl.observe.observer import METRICS_PATH, observing
from rolloutctl.observe.trace_headers import TraceHeaders, trace_headers
from rolloutctl.protocol import INIT_PATH, InitRequest
from rolloutctl.server.board import WorkerBoard
from rolloutctl.server.manager import RolloutManager
from rolloutctl.server.rescue import Rescuer
from rolloutctl.server.settings import ServerSettings
from rolloutctl.server.store import open_store

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = [
    "EVICT_INTERVAL",
    "InitAnswer",
    "ServerCore",
    "bearer_ok",
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


class ServerCore:
    """What every RolloutServer app of `agent` shares: settings, manager, the init route.

    `observers` (a list the caller may keep adding to before the first init) are
    handed to the manager at start-up; see `rolloutctl.observe.hooks`.
    """

    def __init__(
        self,
        agent: Agent,
        settings: ServerSettings | None = None,
        observers: list[RolloutObserver] | None = None,
    ) -> None:
        self.agent, self.settings = agent, settings or ServerSettings()
        self.observers: list[RolloutObserver] = [] if observers is None else observers
        self._manager: RolloutManager | None = None
        key = self.settings.api_key
        self._expected = key.encode() if key else None
        self.observer = observing(agent.name, self.settings)
        if self.observer is not None:
            self.observers.append(self.observer)
        self.workers: WorkerBoard | None = None  # set in a worker of `serve --workers N`
        # in a worker of `serve --workers N`: the registry /metrics serves (every worker's),
        # and tasks to run while the server is up
        self.exposed: Callable[[], Awaitable[CollectorRegistry]] | None = None
        self.background: list[Callable[[], Coroutine[Any, Any, None]]] = []

    def counts(self) -> tuple[int, int]:
        """This process's (active, finished) rollouts, for /health and the worker board."""
        manager = self._manager
        return (manager.store.active, manager.store.finished) if manager else (0, 0)

    @property
    def manager(self) -> RolloutManager:
        """The running server's manager; RuntimeError before the lifespan started it."""
        if self._manager is None:
            raise RuntimeError(
                "the RolloutServer has not started: run its app under an ASGI server "
                "(or inside `async with core.lifespan()`) before sending it requests"
            )
        return self._manager

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """Run the manager (and its callback pool) while the server is up; drain at the end."""
        store = open_store(self.settings)
        if self.observer is not None:
            store.observe_round_trip = self.observer.store_round_trip
        await store.start()
        async with HttpPool() as pool, self._observing():
            manager = RolloutManager(self.agent, self.settings, pool, store, self.observers)
            self._manager = manager
            background = [
                asyncio.create_task(_evict_forever(manager)),
                asyncio.create_task(Rescuer(store, self.settings, pool).run()),
                *(asyncio.create_task(job()) for job in self.background),
            ]
            try:
                yield
            finally:
                for task in background:
                    task.cancel()
                await manager.shutdown()
                await store.aclose()

    @contextlib.asynccontextmanager
    async def _observing(self) -> AsyncIterator[None]:
        """Event-loop lag and span export, while the server runs."""
        if self.observer is None:
            yield
            return
        async with self.observer.running(self.settings):
            yield

    async def serve_metrics(self, scope: Scope, send: Any) -> bool:
        """Answer GET /metrics when on and allowed; False (nothing sent) otherwise."""
        if not (
            self.observer is not None
            and self.settings.metrics
            and scope["type"] == "http"
            and scope["path"] == METRICS_PATH
            and scope["method"] == "GET"
            and (self.settings.metrics_public or bearer_ok(scope, self._expected))
        ):
            return False
        from rolloutctl.observe.exposition import send_metrics

        registry = await self.exposed() if self.exposed else self.observer.metrics.registry
        await send_metrics(registry, send)
        return True

    async def serve_init(self, scope: Scope, receive: Any, send: Any) -> bool:
        """Answer an authorised POST /v1/rollout/init; False (nothing sent) for any other."""
        if not (
            scope["type"] == "http"
            and scope["path"] == INIT_PATH
            and scope["method"] == "POST"
            and bearer_ok(scope, self._expected)
        ):
            return False
        raw = await read_body(scope, receive, self.settings.max_init_bytes)
        trace = trace_headers(scope["headers"])
        status, body, headers = await self.answer_init(raw, trace)
        if status != 202 and self.observer is not None:
            self.observer.refused(status)
        if status == 202 and self.workers is not None and self.workers.crowded(self.counts()[0]):
            headers = (*headers, (b"connection", b"close"))  # board.py: the next lands anew
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*_json_headers(len(body)), *headers],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True

    async def answer_init(self, raw: bytes | None, trace: TraceHeaders | None = None) -> InitAnswer:
        """POST /v1/rollout/init, from raw body to (status, JSON body, extra headers)."""
        init = self._read_init(raw)
        if not isinstance(init, InitRequest):
            return init
        manager = self.manager
        try:
            return 202, await manager.accept(init, trace), ()
        except (ServerBusy, StoreUnavailable) as exc:
            retry_after = b"5" if manager.draining else b"1"
            return _json(503, {"detail": str(exc)}, ((b"retry-after", retry_after),))
        except AgentToolsError as exc:
            return _json(500, {"detail": str(exc)})

    def _read_init(self, raw: bytes | None) -> InitRequest | InitAnswer:
        """The init in `raw`, or the 413/422 answer that refuses it."""
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
        if self.settings.allow_callback_hosts:  # none: every host is allowed
            host = urlsplit(init.server_url).hostname or ""
            if not self.settings.callback_host_allowed(host):
                return _unprocessable(
                    "server_url",
                    f"callback host {host!r} is not on this server's allowlist "
                    "(--allow-callback-host)",
                )
        return init


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
