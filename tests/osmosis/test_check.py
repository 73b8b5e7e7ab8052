"""`check --protocol osmosis` passes conformant 0.3 servers and fails each breaching peer."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import pytest

from rolloutctl.check.v1.session import CheckOptions, CheckStatus
from rolloutctl.osmosis.check.suite import run_osmosis_checks
from tests.helpers import rolloutctl_bin, run_server
from tests.osmosis.peers import BREACHES, build
from tests.osmosis.servers import adapter_server, sdk_server

ROW = re.compile(r"^(PASS|FAIL|SKIP|EXTENSION)\s+(\S+)\s+(.*)$", re.MULTILINE)
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


def check(url: str, *args: str) -> tuple[int, dict[str, tuple[str, str]]]:
    done = subprocess.run(
        [rolloutctl_bin(), "check", "--protocol", "osmosis", url, "--plain", *args],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    rows = {name: (status, reason) for status, name, reason in ROW.findall(done.stdout)}
    return done.returncode, rows


def test_every_breach_has_its_check() -> None:
    assert set(CAUGHT_BY) == set(BREACHES)


def test_rolloutctls_adapter_server_is_conformant(tmp_path: Path) -> None:
    with adapter_server(tmp_path, "--server-key", "inbound-key-1") as url:
        status, rows = check(url, "--server-key", "inbound-key-1")
    assert status == 0, rows
    assert rows["shutdown-503"][0] == "SKIP"
    assert {s for name, (s, _) in rows.items() if name != "shutdown-503"} == {"PASS"}


def test_an_sdk_only_server_passes_all_but_the_sdks_own_key_echo() -> None:
    """FastAPI's default 422 (which the SDK keeps) echoes a body missing a field, its
    llm_api_key included: a finding about osmosis-ai 0.3.8 itself, reported as such."""
    with sdk_server() as url:
        status, rows = check(url)
    assert status == 1
    failed = {name for name, (s, _) in rows.items() if s == "FAIL"}
    assert failed == {"no-key-echo"}, rows
    assert "echoes llm_api_key" in rows["no-key-echo"][1]
    assert "rk-check-" not in rows["no-key-echo"][1]  # the key itself is never shown


@pytest.mark.parametrize("breach", sorted(CAUGHT_BY))
def test_a_breaching_server_fails_its_check(breach: str) -> None:
    """In this process (a real server in a thread) to spare a process start per breach."""
    rule = CAUGHT_BY[breach]
    with run_server(build(breach)) as url:
        report = asyncio.run(run_osmosis_checks(url, CheckOptions(timeout=30, only=(rule,))))
    assert not report.passed
    assert [(r.name, r.status) for r in report.results] == [(rule, CheckStatus.FAIL)]
