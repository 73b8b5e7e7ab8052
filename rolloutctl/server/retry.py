"""When to retry a trainer call, and how long to wait: backoff, Retry-After, the window.

Pure functions of the numbers involved, so the retry rules of docs/protocol.md can be
checked without a network or a clock; `rolloutctl.server.callbacks` does the waiting.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["RETRYABLE_4XX", "RetryPolicy", "is_retryable", "parse_retry_after"]

RETRYABLE_4XX = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How one trainer call is retried.

    `window` is wall time from the start of the first try: a retry starts only inside
    it, and a wait that would end past it is cut short, so a retry-happy trainer cannot
    hold a rollout for long. A single try longer than the window (a 300 s timeout with
    the defaults) is therefore not retried; lower `call_timeout` to retry timeouts.
    `jitter` adds up to that fraction at random to each backoff, so that the many
    rollouts one trainer hiccup fails do not all retry in the same millisecond.
    """

    max_retries: int = 3
    initial_delay: float = 0.5
    multiplier: float = 2.0
    window: float = 30.0
    call_timeout: float = 300.0
    jitter: float = 0.2

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry)."""
        base = self.initial_delay * self.multiplier ** (retry - 1)
        return base * (1.0 + self.jitter * random.random())

    def next_delay(
        self, retry: int, elapsed: float, retry_after: float | None = None
    ) -> float | None:
        """Seconds to wait before retry `retry`, or None when no retry is left.

        `elapsed` counts from the first try's start; `retry_after` is what the trainer
        asked for, honoured instead of the backoff but never past the window.
        """
        if retry > self.max_retries or elapsed >= self.window:
            return None
        wanted = self.backoff(retry) if retry_after is None else retry_after
        return min(wanted, self.window - elapsed)


def is_retryable(status_code: int) -> bool:
    """5xx, 408 and 429 may pass if asked again; any other 4xx will not."""
    return status_code >= 500 or status_code in RETRYABLE_4XX


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or HTTP date); None if unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, time.time() if now is None else now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _seconds_until(http_date: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT even when they fail to say so
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
