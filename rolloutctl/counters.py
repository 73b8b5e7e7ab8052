"""The counters of one rollout: what the agent's context counts and the completion reports.

A leaf module, so that the wire schema (`protocol.py`) can validate a completion's
`metrics` without importing the agent API, and the agent API without the wire's.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RolloutMetrics"]


@dataclass
class RolloutMetrics:
    num_llm_calls: int = 0
    num_tool_calls: int = 0
    prompt_tokens: int = 0
    response_tokens: int = 0
    total_latency_ms: float = 0.0
    llm_latency_ms: float = 0.0
    tool_latency_ms: float = 0.0
