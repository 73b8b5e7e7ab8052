"""The viewer over HTTP: only what the paths hold, on 127.0.0.1, and the CLI's answers."""

from __future__ import annotations

import http.client
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from rolloutctl.trajectory.document import save_trajectory
from rolloutctl.view import Catalog, create_app
from tests.eval.conftest import records
from tests.helpers import CLI_BOUND, free_port, rolloutctl_bin, run_cli, run_cli_batch, run_server
from tests.view.conftest import Runs

TRAVERSALS = [
    "/static/../pyproject.toml",
    "/static/..%2F..%2F..%2Fpyproject.toml",
    "/static/%2e%2e/app.py",
    "/static/index.html/../../sources.py",
    "/run/..",
    "/run/..%2F..%2Fetc",
    "/run/run-a/../../../../etc/passwd",
    "/api/runs/..",
    "/api/runs/..%2Frun-a/rows",
    "/api/runs/run-a/rollouts/0/0/../../../../../config.json",
    "/api/trajectories/..%2Frun-a%2Fconfig.json",
    "/trajectory/..",
    "/etc/passwd",
    "/run-a/config.json",
]


def raw_get(base: str, path: str, host: str | None = None) -> tuple[int, bytes]:
    """GET with the path sent exactly as written (no client-side normalising)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=60)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", host or parts.netloc)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("path", TRAVERSALS)
def test_paths_outside_what_was_given_are_404(viewer: str, path: str) -> None:
    status, body = raw_get(viewer, path)
    assert status == 404, (path, body[:200])
    assert b"root:" not in body and b"[project]" not in body and b"dataset" not in body


def test_the_assets_and_pages_that_exist_are_served(viewer: str) -> None:
    for path in ("/", "/run/run-a", "/run/run-a/row/3/0", "/compare?a=run-a&b=run-b"):
        status, body = raw_get(viewer, path)
        assert status == 200 and b'<script src="/static/app.js">' in body, path
    status, body = raw_get(viewer, "/static/app.js")
    assert status == 200 and b"textContent" in body and b"innerHTML" not in body


def test_only_local_host_names_are_answered(viewer: str) -> None:
    """A page of another site that rebinds its name to 127.0.0.1 cannot read the runs."""
    status, _ = raw_get(viewer, "/api/runs", host="attacker.example")
    assert status == 400
    port = urlsplit(viewer).port
    assert raw_get(viewer, "/api/runs", host=f"localhost:{port}")[0] == 200


def test_it_listens_on_loopback_only(viewer: str) -> None:
    port = urlsplit(viewer).port
    listening = [
        line.split()[1]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[3] == "0A"  # LISTEN
    ]
    assert f"0100007F:{port:04X}" in listening
    assert f"00000000:{port:04X}" not in listening


def test_bad_query_parameters_are_400_naming_them(viewer: str) -> None:
    for query, name in (("sort=nope", "sort"), ("min_reward=x", "min_reward"), ("page=0", "page")):
        response = httpx.get(f"{viewer}/api/runs/run-a/rows?{query}", timeout=60)
        assert response.status_code == 400 and response.json()["error"].startswith(name)


def test_trajectory_files_native_and_atif_open(runs: Runs, tmp_path: Path) -> None:
    record = next(r for r in records(runs.a) if r["row"] == 8)
    save_trajectory(tmp_path / "saved.json", record["trajectory"])
    (tmp_path / "notes.json").write_text('{"unrelated": true}')
    exported = run_cli("export", str(runs.a), "--format", "atif", "-o", str(tmp_path / "atif"))
    assert exported.returncode == 0, exported.stderr
    atif = f"{record['rollout_id']}-trajectory.json"
    with run_server(create_app(Catalog([tmp_path, tmp_path / "atif"]))) as url:
        files = httpx.get(url + "/api/runs", timeout=60).json()["files"]
        slugs = {f["slug"] for f in files}
        assert "saved.json" in slugs and atif in slugs and len(slugs) == 13
        for slug in ("saved.json", atif):
            view = httpx.get(f"{url}/api/trajectories/{slug}", timeout=60).json()
            calls = [c for turn in view["turns"] for c in turn["calls"]]
            assert [c["name"] for c in calls] == ["divide"] and calls[0]["error"], slug
            assert "could not finish" in view["answer"]
        assert httpx.get(url + "/trajectory/saved.json", timeout=60).status_code == 200


def test_cli_mistakes_are_one_line_with_their_exit_code(tmp_path: Path) -> None:
    with run_server(create_app(Catalog([tmp_path]))) as url:
        missing, taken = run_cli_batch(  # one process: neither starts serving
            ["view", str(tmp_path / "nowhere")],
            ["view", str(tmp_path), "--port", str(urlsplit(url).port)],
        )
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "no such file or directory" in missing.stderr
    assert taken.returncode == 3 and "already in use" in taken.stderr


def test_run_colon_row_opens_that_rollout(runs: Runs) -> None:
    port = free_port()
    process = subprocess.Popen(
        [rolloutctl_bin(), "view", f"{runs.a}:9", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "1 run (12 rollouts), 0 trajectory files" in process.stdout.readline()
        url = process.stdout.readline().strip()
        assert url == f"http://127.0.0.1:{port}/run/run-a/row/9/0"
        body = httpx.get(url.replace("/run/", "/api/runs/").replace("/row/", "/rollouts/"))
        assert body.json()["facts"]["id"] == "q9"
    finally:
        process.terminate()
        process.wait(timeout=CLI_BOUND)
