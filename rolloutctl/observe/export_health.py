"""One log line when span exports start failing, and one when they work again.

The OTLP exporter's client logs every failed try of every batch (three lines a batch as
it backs off, again every few seconds while a receiver is down), so a server whose
receiver is gone would log little else. Its lines are dropped here; what changed is
said once instead, and the failed spans are counted in /metrics
(`rolloutctl_span_export_failures_total`).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol

from rolloutctl.redaction import one_line, without_credentials

__all__ = ["ExportHealth", "Sent", "why"]

log = logging.getLogger("rolloutctl.traces")
# the client's own lines go to a logger that drops them; made apart from logging's tree,
# so no logging configuration (a dictConfig resets the loggers it finds) turns it back on
_EXPORTER = logging.Logger("rolloutctl.traces.exporter")
_EXPORTER.disabled = True
# the part of a transport error that says what happened, not which pool it happened in:
# "[Errno 111] Connection refused", "Read timed out"
_CAUSE = re.compile(r"\[Errno -?\d+\] [^'\")]+|(?:Read|Connect) timed out")


class Sent(Protocol):
    """What the exporter's client says of one request (its `_ExportResult`)."""

    @property
    def success(self) -> bool: ...
    @property
    def status_code(self) -> int | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def error(self) -> BaseException | None: ...


def why(result: Sent) -> str:
    """The short reason a request failed: its HTTP status, or the system's error."""
    if result.status_code is not None:
        return f"HTTP {result.status_code} {result.reason or ''}".strip()
    text = str(result.error) if result.error is not None else "no answer in time"
    found = _CAUSE.search(text)
    return found.group(0) if found else one_line(text)[:160]


class ExportHealth:
    """Whether the receiver takes spans, said on a change: `saw(result)` per request."""

    def __init__(self, client: Any) -> None:
        """Takes over the logging of `client`, the exporter's (its `_logger`), and names
        the receiver by the client's endpoint."""
        client._logger = _EXPORTER
        self.receiver, self.failing = without_credentials(client._endpoint), False

    def saw(self, result: Sent) -> None:
        if result.success and self.failing:
            log.info("traces: the receiver at %s takes spans again", self.receiver)
        elif not result.success and not self.failing:
            log.warning(
                "traces: cannot send spans to %s (%s); they are dropped and counted in "
                "rolloutctl_span_export_failures_total until it takes them again",
                self.receiver,
                why(result),
            )
        self.failing = not result.success
