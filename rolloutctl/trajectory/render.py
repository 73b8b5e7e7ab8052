"""Terminal rendering of trajectories, shared by `try`'s live view, `watch` and `replay`.

Every piece of message content goes into a `Text` object, never a markup string, so a
message saying "[bold red]x[/]" prints literally; control characters are shown as
escapes and long texts clipped (`text.py`). Tool calls are one line (`→ add(a=5, b=3)`)
printed together with the result that answers them, so a call and its result always
sit together even though the result arrives with the next chat request. Plain mode
uses no styles, boxes or rules, so its output reads as ordinary text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import IO, Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.json import JSON
from rich.panel import Panel
from rich.rule import Rule
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from rolloutctl.trajectory.builder import ItemKind, RenderItem, select_items, trajectory_items
from rolloutctl.trajectory.summary import format_ms, summarize, summary_rows, turn_stats
from rolloutctl.trajectory.text import (
    DEFAULT_MAX_CHARS,
    compact_call,
    decode_arguments,
    display_content,
    has_controls,
    is_error_result,
    shown,
    visible,
)

__all__ = [
    "LABEL_WIDTH",
    "Renderer",
    "make_console",
    "visible_one_line",
]

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


class _Console(Console):
    """The one way rolloutctl's views reach a terminal.

    Every segment of text it writes passes through `visible`, whatever built it (a
    `Text`, markup, a table cell, a progress column): an ESC, OSC, CSI or C1 control in
    model or server text is shown as an escape, never obeyed. Only rich's own control
    segments (cursor moves of a live display) pass as they are. A closed pipe is a
    `BrokenPipeError` the CLI can end on cleanly; rich would raise SystemExit(1) from
    whatever task happened to print, which inside the event loop becomes pages of
    tracebacks.
    """

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or not has_controls(segment.text):
                yield segment
            else:
                yield Segment(visible(segment.text), segment.style)

    def on_broken_pipe(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.file.fileno())
        raise BrokenPipeError("the reader of the output went away")


def make_console(plain: bool, file: IO[str] | None = None, width: int | None = None) -> Console:
    """A console for the views; plain ones emit no escape codes at all."""
    if plain:
        return _Console(file=file, width=width, no_color=True, color_system=None, highlight=False)
    return _Console(file=file, width=width, highlight=False)


class Renderer:
    """Draws trajectory items: the live view feeds them in, replay draws a saved file.

    `context` (agent, policy, server) fills the header; `max_chars` clips each text
    (None: --full); `verbose` shows every call's arguments as indented JSON.
    """

    def __init__(
        self,
        console: Console,
        plain: bool = False,
        show_tools: bool = True,
        *,
        verbose: bool = False,
        max_chars: int | None = DEFAULT_MAX_CHARS,
        context: dict[str, str] | None = None,
    ) -> None:
        self.console = console
        self.plain = plain
        self.show_tools = show_tools
        self.verbose = verbose
        self.max_chars = max_chars
        self.context = context or {}
        self._arrow = "->" if plain else "→"
        self._sep = " | " if plain else " · "
        self._step: Any = _UNSET
        self._pending: list[dict[str, Any]] = []  # calls shown once their result arrives
        self._bare_assistant = False  # an assistant reply with no text: stats take its label
        self.rule_tag: str | None = None  # added to turn rules when rollouts interleave

    def render_items(self, items: Iterable[RenderItem]) -> None:
        for item in items:
            if self.show_tools or item.role != "tool":
                self._render(item)

    def flush(self) -> None:
        """Print calls still waiting for a result (the rollout ended before it came)."""
        pending, self._pending = self._pending, []
        for call in pending:
            self._print(self._call_rows(call, None))

    def new_section(self) -> None:
        """Other output came in between: repeat the turn rule before the next item."""
        self._step = _UNSET

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
        self.show_tools = show_tools
        self.render_items(select_items(trajectory_items(traj), step, last, role, show_tools))
        self.flush()

    def render_summary(self, traj: dict[str, Any], cause: str | None = None) -> None:
        """Status, finish reason, metrics, times, tool errors and violations."""
        self.flush()
        summary = summarize(traj, cause)
        grid = Table.grid(padding=(0, 2))
        for key, value, style in summary_rows(summary):
            grid.add_row(Text(key, style=self._style("quiet")), Text(value, self._style(style)))
        if self.plain:
            self._print(Text("--- summary ---"), grid)
            return
        border = "red" if not summary.ok else "yellow" if summary.failed_tool_calls else "green"
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

    def _text(self, value: Any, style: str = "") -> Text:
        return Text(shown(display_content(value), self.max_chars), style=self._style(style))

    def _render(self, item: RenderItem) -> None:
        if item.kind is not ItemKind.STATS and item.role != "tool":
            self.flush()
        if item.kind is ItemKind.HEADER:
            self._print(self._header_line(item.data))
            return
        if item.kind in (ItemKind.VIOLATION, ItemKind.INIT_ERROR):
            self._print(self._problem(item))
            return
        if item.kind is ItemKind.STATS and not turn_stats(item.data):
            return  # imported turns may know nothing about their call
        if item.step != self._step:
            self._step = item.step
            self._turn_rule(item.step)
        if item.role == "tool":
            self._tool_result(item)
        elif item.role == "assistant":
            self._assistant(item.data)
        else:
            self._print(self._rows(self._cells(item)))

    def _rows(self, *rows: tuple[Text, RenderableType]) -> Table:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=LABEL_WIDTH, no_wrap=True)
        grid.add_column(overflow="fold")
        for row in rows:
            grid.add_row(*row)
        return grid

    def _header_line(self, data: dict[str, Any]) -> Text:
        """Two lines: who answers (agent, policy, server), then the rollout's tools."""
        first = {key: self.context.get(key) for key in ("agent", "policy", "server")}
        if not any(first.values()):
            first = {"rollout": data.get("rollout_id")}
        line = Text()
        for key, value in first.items():
            if value:
                line.append(self._sep if line else "")
                line.append(f"{key} ", style=self._style("quiet"))
                line.append(visible_one_line(str(value)), style="" if self.plain else "bold")
        tools = ", ".join(visible_one_line(name) for name in data.get("tools") or [])
        if data.get("learned"):  # only the tools line, now that the first request told them
            line = Text("tools ", style=self._style("quiet"))
            line.append(tools, style=self._style("call"))
            return line.append(" (as the first chat request offered them)")
        line.append("\ntools ", style=self._style("quiet"))
        shown = tools or ("offered per request" if data.get("per_request") else "(none)")
        return line.append(shown, style=self._style("call"))

    def _turn_rule(self, step: int | None) -> None:
        title = f"turn {step}" if step is not None else "from the completion"
        title += f" · {self.rule_tag}" if self.rule_tag else ""
        if self.plain:
            self._print(Text(f"--- {title} ---"))
        else:
            self._print(Rule(Text(title, style="bold"), style="dim", align="left"))

    def _problem(self, item: RenderItem) -> Text:
        data = item.data
        if item.kind is ItemKind.VIOLATION:
            head = f"protocol violation [{data.get('rule')}]: "
            return Text(head + shown(str(data.get("message")), None), style=self._style("bad"))
        body, code = data.get("body"), data.get("status_code")
        detail = (
            body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, default=str)
        )
        head = f"init refused: HTTP {code}" if code else "init failed"
        return Text(f"{head}: {shown(detail, self.max_chars)}", style=self._style("bad"))

    def _cells(self, item: RenderItem) -> tuple[Text, RenderableType]:
        if item.kind is ItemKind.STATS:
            label = Text("assistant", style=self._style("assistant"))
            bare, self._bare_assistant = self._bare_assistant, False
            stats = self._sep.join(turn_stats(item.data))
            return label if bare else Text(""), Text(stats, style=self._style("quiet"))
        if item.kind is ItemKind.FAILED_CALL:
            failure = f"chat call failed: HTTP {item.data.get('status_code')}"
            latency = item.data.get("latency_ms")
            suffix = f" after {format_ms(latency)}" if latency is not None else ""
            return Text(""), Text(failure + suffix, style=self._style("warn"))
        role = item.role or "?"
        return Text(role, style=self._style(role)), self._text(item.data.get("content"))

    def _assistant(self, message: dict[str, Any]) -> None:
        text = display_content(message.get("content"))
        calls = [call for call in message.get("tool_calls") or [] if isinstance(call, dict)]
        label = Text("assistant", style=self._style("assistant"))
        self._bare_assistant = not text and bool(calls)
        if text or not calls:
            body = self._text(text) if text else Text("(empty reply)", style=self._style("quiet"))
            self._print(self._rows((label, body)))
        self._pending = calls
        if not self.show_tools:
            self.flush()

    def _tool_result(self, item: RenderItem) -> None:
        call_id = item.data.get("tool_call_id")
        ids = [call.get("id") for call in self._pending]
        if call_id in ids:  # earlier calls that got no result print first, alone
            position = ids.index(call_id)
            unanswered, self._pending = self._pending[:position], self._pending[position + 1 :]
            for call in unanswered:
                self._print(self._call_rows(call, None))
        content = item.data.get("content")
        style = "bad" if is_error_result(content) else ""
        result = (Text("tool", style=self._style("tool")), self._text(content, style))
        if item.call is None:
            orphan = f"(answers no call: tool_call_id {call_id!r})"
            self._print(self._rows((Text("call"), Text(orphan, self._style("warn"))), result))
            return
        self._print(self._call_rows(item.call, result))

    def _call_rows(self, call: dict[str, Any], result: tuple[Text, RenderableType] | None) -> Table:
        function = call.get("function") or {}
        name = visible_one_line(str(function.get("name")))
        label = Text("call", style=self._style("call"))
        compact = None if self.verbose else compact_call(name, function.get("arguments"))
        rows: list[tuple[Text, RenderableType]]
        if compact is not None:
            rows = [(label, Text(f"{self._arrow} {shown(compact, self.max_chars)}"))]
        else:
            rows = [(label, Text(f"{self._arrow} {name}")), (Text(""), self._arguments(function))]
        if result is None:
            rows.append((Text(""), Text("(no result)", style=self._style("warn"))))
        else:
            rows.append(result)
        return self._rows(*rows)

    def _arguments(self, function: dict[str, Any]) -> RenderableType:
        data, valid = decode_arguments(function.get("arguments"))
        if not valid:
            raw = shown(str(data), self.max_chars)
            return Text.assemble(raw, (" (not valid JSON)", self._style("warn")))
        text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        if self.plain or len(text) > (self.max_chars or len(text)) or has_controls(text):
            return Text(shown(text, self.max_chars))
        return JSON(text)


def visible_one_line(text: str) -> str:
    return shown(" ".join(text.split()), None)
