"""Regenerate README.md's generated parts from the code: the top-level `rolloutctl --help`,
every command's `--help` (the "Command reference"), and `validate`'s table of finding codes.

Run `uv run python scripts/gen_readme.py` after changing commands, options or finding
codes; the test suite fails while a generated part differs from what this script writes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
TOP_HELP = "rolloutctl --help"
COMMAND_HELP = "command reference"
VALIDATE_CODES = "validate finding codes"


def help_text(*command: str) -> str:
    """`rolloutctl [command] --help` at a fixed width, as a user's terminal would show it."""
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "rolloutctl", *command, "--help"], env=env,
                            capture_output=True, text=True, check=True)  # fmt: skip
    return result.stdout.rstrip() + "\n"


def command_names() -> list[str]:
    """The commands in the order `rolloutctl --help` lists them."""
    import typer

    from rolloutctl.cli.app import app

    return list(typer.main.get_command(app).commands)


def top_help() -> str:
    return f"```text\n$ rolloutctl --help\n{help_text()}```"


def command_reference() -> str:
    """Each command's help, folded, so the README stays readable."""
    blocks = [
        f"<details><summary><code>rolloutctl {name} --help</code></summary>\n\n"
        f"```text\n$ rolloutctl {name} --help\n{help_text(name)}```\n\n</details>"
        for name in command_names()
    ]
    return "\n\n".join(blocks)


def codes_table() -> str:
    from rolloutctl.validate.report import CODES

    rows = [f"| {code} | {c.severity} | {c.problem} | {c.fix} |" for code, c in CODES.items()]
    return "\n".join(["| code | severity | problem | fix |", "|---|---|---|---|", *rows])


SECTIONS = {TOP_HELP: top_help, COMMAND_HELP: command_reference, VALIDATE_CODES: codes_table}


def render(readme: str) -> str:
    """`readme` with each generated section, between its markers, written afresh."""
    for name, build in SECTIONS.items():
        begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
        if not pattern.search(readme):
            raise SystemExit(f"README.md lacks the markers {begin} ... {end}")
        section = f"{begin}\n{build()}\n{end}"
        readme = pattern.sub(lambda _, section=section: section, readme)
    return readme


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
