"""The live view: events in, the rollout on screen, and a spinner while nothing happens.

`try` and `watch` both feed the mock trainer's events to a `LiveView`. It folds them
into a trajectory (`TrajectoryBuilder`), prints what each one adds (`Renderer`) and,
in a terminal, keeps one transient line below saying what the rollout waits on (the
model, or the tools it asked for) and for how long, so a slow tool is not mistaken for
a hang. The spinner line is never part of the output once it ends, and plain or piped
output never has one.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from rolloutctl.events import Event, EventKind
from rolloutctl.trajectory.builder import ItemKind, RenderItem, TrajectoryBuilder
from rolloutctl.trajectory.render import Renderer
from rolloutctl.trajectory.text import compact_call

__all__ = ["LiveView", "waiting_label"]


class _Waiting:
    """The spinner line: what is awaited and the seconds since it began, redrawn live."""

    def __init__(self) -> None:
        self.label: str | None = None
        self.since = time.monotonic()
        self._spinner = Spinner("dots", style="cyan")

    def wait_for(self, label: str | None) -> None:
        if label != self.label:
            self.label, self.since = label, time.monotonic()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.label is None:
            return
        elapsed = time.monotonic() - self.since
        self._spinner.update(text=Text(f"{self.label}  {elapsed:.1f} s", style="dim"))
        yield self._spinner


def waiting_label(event: Event) -> str | None:
    """What the rollout waits on after `event`; None once it has ended or was refused."""
    data, kind = event.data, event.kind
    ok = isinstance(data.get("status_code"), int) and 200 <= data["status_code"] < 300
    if kind is EventKind.INIT_SENT:
        return "sending the init"
    if kind in (EventKind.INIT_RESPONSE, EventKind.CHAT_REQUEST):
        return "waiting for the model" if ok or kind is EventKind.CHAT_REQUEST else None
    if kind is EventKind.CHAT_RESPONSE:
        if not ok:
            return "waiting for the server to retry the chat call"
        calls = _calls(data.get("body") or {})
        return f"running {', '.join(calls)}" if calls else "waiting for the completion"
    return None


def _calls(body: dict[str, Any]) -> list[str]:
    choices = body.get("choices") or [{}]
    message = (choices[0] if isinstance(choices[0], dict) else {}).get("message") or {}
    names = []
    for call in message.get("tool_calls") or []:
        function = (call.get("function") or {}) if isinstance(call, dict) else {}
        name = str(function.get("name"))
        names.append(compact_call(name, function.get("arguments")) or name)
    return names


class LiveView:
    """Shows one rollout's events as they come; `spinner` only makes sense in a terminal.
    With `shown=False` it only records them (`--json` prints the document at the end)."""

    def __init__(
        self, renderer: Renderer, builder: TrajectoryBuilder, spinner: bool, shown: bool = True
    ) -> None:
        self.renderer = renderer
        self.builder = builder
        self.shown = shown
        self.closed = False  # the output pipe was closed
        self._waiting = _Waiting()
        self._live: Live | None = None
        if spinner:
            self._live = Live(
                self._waiting, console=renderer.console, transient=True, refresh_per_second=8
            )
            self._live.start()

    def feed(self, event: Event) -> None:
        """Record `event` and show what it adds."""
        self.show(event, self.builder.add(event))

    def show(self, event: Event, items: list[RenderItem]) -> None:
        """Show the `items` that `event` added to this view's builder."""
        if self.closed or not self.shown or event.rollout_id != self.builder.rollout_id:
            return
        # An init that never arrived is the caller's error line, not part of the view.
        items = [
            i
            for i in items
            if not (i.kind is ItemKind.INIT_ERROR and not i.data.get("status_code"))
        ]
        try:
            self.renderer.render_items(items)
        except BrokenPipeError:
            self.closed = True  # nobody reads on: keep recording for --save
            self.close()
        if event.kind is not EventKind.VIOLATION:
            self._waiting.wait_for(waiting_label(event))

    def close(self) -> None:
        """Stop the spinner (idempotent); the screen keeps only the printed rollout."""
        if self._live is not None:
            self._live.stop()
            self._live = None
