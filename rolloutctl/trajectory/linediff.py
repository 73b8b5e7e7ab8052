"""A unified diff of two streams of lines in bounded memory, for `diff` of large files.

difflib matches two whole sequences, so it holds both, and its matcher slows down
quadratically with the number of short matches in them. Here the lines come in windows:
each is matched by difflib's own SequenceMatcher and committed up to its last run of
equal lines, and the rest starts the next window. A window with no equal line at all
grows (up to MAX_LINES) before it is given up as one change. Two inputs that fit in one
window get exactly `difflib.unified_diff`'s output; longer ones a valid unified diff
that may be less minimal where a change straddles windows.

Hunks are grouped as difflib groups them (`n` lines of context; runs of more than 2n
equal lines split hunks). A hunk's header counts its lines, so its body waits in a
spool (memory, then a temporary file) until the hunk ends.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator
from difflib import SequenceMatcher
from tempfile import SpooledTemporaryFile
from typing import IO

__all__ = ["unified_diff"]

WINDOW_LINES = 240  # under difflib's autojunk threshold (200 lines of b) no line is junk
MAX_LINES = 8192  # how far a window with no equal line grows before it counts as changed
WINDOW_CHARS = 2 << 20  # a window holds at least one line, however long
SPOOL_BYTES = 4 << 20  # a hunk body past this goes to a temporary file
_BATCH = 1024  # lines pickled together into the spool, or fewer of 1 MiB in all
_BATCH_CHARS = 1 << 20

# tag, i1, i2, j1, j2, lines of a (of an equal run: only the n first and n last), of b
Op = tuple[str, int, int, int, int, list[str], list[str]]


def unified_diff(a: Iterable[str], b: Iterable[str], n: int = 2) -> Iterator[str]:
    """`difflib.unified_diff(a, b, "A", "B", lineterm="", n=n)`, a window at a time."""
    with SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        yield from _diff(_opcodes(iter(a), iter(b), n), _Hunks(n, _Spool(spool)), n)


def _diff(ops: Iterator[Op], hunks: _Hunks, n: int) -> Iterator[str]:
    pending: Op | None = None  # an equal run, which the next window may extend
    for op in ops:
        if pending is not None and op[0] == "equal":
            pending = _joined(pending, op, n)
            continue
        if pending is not None:
            yield from hunks.equal(pending, last=False)
        pending = op if op[0] == "equal" else None
        if pending is None:
            yield from hunks.change(op)
    if pending is not None:
        yield from hunks.equal(pending, last=True)
    yield from hunks.close()


def _opcodes(a: Iterator[str], b: Iterator[str], n: int) -> Iterator[Op]:
    """The opcodes of a against b in global line numbers, window by window."""
    buf_a: list[str] = []
    buf_b: list[str] = []
    at_a = at_b = 0
    limit = WINDOW_LINES
    while True:
        done = _fill(buf_a, a, limit) & _fill(buf_b, b, limit)
        codes = SequenceMatcher(None, buf_a, buf_b).get_opcodes()
        equal = [k for k, code in enumerate(codes) if code[0] == "equal"]
        if not done and not equal and limit < MAX_LINES:
            limit *= 2
            continue
        kept = codes if done or not equal else codes[: equal[-1] + 1]
        for tag, i1, i2, j1, j2 in kept:
            lines_a = _ends(buf_a[i1:i2], n) if tag == "equal" else buf_a[i1:i2]
            lines_b = [] if tag == "equal" else buf_b[j1:j2]
            yield tag, at_a + i1, at_a + i2, at_b + j1, at_b + j2, lines_a, lines_b
        if done:
            return
        cut_a, cut_b = kept[-1][2], kept[-1][4]
        del buf_a[:cut_a], buf_b[:cut_b]
        at_a, at_b, limit = at_a + cut_a, at_b + cut_b, WINDOW_LINES


def _fill(buf: list[str], lines: Iterator[str], limit: int) -> bool:
    """Top `buf` up to a window of `limit` lines; True when `lines` has no more."""
    size = sum(map(len, buf))
    while len(buf) < limit and size < WINDOW_CHARS:
        line = next(lines, None)
        if line is None:
            return True
        buf.append(line)
        size += len(line)
    return False


def _ends(lines: list[str], n: int) -> list[str]:
    """What an equal run can show: all of it, or its n first and n last lines."""
    return lines if len(lines) <= 2 * n else lines[:n] + lines[-n:]


def _joined(first: Op, second: Op, n: int) -> Op:
    """Two equal runs that meet at a window's edge, as one."""
    lines = _ends(first[5] + second[5], n)
    return "equal", first[1], second[2], first[3], second[4], lines, []


class _Hunks:
    """difflib's grouping of opcodes into hunks and its unified format, as opcodes come."""

    def __init__(self, n: int, body: _Spool) -> None:
        self.n = n
        self.started = False  # the file header is out
        self.seen = False  # an opcode came before this one
        self.start: tuple[int, int] | None = None  # the open hunk's first lines in a, b
        self.end = (0, 0)
        self.body = body

    def change(self, op: Op) -> Iterator[str]:
        tag, i1, i2, j1, j2, lines_a, lines_b = op
        self._open(i1, j1)
        if tag in ("replace", "delete"):
            self.body.extend("-" + line for line in lines_a)
        if tag in ("replace", "insert"):
            self.body.extend("+" + line for line in lines_b)
        self.end, self.seen = (i2, j2), True
        return iter(())

    def equal(self, op: Op, last: bool) -> Iterator[str]:
        """An equal run: context for the hunk around it, and a hunk's end if long."""
        _, i1, i2, j1, j2, lines, _ = op
        n, first, self.seen = self.n, not self.seen, True
        if first and last:
            return  # nothing differs
        if first:
            cut = min(n, i2 - i1)
            i1, j1, lines = i2 - cut, j2 - cut, lines[len(lines) - cut :]
        if last:
            i2, j2, lines = min(i2, i1 + n), min(j2, j1 + n), lines[:n]
        if i2 - i1 > 2 * n:
            self._context(i1, j1, i1 + n, j1 + n, lines[:n])
            yield from self.close()
            self._context(i2 - n, j2 - n, i2, j2, lines[-n:])
        else:
            self._context(i1, j1, i2, j2, lines)

    def close(self) -> Iterator[str]:
        """The open hunk, header first; nothing if it holds no change."""
        if self.start is None:
            return
        if not self.started:
            self.started = True
            yield "--- A"
            yield "+++ B"
        (i1, j1), (i2, j2) = self.start, self.end
        yield f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@"
        yield from self.body.drain()
        self.start = None

    def _open(self, i: int, j: int) -> None:
        if self.start is None:
            self.start = (i, j)

    def _context(self, i1: int, j1: int, i2: int, j2: int, lines: list[str]) -> None:
        self._open(i1, j1)
        self.body.extend(" " + line for line in lines)
        self.end = (i2, j2)


def _range(start: int, stop: int) -> str:
    """A hunk header's `start,length`, as difflib writes it."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start if not length else start + 1},{length}"


class _Spool:
    """Lines kept in order: a batch in memory, earlier batches pickled into `file`."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.batch: list[str] = []
        self.chars = 0

    def extend(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.batch.append(line)
            self.chars += len(line)
            if len(self.batch) >= _BATCH or self.chars >= _BATCH_CHARS:
                pickle.dump(self.batch, self.file, protocol=pickle.HIGHEST_PROTOCOL)
                self.batch, self.chars = [], 0

    def drain(self) -> Iterator[str]:
        """Every line, once; the spool is empty afterwards."""
        end = self.file.tell()
        self.file.seek(0)
        while self.file.tell() < end:
            yield from pickle.load(self.file)
        self.file.seek(0)
        self.file.truncate()
        yield from self.batch
        self.batch, self.chars = [], 0
