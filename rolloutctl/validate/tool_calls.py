"""The dry run's tool calls: every tool once, with arguments built from its own schema.

The dry rollout's echo policy never asks for a tool, so without this a tool that
raises on any input, or blocks past the time limit, would pass. The arguments are
`check`'s (rolloutctl.schema.arguments): required properties, defaults and enums
first, so an author steers them by giving the schema a default or an enum.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from rolloutctl.agent.tools import Tool
from rolloutctl.schema.arguments import schema_instance
from rolloutctl.validate.report import Finding

__all__ = ["tool_call_findings"]


async def tool_call_findings(tools: Sequence[Tool], timeout: float) -> list[Finding]:
    """Call each tool once (all at once, each within `timeout`); why some failed."""
    results = await asyncio.gather(*(_call_once(t, timeout) for t in tools))
    return [finding for finding in results if finding is not None]


async def _call_once(tool: Tool, timeout: float) -> Finding | None:
    arguments = schema_instance(tool.parameters)
    shown = json.dumps(arguments, default=str)[:200]
    try:
        async with asyncio.timeout(timeout):
            await tool.call(arguments if isinstance(arguments, dict) else {})
    except TimeoutError:
        message = f"tool {tool.name!r} did not return within {timeout:g} s, called with {shown}"
        return Finding("V025", message, tool.name)
    except Exception as exc:
        message = f"tool {tool.name!r} raised {type(exc).__name__}: {exc} (called with {shown})"
        return Finding("V024", message, tool.name)
    return None
