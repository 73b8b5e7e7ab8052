"""validate on agent code the README invites, and serve's start-up check."""

from __future__ import annotations

import json
import subprocess
import time

import pexpect

from rolloutctl import ToolLoopAgent, tool
from rolloutctl.agent.loader import load_agent
from rolloutctl.validate.blocking import blocking_calls
from rolloutctl.validate.report import Severity
from rolloutctl.validate.validator import blocking_findings, dry_run_request, parameters_findings
from tests.helpers import free_port, rolloutctl_bin, run_cli, run_cli_batch
from tests.validate.helpers import check, codes, write_agent

BLOCKING = '''
import time

from rolloutctl import ToolLoopAgent, tool


@tool
async def fetch(url: str) -> str:
    """Fetch a page."""
    return requests.get(url).text


@tool
def wait(seconds: float) -> str:
    """A sync tool may block: it runs in a thread."""
    time.sleep(seconds)
    return "ok"


class Slow(ToolLoopAgent):
    name = "slow"
    tool_list = (fetch, wait)

    async def run(self, ctx):
        time.sleep(0)
        return await super().run(ctx)


agent = Slow()
'''


def test_blocking_calls_in_async_code_are_warnings_with_their_line(tmp_path):
    agent = load_agent(write_agent(tmp_path, BLOCKING))
    findings = blocking_findings(agent, dry_run_request())
    assert [(f.code, f.tool) for f in findings] == [("V013", None), ("V013", "fetch")]
    assert "run() calls time.sleep at line 25" in findings[0].message
    assert "fetch() calls requests.get at line 10" in findings[1].message
    assert blocking_calls(agent.tool_list[1].func) == []  # type: ignore[attr-defined]  # sync: runs in a thread


@tool
def always_fails(query: str) -> str:
    """Look something up."""
    raise RuntimeError("backend is down")


@tool
def blocks(n: int) -> str:
    """Block longer than the dry run allows."""
    time.sleep(3)
    return "late"


class Failing(ToolLoopAgent):
    name = "failing"
    tool_list = (always_fails, blocks)


def test_the_dry_run_calls_every_tool_and_reports_raises_and_stalls():
    started = time.monotonic()
    report = check_with_timeout(Failing(), 1.0)
    assert time.monotonic() - started < 30
    assert not report["valid"]
    by_code = {f["code"]: f for f in report["findings"]}
    assert by_code["V024"]["tool"] == "always_fails"
    message = by_code["V024"]["message"]
    assert 'RuntimeError: backend is down (called with {"query": "x"})' in message
    assert by_code["V025"]["tool"] == "blocks"


def check_with_timeout(agent, timeout: float) -> dict:
    import asyncio

    from rolloutctl.validate.validator import validate_agent

    return asyncio.run(validate_agent(agent, timeout=timeout)).to_dict()


def test_a_dangling_ref_is_an_error():
    parameters = {
        "type": "object",
        "properties": {"line": {"$ref": "#/$defs/Line"}},
        "required": ["line"],
    }
    errors = [f for f in parameters_findings(parameters, "draw") if f.severity is Severity.ERROR]
    assert [f.code for f in errors] == ["V014"]


PER_ROLLOUT = '''
from rolloutctl import ToolLoopAgent, tool


@tool
def add(a: int, b: int) -> int:
    """Add."""
    return a + b


@tool
def shout(text: str) -> str:
    """Upper-case."""
    return text.upper()


class Toolsets(ToolLoopAgent):
    name = "toolsets"

    def tools(self, request):
        return {"math": [add], "text": [shout]}[request.metadata["toolset"]]


agent = Toolsets()
'''


def test_validate_takes_metadata_for_per_rollout_tools(tmp_path):
    target = write_agent(tmp_path, PER_ROLLOUT)
    bare, result, bad = run_cli_batch(
        ["validate", target, "--json"],
        ["validate", target, "--json", "--metadata", '{"toolset": "text"}'],
        ["validate", target, "--metadata", "[1]"],
    )
    assert "V003" in codes(json.loads(bare.stdout))
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["valid"], report["findings"]
    assert [t["function"]["name"] for t in report["tools"]] == ["shout"]
    assert bad.returncode == 2 and "--metadata must be a JSON object" in bad.stderr


def test_serve_starts_an_agent_whose_tools_need_metadata(tmp_path, trainer):
    import httpx

    target = write_agent(tmp_path, PER_ROLLOUT)
    port = free_port()
    child = pexpect.spawn(
        rolloutctl_bin(), ["serve", target, "--port", str(port)], encoding="utf-8", timeout=30
    )
    try:
        child.expect("per rollout")
        child.expect("Uvicorn running|Application startup complete")
        body = {
            "rollout_id": "m1",
            "server_url": trainer.url,
            "messages": [{"role": "user", "content": "hi"}],
            "metadata": {"toolset": "math"},
        }
        response = httpx.post(f"http://127.0.0.1:{port}/v1/rollout/init", json=body, timeout=30)
        assert [t["function"]["name"] for t in response.json()["tools"]] == ["add"]
        assert trainer.wait("m1")["status"] == "COMPLETED"
    finally:
        child.sendintr()
        child.expect(pexpect.EOF)


INVALID = """
from rolloutctl import Agent, RolloutResult


class SyncRun(Agent):
    name = ""

    def run(self, ctx):
        return RolloutResult()


agent = SyncRun()
"""


def test_serve_refuses_an_agent_validate_rejects_unless_told(tmp_path):
    target = write_agent(tmp_path, INVALID)
    refused = subprocess.run(
        [rolloutctl_bin(), "serve", target, "--port", str(free_port())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "V001" in refused.stderr and "V011" in refused.stderr
    assert "--no-validate" in refused.stderr and "Traceback" not in refused.stderr
    child = pexpect.spawn(
        rolloutctl_bin(),
        ["serve", target, "--no-validate", "--port", str(free_port())],
        encoding="utf-8",
        timeout=30,
    )
    child.expect("Application startup complete")
    child.sendintr()
    child.expect(pexpect.EOF)


def test_the_bundled_examples_still_pass_with_tool_calls():
    for example in ("calculator", "echo"):
        report = json.loads(run_cli("validate", "--example", example, "--json").stdout)
        assert report["valid"] and report["findings"] == [], report["findings"]


def test_check_is_unchanged_for_valid_agents():
    assert check(Failing())["dry_run"] is not None  # the dry rollout still runs
