"""Running a RolloutServer: bind, print the banner, serve until a signal, drain.

`run(agent, config)` is the public API behind `rolloutctl serve`. The socket is bound
here before uvicorn starts, so "port in use" is one clear error instead of a log line.
With `config.workers` above 1 the workers serve instead (`rolloutctl.server.workers`).
"""

from __future__ import annotations

from rich.console import Console

from rolloutctl.agent.context import Agent
from rolloutctl.logs import setup_logging
from rolloutctl.net.sockets import bind_socket, socket_url
from rolloutctl.server.app import create_app
from rolloutctl.server.banner import serve_banner
from rolloutctl.server.serving import DrainingServer, ServeConfig, serve_forever
from rolloutctl.server.workers import run_workers

__all__ = ["DrainingServer", "ServeConfig", "run", "serve_banner", "serve_forever"]


def run(agent: Agent, config: ServeConfig, console: Console | None = None) -> None:
    """Serve `agent` until SIGINT/SIGTERM, then drain; raises CannotBind on bind errors."""
    console = console or Console(stderr=True)
    if config.workers > 1:
        return run_workers(agent, config, console)
    sock = bind_socket(config.host, config.port)
    url = socket_url(config.host, sock)
    setup_logging(config.log_level, config.json_logs, console)
    if not config.json_logs:
        console.print(serve_banner(agent, url, config))
    serve_forever(create_app(agent, config.settings), sock, config)
