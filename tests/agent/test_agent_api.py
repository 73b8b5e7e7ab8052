"""The agent API without a network: @tool schemas, run_tools, the loop, the loader."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import pytest

from rolloutctl import RolloutContext, RolloutRequest, ToolLoopAgent, tool
from rolloutctl.agent.loader import example_names, load_agent, load_example
from rolloutctl.errors import TargetError


@tool
def search(query: str, limit: int = 5, mode: Literal["fast", "deep"] = "fast") -> list[str]:
    """Search the index for documents.

    Args:
        query: what to look for
        limit: how many results at most
    """
    return [query] * limit


@tool(name="slow_echo")
async def echo(text: str) -> str:
    """Echo text back after a pause."""
    await asyncio.sleep(0.01)
    return text


def test_schema_comes_from_hints_and_docstring():
    function = search.schema()["function"]
    assert function["name"] == "search"
    assert function["description"] == "Search the index for documents."
    params = function["parameters"]
    assert params["required"] == ["query"]
    assert params["properties"]["query"] == {"type": "string", "description": "what to look for"}
    assert params["properties"]["limit"] == {
        "type": "integer",
        "default": 5,
        "description": "how many results at most",
    }
    assert params["properties"]["mode"]["enum"] == ["fast", "deep"]
    assert echo.schema()["function"]["name"] == "slow_echo"


def scripted_llm(*replies: dict):
    queue = list(replies)

    async def llm(messages, params):
        message = queue.pop(0)
        return {
            "choices": [{"message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2},
        }

    return llm


def tool_call(name: str, arguments: str, call_id: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_run_tools_in_call_order_with_errors_as_text():
    request = RolloutRequest(rollout_id="r", messages=[{"role": "user", "content": "x"}])
    ctx = RolloutContext(request, [search, echo], scripted_llm())
    calls = [
        tool_call("slow_echo", '{"text": "hi"}', "a"),
        tool_call("search", '{"limit": 1}', "b"),
        tool_call("search", '{"query": "q", "limit": 2}', "c"),
        tool_call("missing", "{}", "d"),
        tool_call("search", "[1]", "e"),
    ]
    replies = asyncio.run(ctx.run_tools(calls))
    assert [r["tool_call_id"] for r in replies] == ["a", "b", "c", "d", "e"]
    assert replies[0]["content"] == "hi"
    assert replies[1]["content"].startswith("Error: ") and "query" in replies[1]["content"]
    assert json.loads(replies[2]["content"]) == ["q", "q"]
    assert replies[3]["content"].startswith("Error: unknown tool")
    assert replies[4]["content"].startswith("Error: ")
    assert ctx.metrics.num_tool_calls == 5 and ctx.messages[-5:] == replies


def test_tool_loop_agent_counts_and_stops():
    class Searcher(ToolLoopAgent):
        tool_list = (search,)

    request = RolloutRequest(rollout_id="r", messages=[{"role": "user", "content": "x"}])
    llm = scripted_llm(
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [tool_call("search", '{"query": "a", "limit": 1}', "c")],
        },
        {"role": "assistant", "content": "found"},
    )
    ctx = RolloutContext(request, Searcher().tools(request), llm)
    result = asyncio.run(Searcher().run(ctx))
    assert result.finish_reason == "stop"
    assert [m["role"] for m in ctx.messages] == ["user", "assistant", "tool", "assistant"]
    assert ctx.metrics.num_llm_calls == 2 and ctx.metrics.response_tokens == 4


def test_loader_targets(tmp_path):
    assert {"calculator", "echo"} <= set(example_names())
    assert load_example("calculator").name == "calculator"
    (tmp_path / "mine.py").write_text(
        "from rolloutctl import Agent\nclass Mine(Agent):\n    name = 'mine'\n"
    )
    assert load_agent(f"{tmp_path / 'mine.py'}:Mine").name == "mine"
    with pytest.raises(TargetError, match="unknown example"):
        load_example("nope")
    with pytest.raises(TargetError, match="not an Agent"):
        load_agent("json:dumps")
    with pytest.raises(TargetError, match="cannot import"):
        load_agent("no_such_pkg_zz.mod:agent")
