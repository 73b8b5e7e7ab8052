"""The calculator policy solving arithmetic, driven by hand as a RolloutServer would drive it.

The test plays the server: it posts the conversation, runs each requested tool itself,
appends the tool message and posts again, until the policy answers.
"""

from __future__ import annotations

import asyncio
import json
import operator

import httpx
import pytest

from rolloutctl.trainer import MockTrainer, Turn, make_policy
from rolloutctl.trainer.policies.arithmetic import parse
from rolloutctl.trainer.policies.calculation import plan
from tests.helpers import CALCULATOR_TOOLS, run_trainer

OPS = {
    "add": operator.add,
    "subtract": operator.sub,
    "multiply": operator.mul,
    "divide": operator.truediv,
}
SYSTEM = {"role": "system", "content": "You are a calculator. Use the tools."}

# prompt, final number, tool calls needed
PROMPTS = [
    ("What is (5 + 3) * 2?", "16", 2),
    ("calculate 12 divided by 4 then add 1", "4", 2),
    ("What is 2*3 + 4*5?", "26", 3),
    ("Please add 7 and 8.", "15", 1),
    ("Subtract 3 from 10, then multiply by 4.", "28", 2),
    ("What is the product of six and seven?", "42", 1),
    ("What is 100 / (2 + 3) - 4 times 2?", "12", 4),
    ("Compute 10 minus 4 minus 3", "3", 2),
    ("What is 7 divided by 2?", "3.5", 1),
    ("What is -5 + 3?", "-2", 1),
    ("What is 1.5 * 4?", "6", 1),
    ("What is 9 \u00f7 3 \u00d7 2?", "6", 2),
    ("Take the sum of 3 and 4, and then divide by 7", "1", 2),
    ("What is (1 + 2) * (3 + 4)?", "21", 3),
    ("I have 3 apples. What is 2 plus 2?", "4", 1),
]


def run_tool(call: dict) -> str:
    """The calculator tools as docs/protocol.md fixes them: integral results without '.0'."""
    args = json.loads(call["function"]["arguments"])
    try:
        value = OPS[call["function"]["name"]](args["a"], args["b"])
    except ZeroDivisionError:
        return "Error: division by zero"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def solve(client: httpx.Client, rollout_id: str, prompt: str) -> tuple[str, int]:
    """Play the RolloutServer's loop; return the final answer and the tool calls made."""
    messages, calls = [SYSTEM, {"role": "user", "content": prompt}], 0
    for _ in range(12):
        body = {
            "model": "default",
            "rollout_id": rollout_id,
            "messages": messages,
            "tools": CALCULATOR_TOOLS,
        }
        answer = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]
        messages = [*messages, answer]
        if not answer.get("tool_calls"):
            return answer["content"], calls
        for call in answer["tool_calls"]:
            calls += 1
            messages.append({"role": "tool", "content": run_tool(call), "tool_call_id": call["id"]})
    raise AssertionError("the policy never answered")


@pytest.fixture(scope="module")
def client():
    trainer = MockTrainer()
    with run_trainer(trainer.app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client
    assert trainer.violations() == []


def test_without_tools_offered_it_answers_without_tool_calls(client: httpx.Client) -> None:
    body = {"model": "default", "rollout_id": "calc-no-tools",
            "messages": [{"role": "user", "content": "What is (5 + 3) * 2?"}]}  # fmt: skip
    answer = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]
    assert answer == {"role": "assistant", "content": "The answer is 16."}


@pytest.mark.parametrize("prompt, expected, tool_calls", PROMPTS)
def test_calculator_solves(client: httpx.Client, prompt: str, expected: str, tool_calls: int):
    answer, calls = solve(client, f"calc-{prompt}", prompt)
    assert answer == f"The answer is {expected}."
    assert calls == tool_calls


def test_nothing_to_compute_is_answered_plainly(client: httpx.Client) -> None:
    answer, calls = solve(client, "plain", "Hello, how are you?")
    assert calls == 0 and "no arithmetic" in answer


def test_a_failing_tool_result_ends_with_a_plain_answer(client: httpx.Client) -> None:
    answer, calls = solve(client, "zero", "What is 8 divided by (2 - 2)?")
    assert calls == 2 and "Error: division by zero" in answer


def policy_reply(messages: list, tools: list | None) -> dict:
    turn = Turn("unit", 0, messages, {"messages": messages}, tools)
    return asyncio.run(make_policy("calculator").reply(turn)).message


def schema(name: str, *params: str) -> dict:
    props = {p: {"type": "number"} for p in params}
    return {"type": "function", "function": {"name": name, "parameters": {"properties": props}}}


def test_uses_the_tool_and_argument_names_the_rollout_declared() -> None:
    user = [{"role": "user", "content": "What is 6 times 7?"}]
    call = policy_reply(user, [schema("Times", "x", "y"), schema("plus", "x", "y")])["tool_calls"][
        0
    ]
    assert call["function"]["name"] == "Times"
    assert json.loads(call["function"]["arguments"]) == {"x": 6, "y": 7}


def test_without_a_matching_tool_it_computes_by_itself() -> None:
    reply = policy_reply([{"role": "user", "content": "What is (2 + 3) * 4?"}], [])
    assert reply == {"role": "assistant", "content": "The answer is 20."}


def test_reads_the_latest_user_message_and_its_tool_results() -> None:
    earlier = [{"role": "user", "content": "What is 1 + 1?"}, {"role": "assistant", "content": "2"}]
    first = policy_reply([*earlier, {"role": "user", "content": "And 4 * 5?"}], None)
    call = first["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"a": 4, "b": 5}
    result = {"role": "tool", "content": "20", "tool_call_id": call["id"]}
    done = policy_reply([*earlier, {"role": "user", "content": "And 4 * 5?"}, first, result], None)
    assert done["content"] == "The answer is 20."


def test_parser_reads_precedence_chains_and_words() -> None:
    assert str(parse("2 + 3 * 4")) == str(parse("2 plus 3 times 4"))
    assert parse("then nothing") is None
    assert [step.op for step in plan("12 divided by 4 then add 1 and then multiply by 3")] == [
        "divide",
        "add",
        "multiply",
    ]
