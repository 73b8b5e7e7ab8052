"""Running the viewer: index what the paths hold, bind, print the URL, serve until Ctrl-C.

The index is built before the URL is printed, so the first page a user opens answers
at once. A single run (or one row of it, `RUN:ROW[:EPOCH]`) opens on its own page.
"""

from __future__ import annotations

import contextlib
import re
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from rolloutctl.errors import InputError
from rolloutctl.net.sockets import bind_socket, socket_url
from rolloutctl.view.app import create_app
from rolloutctl.view.query import RowQuery, page_of
from rolloutctl.view.runs import run_state
from rolloutctl.view.sources import Catalog

__all__ = ["ViewTarget", "parse_targets", "serve_view", "start_path"]

_ROW_SPEC = re.compile(r"^(?P<path>.+):(?P<row>\d+)(?::(?P<epoch>\d+))?$")


@dataclass(frozen=True)
class ViewTarget:
    paths: list[Path]
    row: tuple[int, int] | None = None  # (row, epoch) to open, for RUN:ROW[:EPOCH]


def parse_targets(specs: list[str]) -> ViewTarget:
    """PATHs as given (the current directory for none); one `RUN:ROW[:EPOCH]` opens a row."""
    if not specs:
        return ViewTarget([Path.cwd()])
    paths, row = [], None
    for spec in specs:
        match = _ROW_SPEC.match(spec)
        if match and not Path(spec).exists() and Path(match["path"]).is_dir():
            paths.append(Path(match["path"]))
            row = (int(match["row"]), int(match["epoch"] or 0))
        else:
            paths.append(Path(spec))
    if row is not None and len(paths) > 1:
        raise InputError("RUN:ROW opens one row of one run: give no other path with it")
    return ViewTarget(paths, row)


def start_path(catalog: Catalog, row: tuple[int, int] | None) -> str:
    """The page to open first: the one run (or its row) if only one was given, else the list."""
    if len(catalog.runs) == 1 and not catalog.files:
        (key,) = catalog.runs
        return f"/run/{key}/row/{row[0]}/{row[1]}" if row else f"/run/{key}"
    if len(catalog.files) == 1 and not catalog.runs:
        (key,) = catalog.files
        return f"/trajectory/{key}"
    return "/"


def _check_row(catalog: Catalog, target: ViewTarget) -> None:
    """`RUN:ROW[:EPOCH]` must name one run and, once that run is finished, one of its rows:
    a mistake ends here in one line, as in `replay`, not on a page that finds nothing."""
    if target.row is None:
        return
    if len(catalog.runs) != 1:
        raise InputError(f"{target.paths[0]}: holds {len(catalog.runs)} runs; RUN:ROW names one")
    (run,) = catalog.runs.values()
    if target.row not in run.index.by_key and not run.in_progress():
        row, epoch = target.row
        raise InputError(f"{target.paths[0]}: no result for row {row} epoch {epoch}")


def serve_view(
    target: ViewTarget, host: str, port: int, open_browser: bool, say: Callable[[str], None]
) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn's own handlers end the run cleanly)."""
    catalog = Catalog(target.paths)
    catalog.refresh()
    _check_row(catalog, target)
    app = create_app(catalog, host)
    for run in catalog.runs.values():  # each run page answers at once, the first time too
        run_state(run, app.state.cache)
        page_of(run.index, RowQuery())
    sock = bind_socket(host, port)
    url = socket_url(host, sock) + start_path(catalog, target.row)
    runs, files = len(catalog.runs), len(catalog.files)
    rollouts = sum(len(run.index) for run in catalog.runs.values())
    say(
        f"rolloutctl view: {_count(runs, 'run')} ({_count(rollouts, 'rollout')}),"
        f" {_count(files, 'trajectory file')}"
    )
    say(url)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, [url]).start()
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, ws="none"))
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])


def _count(number: int, noun: str) -> str:
    """`1 run`, `2 runs`."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
