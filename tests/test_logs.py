"""The log handler of long-running commands: every line written, in order, once a loop turn."""

from __future__ import annotations

import asyncio
import io
import logging
import traceback
from collections.abc import Iterator

import pytest

from rolloutctl.logs import BatchingHandler, LineFormatter


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = BatchingHandler(stream)
    handler.setFormatter(LineFormatter(colour=False))
    logger = logging.getLogger("rolloutctl.test_logs")
    logger.handlers[:], logger.propagate = [handler], False
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, stream
    finally:
        logger.handlers[:], logger.propagate = [], True


def test_outside_a_loop_a_line_is_written_at_once(logged):
    logger, stream = logged
    logger.info("rollout %s started", "r-1")
    assert stream.getvalue().endswith(" INFO    rollout r-1 started\n")


def test_in_a_loop_lines_are_written_together_soon_and_in_order(logged):
    logger, stream = logged

    async def main() -> tuple[str, str]:
        for i in range(3):
            logger.info("line %d", i)
        during = stream.getvalue()
        for _ in range(3000):  # written within the handler's interval (50 ms)
            await asyncio.sleep(0.01)
            if stream.getvalue():
                break
        return during, stream.getvalue()

    during, after = asyncio.run(main())
    assert during == ""
    assert [line.split(" ", 2)[2].strip() for line in after.splitlines()] == [
        "line 0",
        "line 1",
        "line 2",
    ]


def test_a_pending_line_is_written_by_flush_even_if_the_loop_never_turns(logged):
    logger, stream = logged

    async def main() -> None:
        logger.warning("last words")
        logger.handlers[0].flush()  # what logging.shutdown does at exit

    asyncio.run(main())
    assert stream.getvalue().count("last words") == 1


def test_a_traceback_follows_its_line(logged):
    logger, stream = logged
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("rollout r-2 failed")
    text = stream.getvalue()
    assert "ERROR   rollout r-2 failed\nTraceback" in text and "ValueError: boom" in text


def test_a_traceback_logged_as_the_message_keeps_its_lines_each_escaped(logged):
    """The Osmosis SDK logs `traceback.format_exc()` as an error message."""
    logger, stream = logged
    try:
        raise ValueError("boom\x1b[31m\n12:00:00 INFO    forged")
    except ValueError:
        logger.error(traceback.format_exc())
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(" ERROR   Traceback (most recent call last):")
    assert lines[1].startswith('  File "') and "raise ValueError" in lines[2]
    assert lines[-2:] == ["  ValueError: boom\\x1b[31m", "  12:00:00 INFO    forged"]


def test_colour_marks_only_the_level():
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "careful %s", ("now",), None)
    line = LineFormatter(colour=True).format(record)
    assert line.endswith(" \x1b[33mWARNING\x1b[0m careful now")
