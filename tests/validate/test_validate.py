"""`rolloutctl validate`: the real binary on good, broken, unloadable and failing agents."""

from __future__ import annotations

import json
from pathlib import Path

from rolloutctl import Agent, RolloutResult, ToolLoopAgent, tool
from rolloutctl.schema.lint import schema_problems
from tests.helpers import run_cli, run_cli_batch
from tests.validate.helpers import check, codes, write_agent

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BROKEN = """
from rolloutctl import Agent, RolloutResult, tool
from rolloutctl.agent.tools import Tool

@tool(name="bad name")
def lookup(q: str) -> str:
    "Look something up."
    return q

@tool
def twin(x: int) -> str:
    "The first twin."
    return str(x)

@tool(name="twin")
def other_twin(x: int) -> str:
    "The second twin."
    return str(x)

listed = Tool(lambda x: x, name="listed", description="Parameters that are not an object.")
listed.parameters = {"type": "array", "items": {"type": "string"}}

class Broken(Agent):
    name = "broken"

    def tools(self, request):
        return [lookup, twin, other_twin, listed]

    def run(self, ctx):
        return RolloutResult()

agent = Broken()
"""

RAISES = """
from rolloutctl import Agent

class Raises(Agent):
    name = "raises"

    async def run(self, ctx):
        await ctx.chat()
        raise RuntimeError("boom in the agent")

agent = Raises()
"""


def test_bundled_examples_are_valid():
    examples = [("calculator", ["add", "subtract", "multiply", "divide"]), ("echo", [])]
    results = run_cli_batch(*(["validate", "--example", e, "--json"] for e, _ in examples))
    for (example, tools), result in zip(examples, results, strict=True):
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        assert report["valid"] and report["errors"] == 0 and report["agent"] == example
        assert [t["function"]["name"] for t in report["tools"]] == tools
        assert report["dry_run"]["status"] == "COMPLETED"
        assert report["dry_run"]["finish_reason"] == "stop"
        assert report["dry_run"]["violations"] == []


def test_human_report_is_plain_text_on_a_pipe():
    result = run_cli("validate", f"{EXAMPLES / 'calculator.py'}:agent")
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout
    assert "add(a: number, b: number)" in result.stdout
    assert "COMPLETED (stop)" in result.stdout
    assert result.stdout.strip().endswith("valid: 0 error(s), 0 warning(s)")


def test_broken_agent_gets_each_code_and_exit_1(tmp_path):
    result = run_cli("validate", write_agent(tmp_path, BROKEN), "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert not report["valid"]
    assert codes(report) == {"V005", "V006", "V008", "V011"}
    assert report["dry_run"] is None  # not run while static errors remain
    for finding in report["findings"]:
        assert finding["severity"] == "error" and finding["fix"] and "\n" not in finding["fix"]
    tools = {f["code"]: f["tool"] for f in report["findings"]}
    assert tools["V005"] == "bad name" and tools["V006"] == "twin" and tools["V008"] == "listed"


def test_unloadable_targets_exit_2_with_one_line(tmp_path):
    not_an_agent = tmp_path / "plain.py"
    not_an_agent.write_text("agent = 42\n")
    for result in run_cli_batch(
        ["validate", "no_such_module_xyz:agent", "--json"],
        ["validate", f"{not_an_agent}:agent", "--json"],
        ["validate", str(tmp_path / "absent.py"), "--json"],
        ["validate", "--example", "nope", "--json"],
        ["validate", "--json"],
    ):
        assert result.returncode == 2, (result.args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert result.stdout == ""


def test_agent_that_raises_fails_the_dry_rollout(tmp_path):
    result = run_cli("validate", write_agent(tmp_path, RAISES), "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert codes(report) == {"V021"}
    assert report["dry_run"]["status"] == "ERROR"
    assert report["dry_run"]["error_category"] == "agent_error"
    assert "boom in the agent" in report["findings"][0]["message"]
    assert "Traceback" not in result.stderr


@tool
def undocumented(x: int) -> str:
    return str(x)


@tool
def with_object_default(when: str = "now") -> str:
    """Has a default that is not JSON."""
    return when


with_object_default.parameters["properties"]["when"]["default"] = object()


class Unnamed(ToolLoopAgent):
    tool_list = (undocumented,)


class NoRun(Agent):
    name = "no-run"

    def tools(self, request):
        return [with_object_default]


class ToolsRaise(Agent):
    name = "tools-raise"

    def tools(self, request):
        raise LookupError("no tools today")

    async def run(self, ctx):
        return RolloutResult()


class NotTools(ToolsRaise):
    def tools(self, request):
        return ["add"]


class RewritesHistory(Agent):
    name = "rewrites"

    async def run(self, ctx):
        reply = await ctx.chat()
        return RolloutResult(messages=[reply.message])  # drops the initial messages


def test_warnings_alone_keep_an_agent_valid():
    report = check(Unnamed())
    assert codes(report) == {"V002", "V007"}
    assert report["valid"] and report["warnings"] == 2
    assert report["dry_run"]["status"] == "COMPLETED"


def test_missing_run_and_non_json_schema():
    assert codes(check(NoRun())) == {"V010", "V012"}


def test_tools_that_raise_or_are_not_tools():
    raised = check(ToolsRaise())
    assert codes(raised) == {"V003"} and "LookupError: no tools today" in str(raised)
    assert codes(check(NotTools())) == {"V004"}


def test_protocol_violation_of_the_dry_rollout_is_an_error():
    report = check(RewritesHistory())
    assert codes(report) == {"V023"}
    assert "final_messages_not_extending" in report["findings"][0]["message"]
    assert report["dry_run"]["status"] == "COMPLETED" and not report["valid"]


def test_schema_problems_name_the_path():
    good = {
        "type": "object",
        "properties": {
            "a": {"type": ["string", "null"]},
            "b": {"anyOf": [{"type": "integer"}, True]},
        },
        "required": ["a"],
        "additionalProperties": False,
    }
    assert schema_problems(good) == []
    bad = {
        "type": "object",
        "properties": {"a": {"type": "float"}, "b": {"items": "x"}},
        "required": "a",
        "oneOf": [],
        "description": 3,
    }
    assert schema_problems(bad) == [
        "parameters.required: must be a list of property names",
        "parameters.description: must be a string, not int",
        "parameters.properties.a.type: 'float' is not a JSON Schema type",
        "parameters.properties.b.items: a schema must be an object or a boolean, not str",
        "parameters.oneOf: must be a non-empty list of schemas",
    ]
