"""What agent authors import: the rollout context, `@tool`, the standard loop, the errors."""

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
from rolloutctl.errors import AgentError, RolloutAborted, ToolArgumentError, TurnLimitReached

__all__ = [
    "Agent",
    "AgentError",
    "ChatResult",
    "RolloutAborted",
    "RolloutContext",
    "RolloutMetrics",
    "RolloutRequest",
    "RolloutResult",
    "Tool",
    "ToolArgumentError",
    "ToolLoopAgent",
    "TurnLimitReached",
    "run_tool_loop",
    "tool",
]
