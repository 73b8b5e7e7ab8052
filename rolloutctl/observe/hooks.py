"""Where later work hooks into a rollout: metrics, traces, replica rescue, recorders.

A `RolloutObserver` subclass overrides the points it needs; `RolloutManager.observers`
holds them (`ServerCore(..., observers=[...])` or `app.core.observers.append(...)`
before the first init). The calls are synchronous and made on the event loop, so an
observer that needs I/O starts its own task. An observer that raises is logged and
does not change the rollout: exactly one completion goes out whatever it does. With
no observer, a rollout pays one truth test per point.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rolloutctl.server.callbacks import Delivery
    from rolloutctl.server.rollout import Rollout

__all__ = ["RolloutObserver", "notify"]

log = logging.getLogger("rolloutctl.server")


class RolloutObserver:
    """The lifecycle points of one rollout, in the order they happen; each does nothing here."""

    def accepted(self, rollout: Rollout) -> None:
        """The init was answered 202; the rollout waits for a concurrency slot."""

    def started(self, rollout: Rollout) -> None:
        """The rollout holds a slot and its agent starts."""

    def llm_call(self, rollout: Rollout, seconds: float, error: BaseException | None) -> None:
        """One chat call to the trainer ended (`error` None when it answered)."""

    def tool_call(
        self, rollout: Rollout, call: dict[str, Any], content: str, seconds: float
    ) -> None:
        """One tool call ended; `content` is what the model gets (`Error: ...` on failure)."""

    def finished(self, rollout: Rollout, payload: dict[str, Any]) -> None:
        """The completion is built and recorded (`payload["status"]`, its metrics)."""

    def delivered(self, rollout: Rollout, delivery: Delivery) -> None:
        """Delivery of the completion ended, delivered or not."""


def notify(observers: Sequence[RolloutObserver], point: str, *args: Any) -> None:
    """Call `point` on every observer; one that raises is logged, never propagated."""
    for observer in observers:
        try:
            getattr(observer, point)(*args)
        except Exception:
            log.exception("observer %s failed at %s", type(observer).__name__, point)
