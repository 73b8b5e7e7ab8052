"""rolloutctl: build, try, check and benchmark Remote Rollout Protocol servers.

Public names are imported lazily so that `rolloutctl --help` starts fast; the
`TYPE_CHECKING` imports give type checkers and IDEs the same names.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Agent": "rolloutctl.agent.context",
    "ChatResult": "rolloutctl.agent.context",
    "RolloutContext": "rolloutctl.agent.context",
    "RolloutMetrics": "rolloutctl.agent.context",
    "RolloutRequest": "rolloutctl.agent.context",
    "RolloutResult": "rolloutctl.agent.context",
    "Tool": "rolloutctl.agent.tools",
    "tool": "rolloutctl.agent.tools",
    "ToolLoopAgent": "rolloutctl.agent.loop",
    "run_tool_loop": "rolloutctl.agent.loop",
    "load_agent": "rolloutctl.agent.loader",
    "ServerSettings": "rolloutctl.server.settings",
    "create_app": "rolloutctl.server.app",
    "ServeConfig": "rolloutctl.server.run",
    "serve": "rolloutctl.server.run",
    "MockTrainer": "rolloutctl.trainer.mock",
    "TrainerConfig": "rolloutctl.trainer.config",
    "TryOptions": "rolloutctl.trial",
    "run_try": "rolloutctl.trial",
    "load_trajectory": "rolloutctl.trajectory.document",
    "save_trajectory": "rolloutctl.trajectory.document",
    "RolloutctlError": "rolloutctl.errors",
}
_ALIASES = {"serve": "run"}

__all__ = [
    "Agent",
    "ChatResult",
    "MockTrainer",
    "RolloutContext",
    "RolloutMetrics",
    "RolloutRequest",
    "RolloutResult",
    "RolloutctlError",
    "ServeConfig",
    "ServerSettings",
    "Tool",
    "ToolLoopAgent",
    "TrainerConfig",
    "TryOptions",
    "__version__",
    "create_app",
    "load_agent",
    "load_trajectory",
    "run_tool_loop",
    "run_try",
    "save_trajectory",
    "serve",
    "tool",
]

if TYPE_CHECKING:
    from rolloutctl.agent.context import (
        Agent,
        ChatResult,
        RolloutContext,
        RolloutMetrics,
        RolloutRequest,
        RolloutResult,
    )
    from rolloutctl.agent.loader import load_agent
    from rolloutctl.agent.loop import ToolLoopAgent, run_tool_loop
    from rolloutctl.agent.tools import Tool, tool
    from rolloutctl.errors import RolloutctlError
    from rolloutctl.server.app import create_app
    from rolloutctl.server.run import ServeConfig
    from rolloutctl.server.run import run as serve
    from rolloutctl.server.settings import ServerSettings
    from rolloutctl.trainer.config import TrainerConfig
    from rolloutctl.trainer.mock import MockTrainer
    from rolloutctl.trajectory.document import load_trajectory, save_trajectory
    from rolloutctl.trial import TryOptions, run_try


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rolloutctl' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), _ALIASES.get(name, name))
