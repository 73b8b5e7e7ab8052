"""rolloutctl: build, try, check and benchmark Remote Rollout Protocol v1 servers.

Public names are imported lazily so that `rolloutctl --help` starts fast.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Agent": "rolloutctl.agent",
    "ChatResult": "rolloutctl.agent",
    "RolloutContext": "rolloutctl.agent",
    "RolloutRequest": "rolloutctl.agent",
    "RolloutResult": "rolloutctl.agent",
    "Tool": "rolloutctl.tools",
    "tool": "rolloutctl.tools",
    "ToolLoopAgent": "rolloutctl.loop",
    "run_tool_loop": "rolloutctl.loop",
    "ServerSettings": "rolloutctl.settings",
    "create_app": "rolloutctl.server",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rolloutctl' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
