"""`rolloutctl check` against a peer that behaves like the Osmosis SDK 0.2.7 server.

Each rule is judged on its own: the peer's true deviations fail their checks (or get a
note, for /health), its schema quirks that real trainers accepted are lint warnings, its
echoed key is a security advisory, and nothing else fails because of them.
"""

from __future__ import annotations

import asyncio
import json
import subprocess

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rolloutctl.check.base import CheckOptions
from rolloutctl.check.engine import run_checks
from rolloutctl.check.v1.adapter import V1Adapter
from rolloutctl.check.v1.names import CHECK_NAMES
from tests.helpers import rolloutctl_bin, run_server
from tests.peers.sdk027 import Sdk027Peer

DEVIATIONS = {"init-defaults", "completion-params", "chat-4xx", "bad-init-422"}


def test_check_fails_exactly_the_true_deviations_of_the_sdk027_server():
    with run_server(Sdk027Peer().app) as url:
        result = subprocess.run([rolloutctl_bin(), "check", url, "--json"],
                                capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    checks = {row["name"]: row for row in report["checks"]}
    statuses = {name: row["status"] for name, row in checks.items()}
    expected = {name: "FAIL" if name in DEVIATIONS else "PASS" for name in CHECK_NAMES}
    assert statuses == expected | {"status-endpoint": "EXTENSION", "init-tools": "WARN"}, report
    assert report["counts"] == {"PASS": 11, "FAIL": 4, "ADVISORY": 0, "WARN": 1, "SKIP": 0,
                                "EXTENSION": 1, "ERROR": 0}  # fmt: skip
    assert report["url"] == url and report["passed"] is False

    assert "'agent_loop'" in checks["health"]["reason"]
    tools = checks["init-tools"]
    assert tools["reason"].startswith("tool 'add': parameters.properties.a.enum: null")
    assert tools["reason"].endswith("(+15 more)")
    assert len(tools["details"]) == 20  # every finding, none hidden behind "+N more"
    warned = [d for d in tools["details"] if d.startswith("warning: ")]
    assert (
        sum("enum: null" in d for d in warned) == sum("description: null" in d for d in warned) == 8
    )
    assert sum(d.startswith("note: ") and "function.strict" in d for d in tools["details"]) == 4
    for name in ("tool-rollout", "max-turns", "max-tokens"):  # the tools are called all the same
        assert checks[name]["status"] == "PASS", checks[name]
    assert "add" in checks["tool-rollout"]["reason"]
    assert "completion_params" in checks["init-defaults"]["reason"]
    params = " | ".join(checks["completion-params"]["details"])
    for found in ("seed", "replaced the protocol's model", "adds logprobs, max_tokens"):
        assert found in params
    errors = " | ".join(checks["chat-4xx"]["details"])
    assert "error_category None" in errors and "final_messages has 0 messages" in errors
    refusals = checks["bad-init-422"]["details"]
    assert "max_turns 0: accepted (HTTP 202), expected 422" in refusals
    advisory = "security advisory: rollout_id missing: the HTTP 422 response echoes the api_key"
    assert advisory in refusals
    assert not any("refused init started" in detail for detail in refusals)
    assert "rk-check-" not in result.stdout  # the secret the 422 echoed is never shown


async def refuse(request: Request) -> JSONResponse:
    return JSONResponse({"detail": "this server is closed for inits"}, status_code=422)


async def healthy(request: Request) -> JSONResponse:
    return JSONResponse({"status": "healthy"})


def test_checks_whose_precondition_fails_are_skipped_with_the_reason():
    app = Starlette(routes=[Route("/health", healthy),
                            Route("/v1/rollout/init", refuse, methods=["POST"])])  # fmt: skip
    only = ("health", "init-tools", "init-defaults", "no-tool-rollout", "bearer", "tool-rollout")
    with run_server(app) as url:
        report = asyncio.run(run_checks(V1Adapter(), url, CheckOptions(only=only, linger=0.2)))
    rows = {r.name: r for r in report.results}
    assert rows["health"].status == "PASS" and len(rows["health"].details) == 3
    assert rows["init-tools"].status == "FAIL" and "422" in rows["init-tools"].reason
    for name in ("init-defaults", "no-tool-rollout", "bearer"):
        assert rows[name].status == "SKIP", rows[name]
        assert rows[name].reason.startswith("not tested: the init was refused (init refused")
    assert rows["tool-rollout"].status == "SKIP"
    assert "cannot learn the tools" in rows["tool-rollout"].reason


def test_try_against_the_sdk027_server_answers_16_without_violations():
    with run_server(Sdk027Peer().app) as url:
        result = subprocess.run([rolloutctl_bin(), "try", "--server-url", url, "--json"],
                                capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    trajectory = json.loads(result.stdout)
    assert trajectory["violations"] == [] and len(trajectory["turns"]) == 3
    assert "16" in trajectory["completion"]["final_messages"][-1]["content"]
