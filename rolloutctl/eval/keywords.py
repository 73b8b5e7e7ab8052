"""`eval -k EXPR`: choose rows as pytest's -k chooses tests.

EXPR is words joined by `and`, `or`, `not` and parentheses; a word matches a row when
it occurs, ignoring case, in the row's id or in the text of its messages. So
`-k "add and not q1"` runs the rows that mention "add" and whose id and text lack "q1".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn

from rolloutctl.errors import InputError

__all__ = ["keyword_matcher", "row_text"]

Matcher = Callable[[str], bool]
_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def keyword_matcher(expression: str) -> Matcher:
    """A test of a row's text (id and messages, lowercased) against `expression`."""
    tokens = _TOKEN.findall(expression)
    if not tokens:
        raise InputError("-k: the expression is empty")
    parser = _Parser(tokens, expression)
    matcher = parser.either()
    if parser.position != len(tokens):
        parser.fail(f"unexpected {tokens[parser.position]!r}")
    return matcher


def row_text(row_id: str, messages: list[dict[str, Any]]) -> str:
    """What a -k word is looked for in: the row's id and its messages' text, lowercased."""
    texts = [row_id, *(m.get("content") for m in messages)]
    return "\n".join(text for text in texts if isinstance(text, str)).lower()


class _Parser:
    """Recursive descent over `or` (lowest), `and`, `not`, then words and parentheses."""

    def __init__(self, tokens: list[str], expression: str) -> None:
        self.tokens, self.expression, self.position = tokens, expression, 0

    def fail(self, why: str) -> NoReturn:
        raise InputError(f"-k {self.expression!r}: {why}")

    def take(self, word: str) -> bool:
        if self.position < len(self.tokens) and self.tokens[self.position] == word:
            self.position += 1
            return True
        return False

    def either(self) -> Matcher:
        left = self.both()
        while self.take("or"):
            left = _or(left, self.both())
        return left

    def both(self) -> Matcher:
        left = self.negated()
        while self.take("and"):
            left = _and(left, self.negated())
        return left

    def negated(self) -> Matcher:
        if self.take("not"):
            inner = self.negated()
            return lambda text: not inner(text)
        return self.atom()

    def atom(self) -> Matcher:
        if self.take("("):
            inner = self.either()
            if not self.take(")"):
                self.fail("a '(' is not closed")
            return inner
        if self.position >= len(self.tokens) or self.tokens[self.position] in ("and", "or", ")"):
            self.fail("a word is missing")
        word = self.tokens[self.position].lower()
        self.position += 1
        return lambda text: word in text


def _and(left: Matcher, right: Matcher) -> Matcher:
    return lambda text: left(text) and right(text)


def _or(left: Matcher, right: Matcher) -> Matcher:
    return lambda text: left(text) or right(text)
