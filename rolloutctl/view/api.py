"""The JSON routes behind the pages. Each answers from the index and reads only the lines
it shows; every body goes through `safety.shown`; an unknown key is a 404, a bad query
parameter a 400 naming it."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from rolloutctl.errors import InputError
from rolloutctl.trajectory.document import load_trajectory
from rolloutctl.view.compare import compare_runs
from rolloutctl.view.query import QueryError, RowQuery, page_of
from rolloutctl.view.records import answer_of, prompt_of
from rolloutctl.view.rollout import record_view, trajectory_view
from rolloutctl.view.runs import RunState, run_state, runs_list
from rolloutctl.view.safety import shown
from rolloutctl.view.sources import Catalog, Run

__all__ = [
    "ROUTES",
    "api_compare",
    "api_rollout",
    "api_rows",
    "api_run",
    "api_runs",
    "api_state",
    "api_trajectory",
    "catalog_of",
    "find_run",
    "json_response",
    "run_of",
]

EXCERPT_CHARS = 160


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(shown(body)), status, media_type="application/json")


def catalog_of(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


def run_of(request: Request) -> Run:
    """The run named in the URL's path."""
    return find_run(catalog_of(request), request.path_params["key"], "run")


def find_run(catalog: Catalog, key: str, what: str) -> Run:
    """The run `key` (looked for again if new), indexed up to now; 404 naming `what`."""
    if key not in catalog.runs:
        catalog.scan()
    run = catalog.runs.get(key)
    if run is None:
        raise HTTPException(404, f"{what}: no run {key!r}")
    run.index.refresh()
    return run


async def api_runs(request: Request) -> Response:
    catalog = catalog_of(request)
    catalog.scan()
    files = [{"slug": f.key, "name": f.path.name} for f in catalog.files.values()]
    return json_response({"runs": runs_list(catalog, request.app.state.cache), "files": files})


async def api_run(request: Request) -> Response:
    run = run_of(request)
    state: RunState = run_state(run, request.app.state.cache)
    body = {"slug": run.key, "name": run.path.name, "path": str(run.path), "config": run.config()}
    return json_response(body | {"state": state.facts(), "summary": state.summary})


async def api_state(request: Request) -> Response:
    run = run_of(request)
    return json_response(run_state(run, request.app.state.cache).quick())


async def api_rows(request: Request) -> Response:
    run = run_of(request)
    try:
        query = RowQuery.parse(request.query_params)
    except QueryError as exc:
        return json_response({"error": str(exc)}, 400)
    total, positions = page_of(run.index, query)
    rows = [_row_brief(run, p) for p in positions]
    return json_response(
        {"total": total, "page": query.page, "per_page": query.per_page} | {"rows": rows}
    )


def _row_brief(run: Run, position: int) -> dict[str, Any]:
    outcome = run.index.outcomes[position]
    record = run.index.record(position)
    traj = record.get("trajectory") or {}
    return {
        "row": outcome.row,
        "epoch": outcome.epoch,
        "id": record.get("id"),
        "status": outcome.status,
        "failure": run.index.failures[position],
        "reward": outcome.reward,
        "latency_ms": outcome.latency_ms,
        "tokens": outcome.tokens,
        "llm_calls": outcome.llm_calls,
        "violations": outcome.violations,
        "prompt": prompt_of(traj)[:EXCERPT_CHARS],
        "answer": answer_of(traj)[:EXCERPT_CHARS],
    }


async def api_rollout(request: Request) -> Response:
    run = run_of(request)
    key = (request.path_params["row"], request.path_params["epoch"])
    position = run.index.by_key.get(key)
    if position is None:
        raise HTTPException(404, f"run {run.key!r} has no row {key[0]} epoch {key[1]}")
    view = record_view(run.index.record(position))
    view["nav"] = _neighbours(run, key)
    return json_response(view | {"run": {"slug": run.key, "name": run.path.name}})


def _neighbours(run: Run, key: tuple[int, int]) -> dict[str, Any]:
    """The rows before and after `key`, and the failures before and after it."""
    index = run.index
    keys: list[tuple[int, int]] = index.memo("keys", lambda: sorted(index.by_key))
    failed: list[tuple[int, int]] = index.memo(
        "failed keys", lambda: [k for k in keys if index.failures[index.by_key[k]] is not None]
    )
    at, failed_at = bisect_left(keys, key), bisect_left(failed, key)
    following = failed_at + (failed_at < len(failed) and failed[failed_at] == key)
    return {
        "previous": keys[at - 1] if at > 0 else None,
        "next": keys[at + 1] if at + 1 < len(keys) else None,
        "previous_failure": failed[failed_at - 1] if failed_at > 0 else None,
        "next_failure": failed[following] if following < len(failed) else None,
    }


async def api_compare(request: Request) -> Response:
    catalog = catalog_of(request)
    params = request.query_params
    a, b = (find_run(catalog, params.get(side, ""), side) for side in ("a", "b"))
    try:
        query = RowQuery.parse(params)
    except QueryError as exc:
        return json_response({"error": str(exc)}, 400)
    body = compare_runs(a.index, b.index, params.get("changed") == "1", query.page, query.per_page)
    datasets = [run.config().get("dataset") for run in (a, b)]
    sides = {"a": {"slug": a.key, "name": a.path.name}, "b": {"slug": b.key, "name": b.path.name}}
    return json_response(body | sides | {"same_dataset": datasets[0] == datasets[1]})


async def api_trajectory(request: Request) -> Response:
    catalog = catalog_of(request)
    found = catalog.files.get(request.path_params["key"])
    if found is None:
        raise HTTPException(404, "no such trajectory file")
    try:
        traj = load_trajectory(found.path)
    except InputError as exc:
        return json_response({"error": str(exc)}, 422)
    return json_response(
        trajectory_view(traj) | {"file": {"slug": found.key, "name": found.path.name}}
    )


ROUTES = [
    ("/api/runs", api_runs),
    ("/api/runs/{key}", api_run),
    ("/api/runs/{key}/state", api_state),
    ("/api/runs/{key}/rows", api_rows),
    ("/api/runs/{key}/rollouts/{row:int}/{epoch:int}", api_rollout),
    ("/api/compare", api_compare),
    ("/api/trajectories/{key}", api_trajectory),
]
