"""Reading arithmetic out of a sentence, for the calculator policy.

The policy must behave like a model that solves "What is (5 + 3) * 2?" or
"calculate 12 divided by 4 then add 1". This module turns such text into an
expression tree: usual precedence, parentheses, number words, verb phrases
("subtract 3 from 10", "the product of 4 and 5") and "then" chains.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Number", "Op", "count_ops", "parse", "tokenize"]

Number = int | float

_TOKEN = re.compile(r"\d+(?:\.\d+)?|[-+*/\u00d7\u00f7()]|[a-z]+")
_SYMBOLS = {
    "+": "add",
    "-": "subtract",
    "*": "multiply",
    "\u00d7": "multiply",
    "/": "divide",
    "\u00f7": "divide",
}
_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        [
            *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
            *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"),
            *("seventeen", "eighteen", "nineteen", "twenty"),
        ]
    )
}
_NUMBER_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "hundred": 100})
_WORDS = {
    "plus": ("op", "add"),
    "minus": ("op", "subtract"),
    **{w: ("op", "multiply") for w in ("times", "x", "multiplied")},
    **{w: ("op", "divide") for w in ("divided", "over")},
    **{v: ("verb", v) for v in ("add", "subtract", "multiply", "divide")},
    "sum": ("noun", "add"),
    "difference": ("noun", "subtract"),
    "product": ("noun", "multiply"),
    "quotient": ("noun", "divide"),
    "then": ("then", ""),
    "and": ("and", ""),
    **{w: ("conn", w) for w in ("by", "to", "from", "with", "of", "between", "into")},
}
_ADDITIVE = ("add", "subtract")


@dataclass(frozen=True, slots=True)
class Op:
    name: str  # add, subtract, multiply or divide
    a: Op | Number
    b: Op | Number


class _NoParse(Exception):
    pass


def tokenize(text: str) -> list[tuple[str, str | Number]]:
    tokens: list[tuple[str, str | Number]] = []
    for raw in _TOKEN.findall(text.lower()):
        if raw[0].isdigit():
            tokens.append(("num", float(raw) if "." in raw else int(raw)))
        elif raw in _SYMBOLS:
            tokens.append(("op", _SYMBOLS[raw]))
        elif raw in "()":
            tokens.append((raw, raw))
        elif raw in _NUMBER_WORDS:
            tokens.append(("num", _NUMBER_WORDS[raw]))
        elif raw in _WORDS:
            tokens.append(_WORDS[raw])
    return tokens


class _Parser:
    """Recursive descent over the tokens, from one start position."""

    def __init__(self, tokens: list[tuple[str, str | Number]], pos: int) -> None:
        self.tokens, self.pos = tokens, pos

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.tokens[index][0] if index < len(self.tokens) else "end"

    def take(self) -> str | Number:
        if self.pos >= len(self.tokens):
            raise _NoParse
        self.pos += 1
        return self.tokens[self.pos - 1][1]

    def skip_connectors(self) -> str | None:
        word = None
        while self.peek() in ("conn", "and"):
            word = str(self.take())  # connector tokens carry their word
        return word

    def program(self) -> Op | Number:
        value = self.expr()
        while self._chain_follows():
            mark = self.pos
            while self.peek() in ("then", "and"):
                self.take()
            if self.peek() not in ("verb", "op"):
                self.pos = mark
                break
            value = self._extend(value, mark, self.expr)
            if self.pos == mark:
                break
        return value

    def _chain_follows(self) -> bool:
        if self.peek() == "then":
            return True
        return self.peek() == "and" and self.peek(1) in ("then", "verb", "op")

    def expr(self) -> Op | Number:
        return self._fold(self.term(), additive=True)

    def term(self) -> Op | Number:
        return self._fold(self.unary(), additive=False)

    def _fold(self, value: Op | Number, additive: bool) -> Op | Number:
        """Left-associative `value op operand ...` at one precedence level."""
        operand = self.term if additive else self.unary
        while self.peek() == "op" and (self.tokens[self.pos][1] in _ADDITIVE) == additive:
            mark = self.pos
            value = self._extend(value, mark, operand)
            if self.pos == mark:
                break
        return value

    def _extend(
        self, value: Op | Number, mark: int, operand: Callable[[], Op | Number]
    ) -> Op | Number:
        """`value <operator at pos> operand`; an operator with nothing usable after it
        (say the "/" of "[/]" in a message) is left unread, so the rest still counts."""
        name = self.take()
        self.skip_connectors()
        try:
            return Op(str(name), value, operand())
        except _NoParse:
            self.pos = mark
            return value

    def unary(self) -> Op | Number:
        if self.peek() == "op" and self.tokens[self.pos][1] == "subtract":
            self.take()
            value = self.unary()
            return -value if isinstance(value, int | float) else Op("subtract", 0, value)
        return self.atom()

    def atom(self) -> Op | Number:
        kind = self.peek()
        if kind == "num":
            return self.take()  # type: ignore[return-value]  # a "num" token's value is a Number
        if kind == "(":
            self.take()
            value = self.expr()
            if self.peek() != ")":
                raise _NoParse
            self.take()
            return value
        if kind in ("verb", "noun"):
            return self.phrase()
        raise _NoParse

    def phrase(self) -> Op:
        """ "add 2 and 3", "subtract 3 from 10", "the product of 4 and 5"."""
        name = str(self.take())
        self.skip_connectors()
        first = self.expr()
        connector = self.skip_connectors()
        second = self.expr()
        if connector == "from":
            first, second = second, first
        return Op(name, first, second)


def count_ops(value: Op | Number) -> int:
    if isinstance(value, Op):
        return 1 + count_ops(value.a) + count_ops(value.b)
    return 0


def parse(text: str) -> Op | None:
    """The arithmetic with the most operations found anywhere in the text, or None."""
    tokens = tokenize(text)[:200]
    best: Op | None = None
    for start in range(len(tokens)):
        try:
            value = _Parser(tokens, start).program()
        except (_NoParse, RecursionError):
            continue
        if isinstance(value, Op) and count_ops(value) > count_ops(best or 0):
            best = value
    return best
