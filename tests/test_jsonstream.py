"""ObjectReader reads what json.loads reads, refuses what it refuses with the same words
and place, and holds each value to the nesting limit as `jsonlimits.loads` does, even
when every value straddles the edge of its window."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from rolloutctl import jsonstream
from rolloutctl.errors import JsonLimitError
from rolloutctl.jsonlimits import loads
from rolloutctl.jsonstream import ObjectReader

DOCUMENTS = [
    '{"a": 1, "turns": [1, 2.5e3, {"x": [3, "\\u00e9"]}], "b": 12345}',
    "{}",
    ' \n{ "turns" : [ ] ,\n "n" : null }\n',
    '{"a":1,}',
    '{"a" 1}',
    '{"a":1 "b":2}',
    '{"turns": [1, 2',
    '{"turns": [1,, 2]}',
    '{"a":\n [1,\n 2,\n x]}',
    '{"a":1} x',
    "",
    '{"turns": [1,]}',
    '{"a": 123',
    '{"turns":[1]\n,\n\n "q": nul}',
    '{"a": "unterminated',
]


def read(text: str) -> Any:
    members = {}
    for key, value in ObjectReader(io.StringIO(text), frozenset({"turns"})).members():
        members[key] = list(value) if key == "turns" and not isinstance(value, int) else value
    return members


def outcome(parse: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", parse(text)
    except ValueError as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_members_and_errors_match_json_loads(monkeypatch, chunk):
    monkeypatch.setattr(jsonstream, "CHUNK", chunk)
    for text in DOCUMENTS:
        assert outcome(read, text) == outcome(json.loads, text), text


def test_a_document_that_is_not_an_object_is_named():
    with pytest.raises(ValueError, match="expected a JSON object, got list"):
        read("[1, 2]")


@pytest.mark.parametrize("depth", [150, 200_000])
def test_nesting_is_refused_as_jsonlimits_refuses_it(monkeypatch, depth):
    monkeypatch.setattr(jsonstream, "CHUNK", 7)
    text = '{"ok": 1, "turns": [{"x": ' + "[" * depth + "]" * depth + "}]}"
    with pytest.raises(JsonLimitError) as whole:
        loads(text)
    with pytest.raises(JsonLimitError) as streamed:
        read(text)
    assert str(streamed.value) == str(whole.value)
    assert "nested deeper than 100 levels" in str(streamed.value)
