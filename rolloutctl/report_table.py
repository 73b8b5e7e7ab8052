"""Two-column summaries (eval, bench): a rich table on a terminal, plain lines with --plain.

`--plain` promises no colour and no boxes: its lines are for `grep`, `cat -A` and diffs,
so they carry no box drawing and no padding after the last character.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from rolloutctl.trajectory.text import visible

__all__ = ["plain_rows", "print_rows"]


def print_rows(console: Console, title: str, rows: Sequence[tuple[str, str]], plain: bool) -> None:
    """Print `rows` of (label, value) under `title`."""
    if plain:
        console.file.write(visible(plain_rows(title, rows)))  # values hold server text
        console.file.flush()
        return
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)


def plain_rows(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """The title, then each label padded to one width and its value; a value's further
    lines are indented under its first."""
    width = max((len(label) for label, _ in rows), default=0)
    lines = [title]
    for label, value in rows:
        first, *rest = value.splitlines() or [""]
        lines.append(f"{label:<{width}}  {first}".rstrip())
        lines += [f"{'':<{width}}  {line}".rstrip() for line in rest]
    return "\n".join(lines) + "\n"
