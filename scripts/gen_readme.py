"""Regenerate the `rolloutctl --help` section of README.md from the real CLI.

Run `uv run python scripts/gen_readme.py` after changing commands; the test suite fails
while the README's section differs from what this script would write.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- BEGIN rolloutctl --help -->", "<!-- END rolloutctl --help -->"


def help_text() -> str:
    """`rolloutctl --help` at a fixed width, as a user's terminal would show it."""
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "rolloutctl", "--help"], env=env,
                            capture_output=True, text=True, check=True)  # fmt: skip
    return result.stdout.rstrip() + "\n"


def render(readme: str) -> str:
    """`readme` with the section between the markers replaced by fresh help output."""
    section = f"{BEGIN}\n```text\n$ rolloutctl --help\n{help_text()}```\n{END}"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(readme):
        raise SystemExit(f"README.md lacks the markers {BEGIN} ... {END}")
    return pattern.sub(lambda _: section, readme)


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
