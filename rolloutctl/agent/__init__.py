"""What agent authors import: the rollout context, `@tool`, the standard loop, the loader."""

from rolloutctl.agent.context import (
    Agent,
    ChatResult,
    RolloutContext,
    RolloutMetrics,
    RolloutRequest,
    RolloutResult,
)
from rolloutctl.agent.loop import ToolLoopAgent, run_tool_loop
from rolloutctl.agent.tools import Tool, tool

__all__ = [
    "Agent",
    "ChatResult",
    "RolloutContext",
    "RolloutMetrics",
    "RolloutRequest",
    "RolloutResult",
    "Tool",
    "ToolLoopAgent",
    "run_tool_loop",
    "tool",
]
