"""`try --policy human`: a person (pexpect) types every model turn of a calculator rollout."""

from __future__ import annotations

import json

import pexpect
import pytest

from rolloutctl.schema.fit import argument_problems
from rolloutctl.trainer.policies.human import parse_arguments
from tests.helpers import rolloutctl_bin


@pytest.mark.timeout(300)
def test_try_human_completes_a_calculator_rollout(tmp_path):
    saved = tmp_path / "human.json"
    child = pexpect.spawn(
        rolloutctl_bin(),
        [
            "try",
            "--example",
            "calculator",
            "--policy",
            "human",
            "--plain",
            "--save",
            str(saved),
            "--prompt",
            "What is (5 + 3) * 2?",
        ],
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 160),
    )
    child.expect("model turn 1")
    child.expect(r"user: What is \(5 \+ 3\) \* 2\?")
    child.expect(r"multiply\(a: number, b: number\)")
    child.expect("assistant> ")
    child.send("/call mul\t")  # TAB completes the tool name
    child.expect("multiply ")
    child.sendline('{"a": 5}')
    child.expect("multiply: b is required")
    child.expect("assistant> ")
    child.sendline("/call add a=5 b=three")
    child.expect("add: b must be number, not string")
    child.expect("assistant> ")
    child.sendline("/call add a=5 b=3")
    child.expect("model turn 2")
    child.expect("tool add -> 8")
    child.expect("assistant> ")
    child.sendline('/call multiply {"a": 8, "b": 2}')
    child.expect("tool multiply -> 16")
    child.expect("assistant> ")
    child.sendline("The answer is 16.")
    child.expect("COMPLETED")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    traj = json.loads(saved.read_text())
    assert traj["completion"]["status"] == "COMPLETED"
    assert traj["completion"]["final_messages"][-1]["content"] == "The answer is 16."
    assert [t["assistant"].get("tool_calls", [{}])[0].get("function", {}).get("name")
            for t in traj["turns"]] == ["add", "multiply", None]  # fmt: skip


def test_arguments_are_read_and_checked_against_the_schema():
    assert parse_arguments('x=1 y="two words" z=true w=[1]') == {
        "x": 1, "y": "two words", "z": True, "w": [1]
    }  # fmt: skip
    assert parse_arguments('{"a": 1}') == {"a": 1}
    with pytest.raises(ValueError):
        parse_arguments("x")
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "mode": {"enum": ["fast", "slow"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "at": {"$ref": "#/$defs/Point"},
        },
        "required": ["n"],
        "additionalProperties": False,
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}},
    }
    assert (
        argument_problems({"n": 2, "mode": "fast", "tags": ["a"], "at": {"x": 1.5}}, schema) == []
    )
    assert argument_problems(
        {"n": 1.5, "mode": "x", "tags": [1], "at": {"x": "no"}, "q": 1}, schema
    ) == [
        "q is not a parameter",
        "n must be integer, not number",
        "mode must be one of 'fast', 'slow'",
        "tags[0] must be string, not integer",
        "at.x must be number, not string",
    ]
    assert argument_problems({}, schema) == ["n is required"]
