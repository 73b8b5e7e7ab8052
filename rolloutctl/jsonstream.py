"""A large JSON object read member by member, so that a 200 MB file is never held whole.

json's C scanner decodes each value where it stands in a window of the file; only the
members named `lazy` are taken apart further, into their array's elements one at a
time. Every value is held to `jsonlimits` as it comes, its depth counted from the
document's root, and a syntax error reads as json's own ("Expecting ',' delimiter:
line 3 column 5 (char 40)") with the place in the whole file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TextIO

from rolloutctl.errors import JsonLimitError
from rolloutctl.jsonlimits import MAX_DEPTH, check_value

__all__ = ["ObjectReader"]

CHUNK = 1 << 20  # characters read at a time, at least
_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_CHARS = frozenset("0123456789.eE+-")


class ObjectReader:
    """The members of the JSON object in `file`, in the file's order; `checked=False`
    skips the limits for a file read once more after it passed them."""

    def __init__(self, file: TextIO, lazy: frozenset[str] = frozenset(), checked: bool = True):
        self._file, self._lazy, self._checked = file, lazy, checked
        self._buf, self._pos, self._eof = "", 0, False
        self._base = self._lines = self._line_start = 0  # what was dropped before _buf
        self._decoder = json.JSONDecoder()

    def members(self) -> Iterator[tuple[str, Any]]:
        """(key, value) per member. A lazy member's array comes as an iterator of its
        elements, read from the file as it is used; what is left unused is skipped.
        A document that is not an object is a ValueError naming what it is."""
        if self._peek() != "{":
            value = self._value("", 0)
            self._finish()
            raise ValueError(f"expected a JSON object, got {type(value).__name__}")
        self._pos += 1
        closer: str | None = "}"
        while self._peek() != closer:
            if self._peek() != '"':
                raise self._error("Expecting property name enclosed in double quotes")
            key = self._value("", 0)
            if self._peek() != ":":
                raise self._error("Expecting ':' delimiter")
            self._pos += 1
            if key in self._lazy and self._peek() == "[":
                items = self._items(key)
                yield key, items
                for _ in items:
                    pass
            else:
                yield key, self._value(key, 1)
            closer = self._delimiter("}")
        self._pos += 1
        self._finish()

    def _items(self, key: str) -> Iterator[Any]:
        self._pos += 1
        index, closer = 0, "]"  # type: tuple[int, str | None]
        while self._peek() != closer:
            yield self._value(f"{key}[{index}]", 2)
            index += 1
            closer = self._delimiter("]")
        self._pos += 1

    def _delimiter(self, end: str) -> str | None:
        """After a value: stop at `end`, or step over a comma, after which no closer
        may come (None): the loop reads the next value."""
        if self._peek() == end:
            return end
        if self._peek() != ",":
            raise self._error("Expecting ',' delimiter")
        self._pos += 1
        return None

    def _value(self, where: str, depth: int) -> Any:
        self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._more():
                    continue  # the value may go on past the window
                raise self._error(exc.msg, exc.pos) from None
            except RecursionError:
                raise JsonLimitError(f"nested deeper than {MAX_DEPTH} levels") from None
            if not self._cut_short(value, end) or not self._more():
                break
        self._pos = end
        if self._checked:
            check_value(value, finite=False, where=where, depth=depth)
        return value

    def _cut_short(self, value: Any, end: int) -> bool:
        """Whether a number just read may go on past the window ("2." of "2.5")."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        return end == len(self._buf) or self._buf[end] in _NUMBER_CHARS

    def _peek(self) -> str:
        """The next character that is not white space, or "" at the end."""
        while True:
            self._pos = _SPACE.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf) or not self._more():
                return self._buf[self._pos : self._pos + 1]

    def _more(self) -> bool:
        """Read on, at least as much again as is unread; False at the end of the file,
        where the window stays as it was."""
        if self._eof:
            return False
        data = self._file.read(max(CHUNK, len(self._buf) - self._pos))
        self._eof = not data
        if data:
            newlines = self._buf.count("\n", 0, self._pos)
            if newlines:
                self._lines += newlines
                self._line_start = self._base + self._buf.rindex("\n", 0, self._pos) + 1
            self._base += self._pos
            self._buf, self._pos = self._buf[self._pos :] + data, 0
        return bool(data)

    def _finish(self) -> None:
        if self._peek():
            raise self._error("Extra data")

    def _error(self, msg: str, pos: int | None = None) -> json.JSONDecodeError:
        """json's error for `msg` at `pos` of the window, placed in the whole file."""
        pos = self._pos if pos is None else pos
        error = json.JSONDecodeError(msg, self._buf, pos)
        if "\n" not in self._buf[:pos]:
            error.colno = self._base + pos - self._line_start + 1
        error.lineno += self._lines
        error.pos += self._base
        error.args = (f"{msg}: line {error.lineno} column {error.colno} (char {error.pos})",)
        return error
