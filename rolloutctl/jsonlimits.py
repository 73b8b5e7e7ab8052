"""JSON from files we did not write, held to what the rest of rolloutctl can handle.

Python's `json` recurses once per level, so a file nested 200,000 deep ends in a
RecursionError deep inside whatever reads it, and every later step (rendering, diffing,
orjson writing a record) recurses too. orjson also refuses integers past 64 bits and
NaN. So input is parsed and walked once, without recursion, and refused with a reason
that names where: the reader turns that into one line and exit 2, or one bad row.
"""

from __future__ import annotations

import json
import math
from typing import Any

from rolloutctl.errors import JsonLimitError

__all__ = [
    "MAX_DEPTH",
    "check_value",
    "loads",
]

MAX_DEPTH = 100  # levels of arrays and objects; real chat messages use fewer than 10
INT_RANGE = (-(2**63), 2**64 - 1)  # what orjson writes


def loads(text: str | bytes, finite: bool = False) -> Any:
    """`json.loads`, refusing nesting past MAX_DEPTH (and with `finite`, NaN, Infinity and
    integers past 64 bits) with a JsonLimitError; a JSONDecodeError as usual."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonLimitError(f"nested deeper than {MAX_DEPTH} levels") from None
    check_value(value, finite=finite)
    return value


def check_value(value: Any, finite: bool = True, where: str = "", depth: int = 0) -> None:
    """Raise JsonLimitError at the first place `value` breaks a limit; `value` sits
    `depth` levels down its document, at `where`."""
    if _within(value, finite, depth):
        return
    stack: list[tuple[Any, str, int]] = [(value, where, depth)]
    while stack:
        item, at, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise JsonLimitError(f"{_at(at)}nested deeper than {MAX_DEPTH} levels")
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((child, _join(at, key), depth + 1) for key, child in pairs)
        elif finite:
            _check_number(item, at)


def _within(value: Any, finite: bool, depth: int) -> bool:
    """Whether `value` keeps every limit: the common case, walked without naming places
    (which would cost a string per item of a 200 MB file)."""
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            if level >= MAX_DEPTH:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, level + 1) for c in children if finite or isinstance(c, dict | list))
        elif finite and not _fits(item):
            return False
    return True


def _fits(item: Any) -> bool:
    if isinstance(item, float):
        return math.isfinite(item)
    return not isinstance(item, int) or INT_RANGE[0] <= item <= INT_RANGE[1]


def _check_number(item: Any, at: str) -> None:
    if isinstance(item, float) and not math.isfinite(item):
        raise JsonLimitError(f"{_at(at)}{item} is not a JSON number (NaN and Infinity are not)")
    if isinstance(item, int) and not INT_RANGE[0] <= item <= INT_RANGE[1]:
        raise JsonLimitError(f"{_at(at)}the integer {_short(item)} does not fit in 64 bits")


def _join(at: str, key: Any) -> str:
    return f"{at}[{key}]" if isinstance(key, int) else f"{at}.{key}" if at else str(key)


def _at(at: str) -> str:
    """Where, cut to 80 characters at a step, with a mark (`[0][0]…`, not `[0][0`)."""
    if len(at) > 80:
        head = at[:79]
        at = head[: max(head.rfind("["), head.rfind("."), 1)] + "…"
    return f"{at}: " if at else ""


def _short(number: int) -> str:
    digits = str(number) if number.bit_length() < 1000 else "(over 300 digits)"
    return digits if len(digits) <= 30 else f"{digits[:12]}…({len(digits)} digits)"
