"""What a bench run is asked to do: its settings, and the calculator init each rollout
starts with (the same workload over either protocol)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SYSTEM", "BenchConfig", "calculator_init"]

SYSTEM = {"role": "system", "content": "You are a calculator. Use the tools, then answer."}


@dataclass(frozen=True)
class BenchConfig:
    rollouts: int = 1000
    concurrency: int = 32
    llm_latency_ms: float = 0.0
    fail_rate: float = 0.0
    fail_completed_rate: float = 0.0
    warmup: int = 0
    timeout: float = 120.0  # seconds a worker waits for one completion before moving on
    final_wait: float = 10.0  # extra seconds, at the end, for the completions still missing
    seed: int | None = None  # of the trainer's fault injection
    server_key: str | None = None  # the server's inbound key, if it wants one
    trainer_host: str = "127.0.0.1"  # where the server under test can reach the trainer
    # Inits in flight at once, hence connections the server holds for them: a trainer's
    # HTTP client pools its connections (httpx and aiohttp allow 100 by default).
    init_connections: int = 100
    # in every rollout_id, fresh per run unless given: a server remembers ids for an hour,
    # so a second run against the same --server-url must not repeat the first one's
    run_id: str | None = None


def calculator_init(rollout_id: str, index: int) -> dict[str, Any]:
    """An init whose answer takes exactly one `add` call; the numbers vary per rollout."""
    question = f"What is {index % 97} + {index % 13 + 1}?"
    return {
        "rollout_id": rollout_id,
        "messages": [SYSTEM, {"role": "user", "content": question}],
        "completion_params": {"temperature": 0.7},
        "max_turns": 4,
    }
