"""The RolloutServer's own ASGI layer, free of FastAPI: init, /metrics, the lifespan.

Init is the one route a trainer hits per rollout, so it is served here, and only
here, without any framework: `init_reading` reads it, `answers` holds what it
answers, `auth` checks the inbound key. `ServerCore` also owns the lifespan
(`lifespan`: the callback pool and the `RolloutManager`). `rolloutctl serve` wraps it
in FastAPI (`app.create_app`: health, status, OpenAPI docs); the in-process server of
`try` and `validate` wraps it in `inprocess.InProcessApp`, which imports FastAPI only
when a request other than init arrives (the import is most of a `try`'s start-up).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from starlette.types import Scope

from rolloutctl.agent.context import Agent
from rolloutctl.errors import AgentToolsError, ServerBusy, StoreUnavailable
from rolloutctl.observe.hooks import RolloutObserver
from rolloutctl.observe.observer import METRICS_PATH, observing
from rolloutctl.observe.trace_headers import TraceHeaders, trace_headers
from rolloutctl.protocol import INIT_PATH, InitRequest
from rolloutctl.server.answers import (
    InitAnswer,
    json_answer,
    send_answer,
    status_json,
    validation_detail,
)
from rolloutctl.server.auth import bearer_ok
from rolloutctl.server.board import WorkerBoard
from rolloutctl.server.init_reading import read_body, read_init
from rolloutctl.server.lifespan import EVICT_INTERVAL, running_manager
from rolloutctl.server.manager import RolloutManager
from rolloutctl.server.settings import ServerSettings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = [  # all but ServerCore were defined here first; they live in answers, auth, ...
    "EVICT_INTERVAL",
    "InitAnswer",
    "ServerCore",
    "bearer_ok",
    "read_body",
    "status_json",
    "validation_detail",
]


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
        async with running_manager(self) as manager:
            self._manager = manager
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
        await send_answer(send, status, body, headers)
        return True

    async def answer_init(self, raw: bytes | None, trace: TraceHeaders | None = None) -> InitAnswer:
        """POST /v1/rollout/init, from raw body to (status, JSON body, extra headers)."""
        init = read_init(raw, self.settings)
        if not isinstance(init, InitRequest):
            return init
        manager = self.manager
        try:
            return 202, await manager.accept(init, trace), ()
        except (ServerBusy, StoreUnavailable) as exc:
            retry_after = b"5" if manager.draining else b"1"
            return json_answer(503, {"detail": str(exc)}, ((b"retry-after", retry_after),))
        except AgentToolsError as exc:
            return json_answer(500, {"detail": str(exc)})
