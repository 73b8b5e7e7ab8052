"""Logging set-up for long-running commands: short lines for people, JSON lines for machines.

A server logs a line per rollout (two at DEBUG), hundreds of times a second, so the cost of a
line matters (BENCHMARKS.md has the figures against rich's handler and the stock logging
path). It gets there by not collecting what no line shows (caller frame,
thread, process and task names), by formatting the time once per second, and by
writing the lines of each 50 ms with one write instead of one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from typing import IO

from rich.console import Console

__all__ = [
    "BatchingHandler",
    "JsonLineFormatter",
    "LineFormatter",
    "in_process_logs",
    "setup_logging",
]

_FIELDS = ("rollout_id", "status", "category")  # set by `extra=` on rollout lines
TRACEBACK = "Traceback (most recent call last):"
_UNPRINTABLE = re.compile(r"[^\S ]|[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LEVEL_COLOURS = {"DEBUG": "2", "INFO": "36", "WARNING": "33", "ERROR": "31", "CRITICAL": "1;31"}


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the rollout's fields.

    A traceback (logged at DEBUG) goes in `exc_info` as one string.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": round(time.time(), 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class LineFormatter(logging.Formatter):
    """`12:00:01 INFO    message`, the level coloured when the output is a colour terminal."""

    def __init__(self, colour: bool) -> None:
        super().__init__()
        self.colour = colour
        self._second, self._stamp = -1, ""
        self._levels: dict[str, str] = {}

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._stamp = second, time.strftime("%H:%M:%S", time.localtime(second))
        level = self._levels.get(record.levelname) or self._level(record.levelname)
        message = record.getMessage()  # the Osmosis SDK logs tracebacks as the message
        shown = _traceback_lines(message) if message.startswith(TRACEBACK) else _escaped(message)
        line = f"{self._stamp} {level} {shown}"
        if record.exc_info or record.exc_text or record.stack_info:
            line = self._with_traceback(line, record)
        return line

    def _level(self, name: str) -> str:
        """The padded level name, coloured once per level instead of once per line."""
        padded = f"{name:<7}"
        code = _LEVEL_COLOURS.get(name)
        if self.colour and code is not None:
            padded = padded.replace(name, f"\x1b[{code}m{name}\x1b[0m", 1)
        self._levels[name] = padded
        return padded

    def _with_traceback(self, line: str, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line


def _traceback_lines(message: str) -> str:
    """A traceback logged as the message keeps its lines, each escaped; a line that does not
    start indented is indented, so none can pass for a log line of its own."""
    first, *rest = (_escaped(line) for line in message.rstrip("\n").split("\n"))
    return "\n".join([first, *(line if line.startswith(" ") else f"  {line}" for line in rest)])


def _escaped(message: str) -> str:
    """The message with control characters escaped: a rollout id or an error message
    from a peer must not forge log lines or send escapes to the terminal. The
    traceback, appended after it, keeps its line breaks."""
    if message.isprintable():  # C speed; the common case costs nothing more
        return message
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], message)


class BatchingHandler(logging.StreamHandler[IO[str]]):
    """Writes the lines logged within `interval` seconds with a single write and flush.

    Inside a running loop a line waits at most `interval` (50 ms: no one reads faster)
    and the lines keep their order; outside a loop it is written at once. `flush`
    (also run by logging at interpreter exit) writes whatever is pending. One write per
    loop iteration still showed in a busy server's profile; one per 50 ms does not.
    """

    def __init__(self, stream: IO[str], interval: float = 0.05) -> None:
        super().__init__(stream)
        self.interval = interval
        self._pending: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._pending.append(line)
            self.flush()
            return
        if not self._pending:
            loop.call_later(self.interval, self.flush)
        self._pending.append(line)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if not self._pending:
                return
            lines, self._pending = self._pending, []
            try:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except Exception:  # a closed or broken stream must not break the server
                pass


def _skip_unused_record_fields() -> None:
    """Stop logging from collecting per record what none of our formats shows.

    These are the switches of the logging HOWTO's "Optimization" section; together
    they make a record about a third cheaper (BENCHMARKS.md).
    """
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # new in 3.12, not in typeshed
    logging._srcfile = None  # no caller frame lookup (no %(pathname)s, %(lineno)d, ...)


def setup_logging(level: str, json_lines: bool, console: Console) -> None:
    """Route rolloutctl's and uvicorn's logs to one handler at `level`."""
    if json_lines:
        handler: logging.Handler = BatchingHandler(sys.stdout)
        handler.setFormatter(JsonLineFormatter())
    else:
        handler = BatchingHandler(console.file)
        handler.setFormatter(LineFormatter(console.is_terminal and not console.no_color))
    _skip_unused_record_fields()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # per-request lines cost too much


class _TracebackHandler(logging.Handler):
    """Writes the tracebacks of failing agents and tools to stderr, and nothing else; when
    they are not `shown`, only counts them."""

    def __init__(self, shown: bool) -> None:
        super().__init__()
        self.shown, self.hidden = shown, 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and not self.shown:
            self.hidden += 1
        elif record.exc_info:
            trace = logging.Formatter().formatException(record.exc_info)
            sys.stderr.write(f"{record.getMessage()}:\n{trace}\n")


@contextlib.contextmanager
def in_process_logs(tracebacks: bool = False) -> Iterator[None]:
    """Silence a server run inside a command that reports its rollouts itself (`try`,
    `validate`): its log lines would repeat that report on stderr. With `tracebacks`
    (--debug), the tracebacks of failing agents and tools still reach stderr; without, one
    line at the end says how to see them."""
    logger = logging.getLogger("rolloutctl")
    saved = logger.level, logger.propagate, logger.handlers[:]
    handler = _TracebackHandler(tracebacks)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.handlers[:] = [handler]
    try:
        yield
    finally:
        logger.setLevel(saved[0])
        logger.propagate, logger.handlers[:] = saved[1], saved[2]
        if handler.hidden:
            sys.stderr.write(f"rolloutctl: {_RAISED}; --debug shows where (your file and line)\n")


_RAISED = "the agent or a tool raised an exception"
