"""Regenerate the documentation's generated parts from the code: the top-level
`rolloutctl --help` in README.md, the table of `validate`'s finding codes in
docs/commands.md, the table of environment variables in docs/configuration.md, the
metric names in docs/observing.md, and the whole of docs/reference.md (every command's
`--help`).

Run `uv run python scripts/gen_readme.py` after changing commands, options or finding
codes; the test suite fails while a generated part differs from what this script writes.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
COMMANDS = ROOT / "docs" / "commands.md"
REFERENCE = ROOT / "docs" / "reference.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
OBSERVING = ROOT / "docs" / "observing.md"
TOP_HELP = "rolloutctl --help"
LAYOUT = "layout"
VALIDATE_CODES = "validate finding codes"
ENV_VARS = "environment variables"
METRIC_NAMES = "metric names"


@functools.cache
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


def help_block(*command: str) -> str:
    return f"```text\n$ {' '.join(('rolloutctl', *command))} --help\n{help_text(*command)}```"


def top_help() -> str:
    return help_block()


def reference() -> str:
    """docs/reference.md: every command's help, in the order of `rolloutctl --help`."""
    names = command_names()
    with ThreadPoolExecutor(4) as pool:  # each help is a process that mostly imports
        blocks = list(pool.map(help_block, names))
    parts = [
        "# Command reference\n\nEvery command's `--help`, generated from the CLI by "
        "`scripts/gen_readme.py` (a test\nfails when this file is stale; do not edit it by "
        "hand). What each command is for, with\nexamples, is in [commands.md](commands.md).",
        f"## `rolloutctl`\n\n{help_block()}",
        *(f"## `rolloutctl {name}`\n\n{block}" for name, block in zip(names, blocks, strict=True)),
    ]
    return "\n\n".join(parts) + "\n"


def codes_table() -> str:
    from rolloutctl.validate.report import CODES

    rows = [f"| {code} | {c.severity} | {c.problem} | {c.fix} |" for code, c in CODES.items()]
    return "\n".join(["| code | severity | problem | fix |", "|---|---|---|---|", *rows])


def env_table() -> str:
    """Every variable an option reads, with the option and the commands that have it."""
    import typer

    from rolloutctl.cli.app import app

    uses: dict[tuple[str, str], list[str]] = {}
    for name, command in typer.main.get_command(app).commands.items():
        for param in command.params:
            envvars = [param.envvar] if isinstance(param.envvar, str) else param.envvar or []
            flags = [opt for opt in param.opts if opt.startswith("--")]
            if envvars and flags:
                shown = ", ".join(f"`{var}`" for var in envvars)
                uses.setdefault((shown, flags[0]), []).append(name)
    rows = [
        f"| {variable} | `{flag}` | {', '.join(commands)} |"
        for (variable, flag), commands in sorted(uses.items())
    ]
    return "\n".join(["| variable | option | commands |", "|---|---|---|", *rows])


def metrics_table() -> str:
    from rolloutctl.observe.names import metrics_table as table

    return table()


def render(text: str, sections: dict[str, Callable[[], str]]) -> str:
    """`text` with each generated section, between its markers, written afresh."""
    for name, build in sections.items():
        begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
        if not pattern.search(text):
            raise SystemExit(f"the markers {begin} ... {end} are missing")
        section = f"{begin}\n{build()}\n{end}"
        text = pattern.sub(lambda _, section=section: section, text)
    return text


def layout() -> str:
    """The package's folders, each with the first line of its docstring, and the path of
    one rollout through them: the architecture as the tree shows it."""
    import ast

    package = ROOT / "rolloutctl"
    folders = sorted(p for p in package.iterdir() if (p / "__init__.py").is_file())
    width = max(len(p.name) for p in folders) + 1
    lines = ["rolloutctl/"]
    for index, folder in enumerate(folders):
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text())) or ""
        paragraph = " ".join(doc.split("\n\n")[0].split())
        first = paragraph.split(". ")[0].rstrip(".:")
        first = first if len(first) <= 84 else first[:83].rsplit(" ", 1)[0] + " …"
        branch = "└──" if index == len(folders) - 1 else "├──"
        lines.append(f"{branch} {folder.name + '/':<{width}} {first}")
    return "```text\n" + "\n".join(lines) + "\n```"


def generated() -> dict[Path, str]:
    """Each documentation file with a generated part, as this script would write it."""
    return {
        README: render(README.read_text(), {TOP_HELP: top_help, LAYOUT: layout}),
        COMMANDS: render(COMMANDS.read_text(), {VALIDATE_CODES: codes_table}),
        CONFIGURATION: render(CONFIGURATION.read_text(), {ENV_VARS: env_table}),
        REFERENCE: reference(),
        OBSERVING: render(OBSERVING.read_text(), {METRIC_NAMES: metrics_table}),
    }


if __name__ == "__main__":
    for path, text in generated().items():
        path.write_text(text)
