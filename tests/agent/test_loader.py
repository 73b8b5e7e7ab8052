"""Agent targets the way Python and uvicorn find modules."""

from __future__ import annotations

import subprocess
import textwrap

from tests.helpers import rolloutctl_bin

AGENT = """
from rolloutctl import ToolLoopAgent
from {tools} import shout


class Loud(ToolLoopAgent):
    name = "loud"
    tool_list = (shout,)


agent = Loud()
"""
TOOLS = '''
from rolloutctl import tool


@tool
def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper()
'''


def make_package(root, tools_import: str) -> None:
    package = root / "myagents"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tools.py").write_text(textwrap.dedent(TOOLS))
    (package / "main.py").write_text(textwrap.dedent(AGENT.format(tools=tools_import)))


def validate(cwd, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [rolloutctl_bin(), "validate", target, "--json"],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


def test_module_targets_import_from_the_current_directory(tmp_path):
    make_package(tmp_path, "myagents.tools")
    result = validate(tmp_path, "myagents.main:agent")
    assert result.returncode == 0, result.stderr
    assert '"agent": "loud"' in result.stdout


def test_a_file_target_in_a_package_may_use_relative_imports(tmp_path):
    make_package(tmp_path, ".tools")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = validate(elsewhere, str(tmp_path / "myagents" / "main.py"))
    assert result.returncode == 0, result.stderr
    assert '"agent": "loud"' in result.stdout
