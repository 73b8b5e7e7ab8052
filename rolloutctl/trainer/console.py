"""`rolloutctl mock-trainer`: serve a MockTrainer and print one line per exchange.

People get a banner and rich lines; `json_lines` prints each Event as one JSON
object instead, for other programs to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any

import orjson
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from rolloutctl.events import Event, EventKind
from rolloutctl.logs import setup_logging
from rolloutctl.net.sockets import bind_socket, socket_url
from rolloutctl.trainer.bus import Subscription
from rolloutctl.trainer.config import TrainerConfig
from rolloutctl.trainer.fake_tokens import content_text
from rolloutctl.trainer.mock import MockTrainer
from rolloutctl.trajectory.render import make_console

__all__ = ["SNIPPET", "event_line", "print_events", "serve_trainer", "trainer_banner"]

SNIPPET = 70


def trainer_banner(config: TrainerConfig, url: str) -> Panel:
    faults = ", ".join(f"{k}={v}" for k, v in config.faults().items()) or "none"
    lines = [
        "[bold]mock trainer[/]",
        f"URL      {url}  (server_url for inits)",
        f"policy   {escape(config.policy.describe())}",
        f"faults   {escape(faults)}",
        f"events   {url}/v1/events",
    ]
    return Panel("\n".join(lines), expand=False, border_style="blue")


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return escape(flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1] + "…")


def _status(code: int) -> str:
    return f"[green]{code}[/]" if 200 <= code < 300 else f"[bold red]{code}[/]"


def _reply_summary(body: dict[str, Any]) -> str:
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    calls = [c.get("function") or {} for c in message.get("tool_calls") or []]
    if calls:
        names = ", ".join(f"{f.get('name')}({f.get('arguments')})" for f in calls)
        return f"[yellow]{_snippet(names)}[/]"
    tokens = (body.get("usage") or {}).get("completion_tokens", "?")
    return f'"{_snippet(content_text(message.get("content")))}" ({tokens} tok)'


def _init_sent(data: dict[str, Any]) -> str:
    return f"{len((data.get('request') or {}).get('messages') or [])} messages"


def _init_response(data: dict[str, Any]) -> str:
    body = data.get("body")
    tools = body.get("tools") if isinstance(body, dict) else None
    return f"{_status(data['status_code'])}  {len(tools or [])} tools"


def _chat_request(data: dict[str, Any]) -> str:
    messages = (data.get("body") or {}).get("messages") or [{}]
    last = messages[-1]
    said = _snippet(content_text(last.get("content")))
    return f"#{data['index']}  {len(messages)} msgs, last {escape(str(last.get('role')))}: {said}"


def _chat_response(data: dict[str, Any]) -> str:
    code, body = data["status_code"], data.get("body") or {}
    what = _reply_summary(body) if code == 200 else escape(str(body.get("detail")))
    return f"#{data['index']}  {_status(code)}  {what}  {data['latency_ms']:.1f} ms"


def _completion(data: dict[str, Any]) -> str:
    body = data.get("body") or {}
    outcome = escape(f"{body.get('status')} {body.get('finish_reason')}")
    count = len(body.get("final_messages") or [])
    return f"{_status(data['status_code'])}  {outcome}, {count} messages"


def _violation(data: dict[str, Any]) -> str:
    return f"{escape(str(data.get('rule')))}: {escape(str(data.get('message')))}"


_LINES = {
    EventKind.INIT_SENT: ("[cyan]init →[/]", _init_sent),
    EventKind.INIT_RESPONSE: ("[cyan]init ←[/]", _init_response),
    EventKind.CHAT_REQUEST: ("[magenta]chat ←[/]", _chat_request),
    EventKind.CHAT_RESPONSE: ("[magenta]chat →[/]", _chat_response),
    EventKind.COMPLETION: ("[green]completed ←[/]", _completion),
    EventKind.VIOLATION: ("[bold red]violation[/]", _violation),
}


def event_line(event: Event) -> str:
    """One rich-markup line for an event; all content from the wire is escaped."""
    label, details = _LINES[event.kind]
    return f"{label} {escape(event.rollout_id)}  {details(event.data)}"


async def print_events(subscription: Subscription, console: Console, json_lines: bool) -> None:
    async for event in subscription:
        if json_lines:
            console.out(orjson.dumps(event.to_dict()).decode(), highlight=False)
        else:
            stamp = time.strftime("%H:%M:%S", time.localtime(event.ts))
            console.print(f"[dim]{stamp}[/] {event_line(event)}", highlight=False, soft_wrap=True)


class _Server(uvicorn.Server):
    """Ends the event streams first, so open SSE clients do not hold up the shutdown."""

    def __init__(self, config: uvicorn.Config, trainer: MockTrainer) -> None:
        super().__init__(config)
        self.trainer = trainer

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.trainer.bus.close()
        await super().shutdown(sockets)


async def _serve(
    trainer: MockTrainer, sock: socket.socket, console: Console, json_lines: bool
) -> None:
    printer = asyncio.create_task(print_events(trainer.subscribe(), console, json_lines))
    config = uvicorn.Config(
        trainer.app, log_config=None, access_log=False, log_level="warning", ws="none"
    )
    try:
        await _Server(config, trainer).serve(sockets=[sock])
    finally:
        await trainer.aclose()
        await printer


def serve_trainer(
    config: TrainerConfig,
    host: str = "127.0.0.1",
    port: int = 9001,
    console: Console | None = None,
    json_lines: bool = False,
) -> None:
    """Serve until SIGINT/SIGTERM; raises rolloutctl.net.sockets.CannotBind on bind errors."""
    console = console or make_console(plain=False)  # every line through `visible`
    sock = bind_socket(host, port)
    trainer = MockTrainer(config)
    trainer.url = socket_url(host, sock)
    setup_logging("warning", json_lines, console)
    logging.getLogger("rolloutctl.trainer").setLevel(logging.ERROR)  # violations print as events
    if not json_lines:
        console.print(trainer_banner(config, trainer.url))
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
        asyncio.run(_serve(trainer, sock, console, json_lines))
