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

from rolloutctl.check.base import CheckStatus
from rolloutctl.check.engine import INTERNAL
from rolloutctl.check.results import CheckReport, CheckResult

__all__ = ["render_check_report", "report_json"]

_ALWAYS = (CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.SKIP, CheckStatus.EXTENSION)
_STYLES = {
    CheckStatus.PASS: "bold green",
    CheckStatus.FAIL: "bold red",
    CheckStatus.ADVISORY: "bold magenta",
    CheckStatus.WARN: "yellow",
    CheckStatus.SKIP: "yellow",
    CheckStatus.EXTENSION: "cyan",
    CheckStatus.ERROR: "bold red reverse",
}
_COUNTED = {
    CheckStatus.PASS: "passed",
    CheckStatus.FAIL: "failed",
    CheckStatus.ADVISORY: "security advisory(ies)",
    CheckStatus.WARN: "lint warning(s)",
    CheckStatus.SKIP: "skipped",
    CheckStatus.EXTENSION: "extension(s) not offered",
    CheckStatus.ERROR: "internal error(s)",
}


def report_json(report: CheckReport) -> str:
    return json.dumps(report.to_json(), indent=2)


def render_check_report(report: CheckReport, console: Console, plain: bool) -> None:
    """The rows, then one summary line; `plain` gives lines without boxes or colour."""
    if plain:
        width = max(len(result.name) for result in report.results)
        for result in report.results:
            line = f"{result.status.value:<9}  {result.name:<{width}}  {result.reason}"
            console.print(line, soft_wrap=True, markup=False)
            for detail in _more(result):
                console.print(f"{'':<{width + 11}}- {detail}", soft_wrap=True, markup=False)
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
    """Conformance first; advisories and warnings counted beside it, and whether they
    failed the run (`--strict`); an internal error says whose bug it is."""
    counts = report.counts()
    parts = [f"{counts[s]} {_COUNTED[s]}" for s in CheckStatus if counts[s] or s in _ALWAYS]
    verdict = "conformant" if report.conformant else "NOT conformant"
    if report.conformant and not report.passed and counts[CheckStatus.ERROR] == 0:
        verdict += " (but --strict fails advisories and warnings)"
    line = f"{report.server_url}: {verdict} ({', '.join(parts)}) in {report.seconds:.1f} s"
    if counts[CheckStatus.ERROR]:
        line += f"\n{INTERNAL}: see the ERROR row(s)"
    return Text(line, style="" if plain else "bold green" if report.passed else "bold red")
