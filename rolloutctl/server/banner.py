"""The panel `serve` prints at start: where the server is, what it serves, and how."""

from __future__ import annotations

import os

from rich.markup import escape
from rich.panel import Panel

from rolloutctl.agent.context import Agent, RolloutRequest
from rolloutctl.observe.observer import ENDPOINT_VARIABLES
from rolloutctl.server.serving import ServeConfig
from rolloutctl.server.settings import ServerSettings
from rolloutctl.server.store import shown_store

__all__ = ["serve_banner"]

_MEMORY_AS_FILE = "         (memory is per process, so the workers share this temporary file)"


def serve_banner(
    agent: Agent, url: str, config: ServeConfig, memory_as_file: bool = False
) -> Panel:
    """`memory_as_file`: the workers were asked for the memory store and share a private
    SQLite file instead; the records line shows that file, and one line more says why."""
    settings = config.settings
    lines = [
        f"[bold]RolloutServer[/] for agent [cyan]{escape(agent.name)}[/]",
        f"URL      {url}",
        f"tools    {escape(_tool_names(agent))}",
        f"docs     {url}/docs" + (" (needs the key too)" if settings.api_key else ""),
        f"key      {'inbound Bearer key required' if settings.api_key else 'none required'}"
        + (" (--server-key): every route but /health" if settings.api_key else ""),
        f"records  {escape(shown_store(settings.store))}, kept {settings.record_ttl:g} s",
        *([_MEMORY_AS_FILE] if memory_as_file else []),
        f"limits   {settings.max_concurrent} concurrent"
        + (" per worker" if config.workers > 1 else "")
        + f", {settings.rollout_timeout:g} s per rollout",
        f"metrics  {_metrics_line(url, settings)}",
        f"traces   {_traces_line(settings)}",
    ]
    if config.workers > 1:
        lines.append(f"workers  {config.workers} processes, one SO_REUSEPORT socket each")
    return Panel("\n".join(lines), expand=False, border_style="green")


def _metrics_line(url: str, settings: ServerSettings) -> str:
    if not settings.metrics:
        return "off (--no-metrics)"
    needs_key = settings.api_key and not settings.metrics_public
    return f"{url}/metrics" + (" (needs the key)" if needs_key else "")


def _traces_line(settings: ServerSettings) -> str:
    """Where spans go: the variables' endpoint is shown by name, never its value (it may
    carry credentials)."""
    if settings.otel_endpoint:
        return "OTLP/HTTP to the configured endpoint"
    named = [name for name in ENDPOINT_VARIABLES if os.environ.get(name)]
    if named:
        return f"OTLP/HTTP to ${named[-1]}"
    return "OTLP/HTTP to http://localhost:4318" if settings.otel else "off (--otel to export)"


def _tool_names(agent: Agent) -> str:
    """The tools of a rollout without metadata, or a note that they depend on the rollout."""
    sample = RolloutRequest(rollout_id="banner", messages=[])
    try:
        return ", ".join(t.name for t in agent.tools(sample)) or "(none)"
    except Exception as exc:
        return f"per rollout (tools() of a rollout without metadata raised {exc!r})"
