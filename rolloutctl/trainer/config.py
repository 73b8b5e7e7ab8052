"""How a mock trainer behaves: its policy and the faults it injects.

Apart from `mock.py` so that the handlers it configures (`chat.py`, `completed.py`)
can read it without importing the trainer that builds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rolloutctl.trainer.policies.base import Policy
from rolloutctl.trainer.policies.registry import make_policy

__all__ = ["TrainerConfig"]


@dataclass
class TrainerConfig:
    policy: Policy = field(default_factory=make_policy)
    latency_ms: float = 0.0  # added to each chat answer
    fail_rate: float = 0.0  # fraction of chat calls answered 503
    fail_completed_rate: float = 0.0  # fraction of completions answered 503 (and not recorded)
    expect_api_key: str | None = None  # callbacks without this Bearer get 401
    seed: int | None = None  # of the fault-injection RNG
    metrics: bool = False  # GET /metrics (the mock-trainer command turns it on)

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        for name in ("fail_rate", "fail_completed_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")

    def faults(self) -> dict[str, Any]:
        """The fault settings in force, for banners and health (the key shown as ***)."""
        shown = {
            "latency_ms": self.latency_ms,
            "fail_rate": self.fail_rate,
            "fail_completed_rate": self.fail_completed_rate,
            "expect_api_key": "***" if self.expect_api_key else None,
        }
        return {name: value for name, value in shown.items() if value}
