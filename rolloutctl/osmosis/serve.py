"""Serving a rolloutctl agent over the Osmosis SDK 0.3 protocol, through the SDK itself.

The protocol (POST /rollout, the long-polled result, cancel, /health) is the SDK's own
`create_rollout_server` over its `LocalBackend`; rolloutctl contributes the adapter
workflow, the grader, and the mapping of `serve`'s settings onto the SDK's:

- `max_concurrent` becomes the backend's slots (a slot covers the workflow and grading);
  the SDK's queue has no bound, so `max_queue` has no counterpart and it never answers 429;
- `rollout_timeout` and the trainer-call retries apply inside the adapter;
- `api_key` is the SDK's inbound key, which it requires on every route, `/health` and
  `/metrics` too (so `--metrics-public` does not apply);
- a refused body's 422 names the fields but does not echo the input (FastAPI's default
  answer echoes the whole body, `llm_api_key` included, when a field is missing).

The SDK writes each rollout's artifacts and `trajectory.json` under a root read from
`_OSMOSIS_ROLLOUT_ARTIFACT_ROOT` (default `~/.osmosis`). rolloutctl sets that variable
to `artifacts_dir`, defaulting to a per-user directory under the system's temp dir, so a
local server neither litters the home directory nor mixes with the Osmosis CLI's files.
On SIGTERM it keeps serving results through the grace period (see `shutdown`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from osmosis_ai.rollout import (
    AgentWorkflowConfig,
    ConcurrencyConfig,
    Grader,
    LocalBackend,
)
from osmosis_ai.rollout.server import create_rollout_server
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from rolloutctl.agent.context import Agent, RolloutRequest
from rolloutctl.errors import InputError
from rolloutctl.logs import setup_logging
from rolloutctl.net.sockets import bind_socket, socket_url
from rolloutctl.observe.observer import METRICS_PATH, Observer, observing, tracing_wanted
from rolloutctl.osmosis.grader import AgentRewardGrader
from rolloutctl.osmosis.observing import InitTrace, lifespan, metrics_route
from rolloutctl.osmosis.shutdown import ShutdownDrain
from rolloutctl.osmosis.workflow import AdapterOptions, adapter_workflow
from rolloutctl.server.serving import ServeConfig, serve_forever
from rolloutctl.server.settings import ServerSettings

__all__ = [
    "create_osmosis_app",
    "default_artifacts_dir",
    "entrypoint_port",
    "osmosis_banner",
    "run_osmosis",
    "use_artifacts_dir",
]

ARTIFACT_ROOT_ENV = "_OSMOSIS_ROLLOUT_ARTIFACT_ROOT"
PORT_ENV = "_OSMOSIS_ROLLOUT_PORT"
# As the SDK's own server template: its client keeps connections for long polls, and
# reusing one the server has just closed (uvicorn's default is 5 s, httpx's too) fails.
KEEP_ALIVE_S = 2160


def entrypoint_port(default: int) -> int:
    """`$_OSMOSIS_ROLLOUT_PORT` (set by `osmosis eval run` for the entrypoint it launches)
    when `--port` was not given, else `default`; InputError when it is not a port."""
    value = os.environ.get(PORT_ENV, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise InputError(f"{PORT_ENV}={value!r} is not a port number (0-65535)")
    return int(value)


def default_artifacts_dir() -> Path:
    """`$_OSMOSIS_ROLLOUT_ARTIFACT_ROOT` when set (as `osmosis eval` does), else a temp dir."""
    if value := os.environ.get(ARTIFACT_ROOT_ENV):
        return Path(value)
    return Path(tempfile.gettempdir()) / f"rolloutctl-osmosis-{os.getuid()}"


def use_artifacts_dir(path: Path | None) -> Path:
    """Point the SDK's artifact root at `path` (process-wide: the SDK reads the variable
    when it saves each trajectory) and return the directory in use."""
    chosen = (path or default_artifacts_dir()).resolve()
    os.environ[ARTIFACT_ROOT_ENV] = str(chosen)
    return chosen


def create_osmosis_app(
    agent: Agent,
    settings: ServerSettings | None = None,
    grader: type[Grader] | None = None,
    artifacts_dir: Path | None = None,
) -> Any:
    """The SDK's FastAPI app serving `agent` through the adapter workflow."""
    settings = settings or ServerSettings()
    use_artifacts_dir(artifacts_dir)
    observer = observing(agent.name, settings)
    options = AdapterOptions(settings.rollout_timeout, settings.retry, observer)
    workflow = adapter_workflow(agent, options)
    slots = ConcurrencyConfig(max_concurrent=settings.max_concurrent)
    backend = LocalBackend(
        workflow=workflow,
        workflow_config=AgentWorkflowConfig(name=agent.name, concurrency=slots),
        grader=grader or AgentRewardGrader,
    )
    app = create_rollout_server(
        backend=backend,
        lifespan=None if observer is None else lifespan(observer, settings),
        configure_logging=False,
        api_key=settings.api_key,
    )
    app.add_exception_handler(RequestValidationError, _refusing(observer))
    if observer is not None and tracing_wanted(settings):
        app.add_middleware(InitTrace)
    if observer is not None and settings.metrics:  # behind the SDK's key like its own routes
        route = metrics_route(observer)
        app.add_api_route(METRICS_PATH, route, methods=["GET"], include_in_schema=False)
    return app


def _refusing(observer: Observer | None) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The 422 handler, counting refusals when the server has metrics."""

    async def refuse(request: Request, exc: Exception) -> Response:
        if observer is not None:
            observer.refused(422)
        return await _refuse_without_input(request, exc)

    return refuse


async def _refuse_without_input(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 echoes the input, which for a missing field is the whole body with its
    `llm_api_key`; this one names the fields and says what is wrong, nothing more."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{k: e[k] for k in ("type", "loc", "msg") if k in e} for e in errors]
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


def osmosis_banner(
    agent: Agent, url: str, settings: ServerSettings, grader: str, artifacts: Path
) -> Panel:
    sample = RolloutRequest(rollout_id="banner", messages=[])
    tools = ", ".join(t.name for t in agent.tools(sample)) or "(none)"
    key = "inbound Bearer key required (on /health too)" if settings.api_key else "none required"
    lines = [
        f"[bold]Osmosis SDK 0.3 rollout server[/] for agent [cyan]{escape(agent.name)}[/]",
        f"URL        {url}",
        "routes     POST /rollout, GET /rollout/{id}/result, POST /rollout/cancel",
        f"tools      {escape(tools)}",
        f"grader     {escape(grader)}",
        f"key        {key}",
        f"limits     {settings.max_concurrent} concurrent (unbounded queue), "
        f"{settings.rollout_timeout:g} s per rollout",
        f"artifacts  {escape(str(artifacts))}",
    ]
    return Panel("\n".join(lines), expand=False, border_style="green")


def run_osmosis(
    agent: Agent,
    config: ServeConfig,
    grader: type[Grader] | None = None,
    artifacts_dir: Path | None = None,
    console: Console | None = None,
) -> None:
    """`serve --protocol osmosis`: bind, banner, serve until a signal; CannotBind on bind errors."""
    console = console or Console(stderr=True)
    sock = bind_socket(config.host, config.port)
    url = socket_url(config.host, sock)
    setup_logging(config.log_level, config.json_logs, console)
    app = create_osmosis_app(agent, config.settings, grader, artifacts_dir)
    if not config.json_logs:
        grader_name = grader.__name__ if grader else "the agent's reward, else the label"
        artifacts = Path(os.environ[ARTIFACT_ROOT_ENV])
        console.print(osmosis_banner(agent, url, config.settings, grader_name, artifacts))
    shutdown = ShutdownDrain(app, config.settings.shutdown_grace)
    serve_forever(shutdown, sock, config, keep_alive=KEEP_ALIVE_S, drain=shutdown.drain)
