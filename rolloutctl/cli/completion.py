"""Shell completion scripts, as `rolloutctl completions SHELL` prints them.

A script holds no list of commands or options to go stale: at every TAB the shell runs
`rolloutctl` (found on PATH) with `_ROLLOUTCTL_COMPLETE=complete_<shell>` and the words
typed so far, and the CLI answers from its own definition (`cli.core.raw_main`). The
header records the commands the CLI had when the script was made, so that the copies
committed in completions/ show a new command as a difference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typer._click.core import Command

__all__ = ["COMPLETE_VAR", "PROG", "SHELLS", "completion_script"]

PROG = "rolloutctl"
COMPLETE_VAR = "_ROLLOUTCTL_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str, command: Command) -> str:
    """The completion script for `shell` (one of SHELLS), with its header; `command` is the
    root command of the CLI, passed in so that this module does not import the app."""
    from typer._click.shell_completion import get_completion_class
    from typer._completion_classes import completion_init

    completion_init()
    complete = get_completion_class(shell)
    if complete is None or shell not in SHELLS:
        raise ValueError(f"no completion for {shell!r}: one of {', '.join(SHELLS)}")
    body = complete(command, {}, PROG, COMPLETE_VAR).source().strip()
    header = (
        f"# {PROG} completion for {shell}: `{PROG} completions {shell}` prints it.\n"
        f"# At each TAB it runs `{PROG}` (found on PATH) to ask for the completions.\n"
        f"# Commands when generated: {', '.join(sorted(getattr(command, 'commands', {})))}\n"
    )
    first, _, rest = body.partition("\n")
    if first.startswith("#compdef"):  # zsh reads this tag only on the first line
        return f"{first}\n{header}\n{rest.lstrip()}\n"
    return f"{header}\n{body}\n"
