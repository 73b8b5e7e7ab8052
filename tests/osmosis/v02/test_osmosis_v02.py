"""An agent written for the Osmosis SDK 0.2 API, served by rolloutctl after one changed import.

The ported calculator loop (`calculator_v02.py`) goes through the five commands as a user
runs them (the real binary, real servers); a small loop written here pins the 0.2
behaviours the protocol needs: per-call sampling kwargs, `ctx.error`, the trainer's extras.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from rolloutctl.agent.context import RolloutRequest as AgentRequest
from rolloutctl.agent.loader import load_agent
from rolloutctl.errors import TargetError
from rolloutctl.osmosis.v02 import (
    CompletionsResult,
    LoopAgent,
    RolloutAgentLoop,
    RolloutContext,
    RolloutRequest,
    RolloutResult,
    create_app,
)
from tests.helpers import free_port, rolloutctl_bin, run_server
from tests.recording_trainer import assistant

MODULE = Path(__file__).with_name("calculator_v02.py")
TARGETS = (f"{MODULE}:CalculatorAgentLoop", f"{MODULE}:app")


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([rolloutctl_bin(), *args], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def test_the_ported_module_differs_only_by_its_import_line():
    code = MODULE.read_text().split('"""', 2)[2]  # after the docstring
    assert code.count("rolloutctl") == 1
    assert "from rolloutctl.osmosis.v02 import (" in code


@pytest.mark.parametrize("target", TARGETS)
def test_loader_takes_the_loop_class_and_the_app(target):
    agent = load_agent(target)
    assert isinstance(agent, LoopAgent) and agent.name == "calculator"
    tools = [tool.schema() for tool in agent.tools(AgentRequest("r", []))]
    assert [tool["function"]["name"] for tool in tools] == ["add", "subtract", "multiply", "divide"]
    function = tools[0]["function"]  # a model dump without null fields and strict=false
    assert set(function) == {"name", "description", "parameters"}
    assert function["parameters"]["properties"]["a"] == {"type": "number",
                                                         "description": "First number"}  # fmt: skip


def test_loader_names_what_it_accepts(tmp_path):
    target = tmp_path / "other.py"
    target.write_text("thing = 42\n")
    with pytest.raises(TargetError, match="not an Agent, a RolloutAgentLoop or an app"):
        load_agent(f"{target}:thing")


@pytest.mark.parametrize("target", TARGETS)
def test_validate_accepts_the_ported_agent(target):
    result = run("validate", target, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] and report["warnings"] == 0 and report["agent"] == "calculator"
    assert report["dry_run"]["status"] == "COMPLETED"


def test_try_answers_16_for_the_default_question():
    result = run("try", TARGETS[0], "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    completion = json.loads(result.stdout)["completion"]
    assert completion["status"] == "COMPLETED" and completion["finish_reason"] == "stop"
    assert "16" in completion["final_messages"][-1]["content"]
    assert completion["metrics"]["num_tool_calls"] == 2
    assert completion["metrics"]["tool_latency_ms"] >= 200  # each tool sleeps 0.1-0.5 s


@contextlib.contextmanager
def served(target: str) -> Iterator[str]:
    """`rolloutctl serve TARGET` as its own process; the base URL once /health answers."""
    port = free_port()
    process = subprocess.Popen([rolloutctl_bin(), "serve", target, "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "serve did not come up in 60 s"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_check_passes_against_serve_of_the_ported_agent():
    with served(TARGETS[1]) as url:
        assert httpx.get(f"{url}/health").json()["agent"] == "calculator"
        result = run("check", url, "--json", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["counts"]["FAIL"] == report["counts"]["SKIP"] == 0, report
    tools = next(check for check in report["checks"] if check["name"] == "init-tools")
    assert tools["details"] == []  # no lint findings: the 0.2 models are sent clean


def test_bench_delivers_every_rollout_without_errors():
    result = run("bench", TARGETS[0], "--rollouts", "24", "--concurrency", "8", "--json",
                 timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads(result.stdout)
    assert record["completed"] == 24 and record["errors"] == 0 and record["lost"] == 0


class Picky(RolloutAgentLoop):
    """Two chat calls with their own sampling kwargs, then gives up with ctx.error."""

    name = "picky"
    seen: ClassVar[list[tuple[CompletionsResult, list[Any]]]] = []

    def get_tools(self, request: RolloutRequest) -> list:
        parameters = {"type": "object", "properties": {"q": {"type": "string"}}}
        return [{"type": "function", "function": {"name": "lookup", "description": "Look up.",
                                                  "parameters": parameters}}]  # fmt: skip

    async def run(self, ctx: RolloutContext) -> RolloutResult:
        first = await ctx.chat(ctx.request.messages, temperature=0.1)
        history = [*ctx.request.messages, first.message]
        await ctx.chat(history, max_tokens=5)
        ctx.record_tool_call(latency_ms=12.5)
        self.seen.append((first, ctx.tools))
        return ctx.error("gave up after two calls", final_messages=history)


def test_per_call_kwargs_ctx_error_and_the_trainers_extras(trainer):
    extras = {"token_ids": [7, 8], "logprobs": [-0.5, -0.25]}
    trainer.script("p1", {**assistant("first", completion_tokens=2), **extras}, assistant("two"))
    messages = [{"role": "user", "content": "hi"}]
    init = {"rollout_id": "p1", "server_url": trainer.url, "messages": messages,
            "completion_params": {"temperature": 0.7, "top_p": 0.5}}  # fmt: skip
    with run_server(create_app(Picky())) as url:
        response = httpx.post(f"{url}/v1/rollout/init", json=init, timeout=30)
        assert response.status_code == 202
        assert response.json()["tools"] == Picky().get_tools(RolloutRequest(**init))
        done = trainer.wait("p1", timeout=30)
    one, two = trainer.chats["p1"]
    assert (one["temperature"], one["top_p"], "max_tokens" in one) == (0.1, 0.5, False)
    assert (two["temperature"], two["top_p"], two["max_tokens"]) == (0.7, 0.5, 5)
    assert done["status"] == "ERROR" and done["error_message"] == "gave up after two calls"
    assert done["extra_fields"]["error_category"] == "agent_error"
    assert done["final_messages"] == [*messages, one_reply(trainer)]
    assert done["metrics"]["num_tool_calls"] == 1 and done["metrics"]["tool_latency_ms"] == 12.5
    first, tools = Picky.seen[-1]
    assert (first.content, first.token_ids, first.logprobs) == ("first", [7, 8], [-0.5, -0.25])
    assert first.usage["completion_tokens"] == 2 and not first.has_tool_calls
    assert tools == Picky().get_tools(RolloutRequest(**init))


def one_reply(trainer: Any) -> dict[str, Any]:
    """The assistant message of the rollout's first chat answer."""
    return trainer.chats["p1"][1]["messages"][-1]
