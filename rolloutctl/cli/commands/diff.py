"""`rolloutctl diff`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from rolloutctl.cli.options import JsonFlag, PlainFlag, use_plain

if TYPE_CHECKING:
    from rolloutctl.trajectory.diff import DiffResult

__all__ = [
    "diff",
]

EPILOG = (
    "A and B are trajectory files (try --save, replay's formats) or RUN:ROW[:EPOCH] for one "
    "rollout of an eval run. Tool call ids are numbered by order before comparing. When A "
    "and B are both runs (rolloutctl eval runs or Osmosis SDK eval runs, in any mix), every "
    "(row, epoch) is compared: fixed, broken, changed, unchanged or missing.\n\n"
    "Exit status: 0 the same messages (for runs: every row unchanged); 1 they differ; "
    "2 unreadable input.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl diff a.json b.json\n"
    "  rolloutctl diff runs/20261201-120000-arith:3 runs/20261202-090000-arith:3\n"
    "  rolloutctl diff runs/20261201-120000-arith .osmosis/evals/arith"
)


def diff(
    a: Annotated[str, typer.Argument(help="The first trajectory.", show_default=False)],
    b: Annotated[str, typer.Argument(help="The second trajectory.", show_default=False)],
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
) -> int:
    """Show where two rollouts (or two runs, row by row) diverge."""
    from pathlib import Path

    from rolloutctl.eval.locate import is_run, open_rollout
    from rolloutctl.status import ExitStatus
    from rolloutctl.trajectory.diff import diff_sides
    from rolloutctl.trajectory.render import make_console

    if is_run(Path(a)) and is_run(Path(b)):
        return _diff_runs(a, b, json_output, plain)
    result, lines = diff_sides(open_rollout(a), open_rollout(b))
    status = ExitStatus.SUCCESS if result.same else ExitStatus.FAILURE
    if json_output:
        _write_json(a, b, result, lines)
        return status
    console = make_console(use_plain(plain))
    styles = {"+": "green", "-": "red", "@": "cyan"}
    if result.same:
        console.print("same messages", style="green")
    else:
        console.print(f"first difference: turn {result.first_difference}", style="bold")
        for line in lines:
            console.print(line, style=styles.get(line[:1], ""), markup=False)
    for name, (left, right) in result.summary.items():
        console.print(f"{name}: {left} -> {right}", markup=False)
    return status


def _write_json(a: str, b: str, result: DiffResult, lines: Iterator[str]) -> None:
    """The JSON answer written as the diff's lines come: the same bytes as one
    `json.dumps` of the whole object, without holding the lines."""
    import json
    import sys

    head = {"a": a, "b": b, "same": result.same, "first_difference": result.first_difference}
    out = sys.stdout
    out.write(json.dumps(head | {"summary": result.summary})[:-1] + ', "diff": [')
    for k, line in enumerate(lines):
        out.write(", " + json.dumps(line) if k else json.dumps(line))
    out.write("]}\n")


def _diff_runs(a: str, b: str, json_output: bool, plain: bool) -> int:
    """Two runs aligned by (row, epoch): the counts, then each row that is not unchanged."""
    import json
    from pathlib import Path

    from rolloutctl.status import ExitStatus
    from rolloutctl.trajectory.render import make_console
    from rolloutctl.view.compare import CHANGES, compare_paths

    body = compare_paths(Path(a), Path(b))
    same = body["counts"]["unchanged"] == body["total"]
    status = ExitStatus.SUCCESS if same else ExitStatus.FAILURE
    if json_output:
        typer.echo(json.dumps({"a": a, "b": b, "same": same} | body))
        return status
    console = make_console(use_plain(plain))
    counts = ", ".join(f"{body['counts'][name]} {name}" for name in CHANGES)
    console.print(f"{body['total']} rollouts: {counts}", markup=False)
    styles = {"fixed": "green", "broken": "red", "missing": "yellow"}
    for row in body["rows"]:
        if row["change"] != "unchanged":
            line = f"row {row['row']} epoch {row['epoch']}  {row['change']:<8} "
            line += f"{_side(row['a'])} -> {_side(row['b'])}"
            console.print(line, style=styles.get(row["change"], ""), markup=False, soft_wrap=True)
    return status


def _side(side: dict[str, object] | None) -> str:
    if side is None:
        return "(absent)"
    failure = f" ({side['failure']})" if side["failure"] else ""
    return f"{side['status']} reward {side['reward']}{failure}"
