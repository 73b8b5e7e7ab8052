"""Exchange events: what the mock trainer saw, in order, for live views and trajectories.

The mock trainer publishes one `Event` per exchange (to in-process subscribers and
its SSE stream); the trajectory builder and the renderer consume the same events, so
a live view, a saved file and a replay all come from one record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Event", "EventKind"]


class EventKind(StrEnum):
    INIT_SENT = "init_sent"  # data: {"request": init body, api_key shown as "***"}
    INIT_RESPONSE = "init_response"  # data: {"status_code": int, "body": 202 body or error}
    CHAT_REQUEST = "chat_request"  # data: {"index": n, "body": chat request body}
    CHAT_RESPONSE = "chat_response"  # data: {"index": n, "status_code", "body", "latency_ms"}
    COMPLETION = "completion"  # data: {"body": completed payload, "status_code": int}
    VIOLATION = "violation"  # data: {"rule": short id, "message": one line}


@dataclass(slots=True)
class Event:
    kind: EventKind
    rollout_id: str
    data: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """Shallow on purpose: events are published on the hot path and bodies are big."""
        return {
            "kind": self.kind.value,
            "rollout_id": self.rollout_id,
            "data": self.data,
            "ts": self.ts,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        return cls(EventKind(raw["kind"]), raw["rollout_id"], raw.get("data", {}), raw["ts"])
