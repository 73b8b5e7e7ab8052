"""Metrics and traces on the Osmosis SDK's server: what rolloutctl adds to its app.

The SDK owns the routes, so the observer joins it from outside: `/metrics` as one
more route, the observer's running part (loop lag, the span export thread) in the
app's lifespan, and the init's W3C trace context carried to the rollout's workflow.
The SDK starts a rollout's task inside the `POST /rollout` request, and a task starts
with a copy of the context it was made in, so a context variable set for that request
reaches the workflow (`init_trace`), as it reaches the SDK's own rollout context.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Response

from rolloutctl.observe.observer import Observer
from rolloutctl.observe.trace_headers import TraceHeaders, trace_headers
from rolloutctl.server.settings import ServerSettings

__all__ = ["InitTrace", "init_trace", "lifespan", "metrics_route"]

_TRACE: contextvars.ContextVar[TraceHeaders | None] = contextvars.ContextVar(
    "rolloutctl_osmosis_trace", default=None
)
_INIT_PATH = "/rollout"


def init_trace() -> TraceHeaders | None:
    """The trace context of the init whose rollout runs in this task, if it had one."""
    return _TRACE.get()


class InitTrace:
    """ASGI middleware: a `POST /rollout`'s trace context, kept for its workflow's task."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == _INIT_PATH:
            _TRACE.set(trace_headers(scope["headers"]))  # this request's task only
        await self.app(scope, receive, send)


def lifespan(
    observer: Observer, settings: ServerSettings
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """The SDK's `lifespan` hook: the observer runs while the app does."""

    @contextlib.asynccontextmanager
    async def running(app: Any) -> AsyncIterator[None]:
        async with observer.running(settings):
            yield

    return running


def metrics_route(observer: Observer) -> Callable[[], Awaitable[Response]]:
    """GET /metrics for the SDK's app: the observer's registry."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    async def metrics() -> Response:
        return Response(generate_latest(observer.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
