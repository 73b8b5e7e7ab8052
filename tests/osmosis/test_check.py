"""`check --protocol osmosis` passes conformant 0.3 servers and fails each breaching peer."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from rolloutctl.check.base import CheckOptions, CheckStatus
from rolloutctl.check.engine import run_checks
from rolloutctl.osmosis.check.adapter import OsmosisAdapter
from tests.helpers import run_server
from tests.osmosis.peers import BREACHES, build
from tests.osmosis.servers import adapter_server, cli_at_once, sdk_server, template_server

ROW = re.compile(r"^(PASS|FAIL|ADVISORY|WARN|SKIP|EXTENSION|ERROR)\s+(\S+)\s+(.*)$", re.MULTILINE)
CAUGHT_BY = {  # each peer breaks one rule; this check must fail it
    "no-bearer": "chat-bearer",
    "rewrites-history": "append-only",
    "status-200": "admission",
    "no-409": "duplicate-409",
    "bad-body-400": "bad-body-422",
    "health-shape": "health",
    "cancel-ignored": "cancel",
    "lease-ignored": "lease",
    "admits-while-closed": "shutdown-503",
}


Checked = tuple[int, dict[str, tuple[str, str]], str]


def check(url: str, *args: str) -> Checked:
    return checks_at_once(url, list(args))[0]


def checks_at_once(url: str, *runs: list[str]) -> list[Checked]:
    """`check --protocol osmosis URL --plain ARGS` for each of `runs`, at the same time:
    (exit status, rows by check name, output) each."""
    command = ["check", "--protocol", "osmosis", url, "--plain"]
    return [
        (done.returncode, table(done.stdout), done.stdout + done.stderr)
        for done in cli_at_once(*([*command, *args] for args in runs))
    ]


def table(stdout: str) -> dict[str, tuple[str, str]]:
    return {name: (status, reason) for status, name, reason in ROW.findall(stdout)}


def test_every_breach_has_its_check() -> None:
    assert set(CAUGHT_BY) == set(BREACHES)


def test_rolloutctls_adapter_server_is_conformant(tmp_path: Path) -> None:
    with adapter_server(tmp_path, "--server-key", "inbound-key-1") as url:
        (status, rows, _), keyless = checks_at_once(url, ["--server-key", "inbound-key-1"], [])
        assert keyless[::2] == (2, f"rolloutctl: error: {url} answers HTTP 401: it wants its "
                                   "inbound key; give it with --server-key\n")  # fmt: skip
    assert status == 0, rows
    assert rows["shutdown-503"][0] == "SKIP"
    assert {s for name, (s, _) in rows.items() if name != "shutdown-503"} == {"PASS"}


def test_an_sdk_only_server_is_conformant_with_one_advisory_the_sdks_own_key_echo() -> None:
    """FastAPI's default 422 (which the SDK keeps) echoes a body missing a field, its
    llm_api_key included: a security finding about osmosis-ai 0.3.8 itself, not a rule of
    the protocol, so an advisory: exit 0, and 1 only with --strict."""
    with sdk_server() as url:
        (status, rows, output), strict = checks_at_once(
            url, [], ["--only", "no-key-echo", "--strict"]
        )
    assert status == 0, output
    advised = {name for name, (s, _) in rows.items() if s == "ADVISORY"}
    assert advised == {"no-key-echo"}, rows
    assert {s for name, (s, _) in rows.items() if name not in advised} <= {"PASS", "SKIP"}
    assert "echoes llm_api_key" in rows["no-key-echo"][1]
    assert "rk-check-" not in output  # the key itself is never shown
    assert ": conformant (" in output and "1 security advisory(ies)" in output
    assert strict[0] == 1 and strict[1]["no-key-echo"][0] == "ADVISORY"


@pytest.mark.parametrize("breach", sorted(CAUGHT_BY))
def test_a_breaching_server_fails_its_check(breach: str) -> None:
    """In this process (a real server in a thread) to spare a process start per breach."""
    rule = CAUGHT_BY[breach]
    with run_server(build(breach)) as url:
        options = CheckOptions(timeout=30, only=(rule,))
        report = asyncio.run(run_checks(OsmosisAdapter(), url, options))
    assert not report.passed
    assert [(r.name, r.status) for r in report.results] == [(rule, CheckStatus.FAIL)]


def test_a_server_built_as_the_sdks_template_builds_one_passes_with_one_advisory(
    tmp_path: Path,
) -> None:
    """`create_rollout_server`, an `AgentWorkflow` and a `Grader`, the SDK's defaults
    untouched: conformant (exit 0), its default 422's key echo the one advisory."""
    with template_server(tmp_path) as url:
        status, rows, output = check(url)
    assert status == 0, output
    assert [name for name, (s, _) in rows.items() if s == "ADVISORY"] == ["no-key-echo"], rows
    assert {s for name, (s, _) in rows.items() if name != "no-key-echo"} <= {"PASS", "SKIP"}
    assert rows["tools-every-request"][0] == "PASS"  # it sends its tools with every request
    assert ": conformant (" in output and "1 security advisory(ies)" in output
