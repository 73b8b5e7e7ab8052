"""Showing a `rolloutctl check` report: a table on a terminal, aligned lines elsewhere, or JSON.

Plain output keeps one check per line (status, name, reason), so it greps and diffs
well in CI logs; `--json` is the same rows as a list of {name, status, reason}.
"""

from __future__ import annotations

import json

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rolloutctl.check.session import CheckStatus
from rolloutctl.check.suite import CHECK_NAMES, CheckReport

__all__ = ["render_check_report", "report_json"]

_STYLES = {
    CheckStatus.PASS: "bold green",
    CheckStatus.FAIL: "bold red",
    CheckStatus.SKIP: "yellow",
    CheckStatus.EXTENSION: "cyan",
}
_COUNTED = {
    CheckStatus.PASS: "passed",
    CheckStatus.FAIL: "failed",
    CheckStatus.SKIP: "skipped",
    CheckStatus.EXTENSION: "extension(s) not offered",
}
_NAME_WIDTH = max(len(name) for name in CHECK_NAMES)


def report_json(report: CheckReport) -> str:
    return json.dumps(report.to_json(), indent=2)


def render_check_report(report: CheckReport, console: Console, plain: bool) -> None:
    """The rows, then one summary line; `plain` gives lines without boxes or colour."""
    if plain:
        for result in report.results:
            line = f"{result.status.value:<9}  {result.name:<{_NAME_WIDTH}}  {result.reason}"
            console.print(line, soft_wrap=True, markup=False)
    else:
        console.print(_table(report))
    console.print(_summary(report, plain))


def _table(report: CheckReport) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=f"rolloutctl check {report.server_url}")
    table.add_column("check", style="bold", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for result in report.results:
        status = Text(result.status.value, style=_STYLES[result.status])
        table.add_row(result.name, status, Text(result.reason))
    return table


def _summary(report: CheckReport, plain: bool) -> Text:
    counts = {status: 0 for status in CheckStatus}
    for result in report.results:
        counts[result.status] += 1
    parts = [
        f"{counts[s]} {_COUNTED[s]}"
        for s in CheckStatus
        if counts[s] or s in (CheckStatus.PASS, CheckStatus.FAIL)
    ]
    verdict = "conformant" if report.passed else "NOT conformant"
    line = f"{report.server_url}: {verdict} ({', '.join(parts)}) in {report.seconds:.1f} s"
    return Text(line, style="" if plain else "bold green" if report.passed else "bold red")
