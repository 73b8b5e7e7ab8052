"""Terminal rendering of trajectories, shared by `try`'s live view and `replay`.

Every piece of message content goes into a `Text` object, never a markup string, so a
message saying "[bold red]x[/]" prints literally. Plain mode uses no styles, boxes or
rules, so its output reads as ordinary text and stays stable for tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any

from rich.console import Console, Group, RenderableType
from rich.json import JSON
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from rolloutctl.trajectory.builder import ItemKind, RenderItem, select_items, trajectory_items
from rolloutctl.trajectory.summary import format_ms, summarize, summary_rows, turn_stats

__all__ = ["LABEL_WIDTH", "Renderer", "make_console"]

LABEL_WIDTH = 10
_STYLES = {
    "system": "dim",
    "user": "bold cyan",
    "assistant": "bold green",
    "tool": "magenta",
    "call": "bold yellow",
    "quiet": "dim",
    "bad": "bold red",
    "warn": "yellow",
    "good": "bold green",
}
_UNSET = object()  # no turn header printed yet


def make_console(plain: bool, file: IO[str] | None = None, width: int | None = None) -> Console:
    """A console for the views; plain ones emit no escape codes at all."""
    if plain:
        return Console(file=file, width=width, no_color=True, color_system=None, highlight=False)
    return Console(file=file, width=width, highlight=False)


class Renderer:
    """Draws trajectory items: the live view feeds them in, replay draws a saved file."""

    def __init__(self, console: Console, plain: bool = False, show_tools: bool = True) -> None:
        self.console = console
        self.plain = plain
        self.show_tools = show_tools
        self._arrow = "->" if plain else "→"
        self._sep = " | " if plain else " · "
        self._step: Any = _UNSET

    def render_items(self, items: Iterable[RenderItem]) -> None:
        for item in items:
            if self.show_tools or item.role != "tool":
                self._render(item)

    def render_trajectory(
        self,
        traj: dict[str, Any],
        step: int | None = None,
        last: int | None = None,
        role: str | None = None,
        show_tools: bool = True,
    ) -> None:
        """Draw a whole trajectory; ValueError when `step` names no turn of it."""
        if step is not None and not any(t.get("index") == step for t in traj["turns"]):
            raise ValueError(f"no turn {step}: the trajectory has {len(traj['turns'])} turns")
        for item in select_items(trajectory_items(traj), step, last, role, show_tools):
            self._render(item)

    def render_summary(self, traj: dict[str, Any], wall_time: float | None = None) -> None:
        """Status, finish reason, metrics, wall time and violations; red when not clean."""
        summary = summarize(traj, wall_time)
        grid = Table.grid(padding=(0, 2))
        for key, value, style in summary_rows(summary):
            grid.add_row(Text(key, style=self._style("quiet")), Text(value, self._style(style)))
        if self.plain:
            self._print(Text("--- summary ---"), grid)
            return
        border = "green" if summary.ok else "red"
        self._print(Panel(grid, title="summary", border_style=border, expand=False))

    def _print(self, *renderables: RenderableType) -> None:
        """Print; plain output also loses the trailing spaces rich pads table cells with."""
        if not self.plain:
            self.console.print(*renderables)
            return
        with self.console.capture() as captured:
            self.console.print(*renderables)
        lines = captured.get().splitlines()
        self.console.out("\n".join(line.rstrip() for line in lines), highlight=False)

    def _style(self, name: str) -> str:
        return "" if self.plain else _STYLES.get(name, "")

    def _render(self, item: RenderItem) -> None:
        if item.kind in (ItemKind.VIOLATION, ItemKind.INIT_ERROR):
            self._print(self._problem(item))
            return
        if item.kind is ItemKind.STATS and not turn_stats(item.data):
            return  # imported turns may know nothing about their call
        if item.step != self._step:
            self._step = item.step
            self._header(item.step)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=LABEL_WIDTH, no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row(*self._cells(item))
        self._print(grid)

    def _header(self, step: int | None) -> None:
        title = f"turn {step}" if step is not None else "from the completion"
        if self.plain:
            self._print(Text(f"--- {title} ---"))
        else:
            self._print(Rule(Text(title, style="bold"), style="dim", align="left"))

    def _problem(self, item: RenderItem) -> Text:
        data = item.data
        if item.kind is ItemKind.VIOLATION:
            head = f"protocol violation [{data.get('rule')}]: "
            return Text(head + str(data.get("message")), style=self._style("bad"))
        body, code = data.get("body"), data.get("status_code")
        detail = (
            body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, default=str)
        )
        head = f"init refused: HTTP {code}" if code else "init failed"
        return Text(f"{head}: {detail}", style=self._style("bad"))

    def _cells(self, item: RenderItem) -> tuple[Text, RenderableType]:
        if item.kind is ItemKind.STATS:
            stats = self._sep.join(turn_stats(item.data))
            return Text(""), Text(stats, style=self._style("quiet"))
        if item.kind is ItemKind.FAILED_CALL:
            failure = f"chat call failed: HTTP {item.data.get('status_code')}"
            latency = item.data.get("latency_ms")
            suffix = f" after {format_ms(latency)}" if latency is not None else ""
            return Text(""), Text(failure + suffix, style=self._style("warn"))
        role = item.role or "?"
        label = Text(role, style=self._style(role))
        if role == "assistant":
            return label, self._assistant_body(item.data)
        if role == "tool":
            return label, self._tool_body(item)
        return label, Text(_content_text(item.data.get("content")))

    def _assistant_body(self, message: dict[str, Any]) -> RenderableType:
        parts: list[RenderableType] = []
        text = _content_text(message.get("content"))
        if text:
            parts.append(Text(text))
        for call in message.get("tool_calls") or []:
            function = (call.get("function") or {}) if isinstance(call, dict) else {}
            name = Text(str(function.get("name")), style=self._style("call"))
            parts += [Text.assemble(f"{self._arrow} call ", name), self._arguments(function)]
        return Group(*parts) if parts else Text("(empty reply)", style=self._style("quiet"))

    def _arguments(self, function: dict[str, Any]) -> RenderableType:
        data, valid = _decode(function.get("arguments"))
        if not valid:
            return Text.assemble(str(data), (" (not valid JSON)", self._style("warn")))
        if self.plain:
            return Text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return JSON.from_data(data, indent=2, default=str)

    def _tool_body(self, item: RenderItem) -> Text:
        content = Text(_content_text(item.data.get("content")))
        if item.call is None:
            orphan = f"(no call with id {item.data.get('tool_call_id')!r})"
            return Text.assemble((orphan, self._style("warn")), f" {self._arrow} ", content)
        function = item.call.get("function") or {}
        name = Text(str(function.get("name")), style=self._style("call"))
        args = Text(_compact(function.get("arguments")), style=self._style("quiet"))
        return Text.assemble(name, " ", args, f" {self._arrow} ", content)


def _content_text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a list of parts."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return "\n".join(str(p.get("text", json.dumps(p))) for p in content)
    return json.dumps(content, ensure_ascii=False, default=str)


def _decode(arguments: Any) -> tuple[Any, bool]:
    """Tool-call arguments parsed from their JSON string, and whether that worked."""
    try:
        return (json.loads(arguments) if isinstance(arguments, str) else arguments), True
    except ValueError:
        return arguments, False


def _compact(arguments: Any) -> str:
    data, valid = _decode(arguments)
    return json.dumps(data, ensure_ascii=False, default=str) if valid else str(data)
