"""--debug (and ROLLOUTCTL_DEBUG) show a failing agent's traceback down to the user's line."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.helpers import run_cli

RAISING_AGENT = textwrap.dedent("""\
    from rolloutctl import Agent


    class Raises(Agent):
        name = "raises"

        async def run(self, ctx):
            await ctx.chat()
            return 1 / 0


    agent = Raises()
""")


def run(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "raises.py").write_text(RAISING_AGENT)
    return run_cli(*args, cwd=tmp_path, env=env)


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--debug", "try", "raises.py:agent", "--plain"), None),
        (("try", "raises.py:agent", "--plain", "--debug"), None),
        (("try", "raises.py:agent", "--plain"), {"ROLLOUTCTL_DEBUG": "1"}),
        (("--debug", "validate", "raises.py:agent", "--plain"), None),
    ],
)
def test_debug_shows_the_agents_file_and_line(tmp_path, args, env):
    result = run(tmp_path, *args, env=env)
    assert result.returncode == 1
    assert 'raises.py", line 9, in run' in result.stderr
    assert "ZeroDivisionError: division by zero" in result.stderr


def test_without_debug_try_prints_the_error_once_and_no_log_lines(tmp_path):
    result = run(tmp_path, "try", "raises.py:agent", "--plain")
    assert result.returncode == 1
    assert "agent_error: ZeroDivisionError: division by zero" in result.stdout
    assert "Traceback" not in result.stderr
    assert "WARNING" not in result.stderr and "rollout try-" not in result.stderr
