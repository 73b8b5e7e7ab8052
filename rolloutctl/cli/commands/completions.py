"""`rolloutctl completions`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

__all__ = ["EPILOG", "Shell", "completions"]

EPILOG = (
    "Prints the script; load it from your shell's start-up file. Exit status: 0 printed; "
    "2 usage error.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl completions bash > ~/.local/share/bash-completion/completions/rolloutctl\n"
    "  rolloutctl completions zsh > ~/.zfunc/_rolloutctl\n"
    "  rolloutctl completions fish > ~/.config/fish/completions/rolloutctl.fish"
)


class Shell(StrEnum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"


def completions(
    ctx: typer.Context,
    shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.", show_default=False)],
) -> int:
    """Print the shell completion script for bash, zsh or fish."""
    from rolloutctl.cli.completion import completion_script

    typer.echo(completion_script(shell.value, ctx.find_root().command), nl=False)
    return 0
