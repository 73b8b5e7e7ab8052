"""Showing a `rolloutctl check` report: a table on a terminal, aligned lines elsewhere, or JSON.

Plain output keeps one check per line (status, name, reason), so it greps and diffs
well in CI logs, with a check's further details indented below it; `--json` is one
object: the URL, the counts and every check with its status, reason and details.
"""

from __future__ import annotations

import json

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rolloutctl.check.v1.session import CheckStatus
from rolloutctl.check.v1.suite import CHECK_NAMES, CheckReport, CheckResult

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
            for detail in _more(result):
                console.print(f"{'':<{_NAME_WIDTH + 11}}- {detail}", soft_wrap=True, markup=False)
    else:
        console.print(_table(report))
    console.print(_summary(report, plain), soft_wrap=True)


def _table(report: CheckReport) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=f"rolloutctl check {report.server_url}")
    table.add_column("check", style="bold", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for result in report.results:
        status = Text(result.status.value, style=_STYLES[result.status])
        reason = "\n".join([result.reason, *(f"- {detail}" for detail in _more(result))])
        table.add_row(result.name, status, Text(reason))
    return table


def _more(result: CheckResult) -> tuple[str, ...]:
    """The details worth listing: more than the reason already shows."""
    return result.details if len(result.details) > 1 else ()


def _summary(report: CheckReport, plain: bool) -> Text:
    counts = report.counts()
    parts = [f"{counts[s]} {_COUNTED[s]}" for s in CheckStatus]
    verdict = "conformant" if report.passed else "NOT conformant"
    line = f"{report.server_url}: {verdict} ({', '.join(parts)}) in {report.seconds:.1f} s"
    return Text(line, style="" if plain else "bold green" if report.passed else "bold red")
