"""Following a running mock trainer's exchanges in the live view of `try`.

Each rollout seen on the stream gets its own `LiveView` (its own trajectory), all
printing to one console. Watching one rollout ends at its completion; watching all
runs until Ctrl-C, printing each rollout's summary as its completion arrives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rolloutctl.attach.events import open_events
from rolloutctl.errors import StreamEnded
from rolloutctl.events import Event, EventKind
from rolloutctl.trajectory.live import LiveView

__all__ = ["ViewFactory", "Watcher", "follow"]


ViewFactory = Callable[[str], LiveView]


class Watcher:
    """The views of the rollouts seen so far, fed from one event stream."""

    def __init__(self, make_view: ViewFactory) -> None:
        self.make_view = make_view
        self.views: dict[str, LiveView] = {}
        self._shown: str | None = None  # the rollout whose events were printed last

    def view(self, rollout_id: str) -> LiveView:
        if rollout_id not in self.views:
            self.views[rollout_id] = self.make_view(rollout_id)
        return self.views[rollout_id]

    def feed(self, event: Event) -> None:
        view = self.view(event.rollout_id)
        if self._shown not in (None, event.rollout_id):
            view.renderer.new_section()  # another rollout's events were printed in between
        self._shown = event.rollout_id
        view.feed(event)

    def close(self) -> None:
        for view in self.views.values():
            view.close()


async def follow(
    trainer_url: str,
    watcher: Watcher,
    rollout_id: str | None = None,
    subscribed: Callable[[], Awaitable[bool]] | None = None,
    on_completion: Callable[[LiveView], None] = lambda view: None,
) -> None:
    """Feed the trainer's events to `watcher` until `rollout_id` completes (or forever).

    `subscribed` runs once the stream is open (init --watch sends its init there), so
    no exchange of that rollout can be missed; it returns True when the rollout has
    already ended, and nothing is left to wait for.
    """
    async with open_events(trainer_url, rollout_id) as events:
        if subscribed is not None and await subscribed():
            return
        async for event in events:
            watcher.feed(event)
            if event.kind is EventKind.COMPLETION:
                on_completion(watcher.view(event.rollout_id))
                if rollout_id is not None:
                    return
    if rollout_id is not None:
        raise StreamEnded(f"the mock trainer closed the event stream before {rollout_id} ended")
