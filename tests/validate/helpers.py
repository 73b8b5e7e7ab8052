"""What the validate tests share: an agent file to load, and reports by their codes."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

from rolloutctl import Agent
from rolloutctl.validate.validator import validate_agent


def write_agent(directory: Path, source: str) -> str:
    """`source` as a module in `directory`; the target naming its `agent`."""
    path = directory / "agent_under_test.py"
    path.write_text(textwrap.dedent(source))
    return f"{path}:agent"


def codes(report: dict[str, Any]) -> set[str]:
    return {finding["code"] for finding in report["findings"]}


def check(agent: Agent) -> dict[str, Any]:
    """validate's report of `agent`, checked in this process."""
    return asyncio.run(validate_agent(agent, timeout=30.0)).to_dict()
