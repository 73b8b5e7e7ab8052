"""Rewrite the shell completion scripts in completions/ from the CLI.

    uv run python scripts/gen_completions.py            # rewrite completions/
    uv run python scripts/gen_completions.py --out DIR  # write them elsewhere

Run it after adding, renaming or removing a command (tests/cli/test_completions.py
fails until you do). Each file is what `rolloutctl completions SHELL` prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import typer

from rolloutctl.cli.app import app
from rolloutctl.cli.completion import completion_script

FILES = {"bash": "rolloutctl.bash", "zsh": "_rolloutctl", "fish": "rolloutctl.fish"}
REPO = Path(__file__).resolve().parent.parent


def generate(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written, command = [], typer.main.get_command(app)
    for shell, filename in FILES.items():
        path = out / filename
        path.write_text(completion_script(shell, command))
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "completions", help="output folder")
    for path in generate(parser.parse_args().out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
