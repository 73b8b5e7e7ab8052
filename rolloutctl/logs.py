"""Logging set-up for long-running commands: rich lines for people, JSON lines for machines."""

from __future__ import annotations

import json
import logging
import sys
import time

from rich.console import Console
from rich.highlighter import NullHighlighter
from rich.logging import RichHandler


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": round(time.time(), 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        return json.dumps(entry)


def setup_logging(level: str, json_lines: bool, console: Console) -> None:
    """Route rolloutctl's and uvicorn's logs to one handler at `level`."""
    if json_lines:
        handler: logging.Handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonLineFormatter())
    else:
        handler = RichHandler(
            console=console,
            show_path=False,
            markup=False,
            highlighter=NullHighlighter(),
            log_time_format="[%X]",
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # per-request lines cost too much
