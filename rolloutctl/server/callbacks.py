"""Trainer callbacks: the chat and completed calls a RolloutServer makes to the trainer.

`TrainerClient` adds docs/protocol.md's rules (Bearer only with a key, retries, error
categories, one logical delivery) on top of `HttpPool`, the connection pool that all
rollouts of a server process share.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson

from rolloutctl import __version__
from rolloutctl.errors import TrainerError
from rolloutctl.net.http_pool import HttpPool, default_pool
from rolloutctl.net.pool_messages import Header, PoolResponse, encode_headers
from rolloutctl.protocol import CHAT_PATH, COMPLETED_PATH, ErrorCategory
from rolloutctl.redaction import one_line
from rolloutctl.server.retry import RetryPolicy, is_retryable, parse_retry_after

__all__ = [
    "CallWatch",
    "Delivery",
    "HttpPool",
    "RetryPolicy",
    "TrainerClient",
    "default_pool",
    "encode_body",
]

logger = logging.getLogger(__name__)
MAX_REPLY_DEPTH = 254  # orjson's encoding limit, which the next chat request must pass
_USER_AGENT = f"rolloutctl/{__version__}".encode()


class CallWatch(Protocol):
    """Sees a rollout's callbacks (`rolloutctl.observe.watch.RolloutWatch` is one)."""

    def opened(self, endpoint: str) -> bytes:
        """A call to `endpoint` (`chat`, `completed`) starts: header lines to add to it."""
        ...

    def callback(self, endpoint: str, attempt: int, ok: bool | None) -> None:
        """One try ended: `ok` True when it took, None when a retry follows, False when
        the call failed for good."""

    def answered(self, response: dict[str, Any]) -> None:
        """The chat call's answer, as the agent will get it."""


@dataclass
class Delivery:
    """How posting a completion ended: `error` is one line without secrets."""

    delivered: bool
    attempts: int
    error: str | None = None


class TrainerClient:
    """Calls one trainer back: its chat endpoint per LLM turn and its completed endpoint once."""

    def __init__(
        self,
        server_url: str,
        api_key: str | None,
        policy: RetryPolicy | None = None,
        pool: HttpPool | None = None,
        chat_path: str = CHAT_PATH,
        watch: CallWatch | None = None,
    ) -> None:
        """`chat_path` is appended to `server_url` for chat calls (the 0.3 protocol's base
        URL takes `/chat/completions`); `watch` sees every call and try."""
        self._chat_url, self._completed_url = _callback_urls(server_url.rstrip("/"), chat_path)
        self._secret = api_key if api_key and api_key.strip() else None
        self._headers = (
            encode_headers(_callback_headers(self._secret)) if self._secret else _NO_KEY_HEADERS
        )
        self._policy = policy or RetryPolicy()
        self._pool = pool or default_pool()
        self._watch = watch

    def __repr__(self) -> str:
        key = "'***'" if self._secret else None
        return f"TrainerClient({_where(self._chat_url).removesuffix(CHAT_PATH)!r}, api_key={key})"

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """The trainer's chat completion for `body`; raises TrainerError.

        A 2xx whose body is no JSON object is a trainer_server_error and is not retried:
        the trainer took the request and broke its side of the contract, and asking
        again could make it sample (and record) the turn twice.
        """
        response, _ = await self._post(self._chat_url, body, "chat")
        data = _decode(response.content)
        if isinstance(data, dict):
            if self._watch is not None:
                self._watch.answered(data)
            return data
        raise TrainerError(
            f"{_where(self._chat_url)} answered HTTP {response.status_code} "
            "with a body that is not a JSON object (NaN, Infinity and nesting past "
            f"{MAX_REPLY_DEPTH} levels are refused)",
            ErrorCategory.TRAINER_SERVER_ERROR,
            response.status_code,
        )

    async def complete(self, payload: dict[str, Any] | bytes) -> Delivery:
        """Post the completion (a dict, or one already encoded by `encode_body`), retrying
        until the first 2xx; never raises but CancelledError."""
        try:
            _, attempts = await self._post(self._completed_url, payload, "completed")
        except TrainerError as error:
            return Delivery(False, error.attempts, str(error))
        except Exception as exc:  # a broken delivery must still end the rollout cleanly
            return Delivery(False, 0, self._scrub(f"{type(exc).__name__}: {exc}"))
        return Delivery(True, attempts)

    async def _post(
        self, url: httpx.URL, body: dict[str, Any] | bytes, endpoint: str
    ) -> tuple[PoolResponse, int]:
        """The first 2xx response and the number of tries it took; raises TrainerError."""
        content = body if isinstance(body, bytes) else encode_body(body)
        watch, headers = self._watch, self._headers
        if watch is not None:
            headers += watch.opened(endpoint)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._attempt(url, content, headers)
            except TrainerError as error:
                delay = self._retry_delay(error, attempt, started)
                if watch is not None:
                    watch.callback(endpoint, attempt, None if delay is not None else False)
                if delay is None:
                    error.attempts = attempt
                    raise
                logger.debug("retrying in %.2f s: %s", delay, error)
                await asyncio.sleep(delay)
                continue
            if watch is not None:
                watch.callback(endpoint, attempt, True)
            return response, attempt

    def _retry_delay(self, error: TrainerError, attempt: int, started: float) -> float | None:
        if not _retryable(error):
            return None
        elapsed = time.monotonic() - started
        return self._policy.next_delay(attempt, elapsed, error.retry_after)

    async def _attempt(self, url: httpx.URL, content: bytes, headers: bytes) -> PoolResponse:
        timeout = self._policy.call_timeout
        try:
            response = await self._pool.post(url, content, headers, timeout)
        except httpx.TimeoutException:
            message = f"{_where(url)} gave no answer within {timeout:g} s"
            raise TrainerError(message, ErrorCategory.TIMEOUT) from None
        except httpx.TransportError as exc:
            message = self._scrub(f"cannot reach {_where(url)}: {exc}")
            raise TrainerError(message, ErrorCategory.CONNECTION_ERROR) from None
        if response.is_success:
            return response
        raise self._status_error(url, response)

    def _status_error(self, url: httpx.URL, response: PoolResponse) -> TrainerError:
        status = response.status_code
        category = ErrorCategory.TRAINER_SERVER_ERROR
        if not is_retryable(status):
            category = ErrorCategory.TRAINER_CLIENT_ERROR
        excerpt = self._scrub(response.content.decode("utf-8", "replace"))[:200]
        message = f"{_where(url)} answered HTTP {status}: {excerpt}"
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return TrainerError(message, category, status, retry_after)

    def _scrub(self, text: str) -> str:
        """One line, with the api_key masked should a trainer echo it back."""
        return one_line(text, self._secret)


def _retryable(error: TrainerError) -> bool:
    if error.status_code is None:
        return error.category in (ErrorCategory.TIMEOUT, ErrorCategory.CONNECTION_ERROR)
    return is_retryable(error.status_code)


@functools.lru_cache(maxsize=1024)
def _callback_urls(base_url: str, chat_path: str) -> tuple[httpx.URL, httpx.URL]:
    """Both callback URLs, parsed once per trainer: parsing costs as much as a request's I/O."""
    return httpx.URL(base_url + chat_path), httpx.URL(base_url + COMPLETED_PATH)


def _callback_headers(api_key: str | None) -> list[Header]:
    headers = [(b"User-Agent", _USER_AGENT), (b"Content-Type", b"application/json")]
    if api_key is None:
        return headers
    if any(char in api_key for char in "\r\n\0"):
        raise ValueError("api_key holds a line break or NUL, which no HTTP header can carry")
    return [*headers, (b"Authorization", b"Bearer " + api_key.encode())]


_NO_KEY_HEADERS = encode_headers(_callback_headers(None))  # one client per rollout: build once


def _where(url: httpx.URL) -> str:
    """The URL for messages: no user info and no query, where credentials may hide."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}{url.path}"


def encode_body(body: dict[str, Any]) -> bytes:
    """orjson, much faster than json on a long history; json only for ints past 64 bits.

    orjson's result keeps a buffer of a few KiB whatever its length, and a body lives
    as long as its call (retries included), so it is copied to its size (the figures
    are in BENCHMARKS.md).
    """
    try:
        return bytes(memoryview(orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS)))
    except TypeError:
        return json.dumps(body, default=str, ensure_ascii=False).encode()


def _decode(content: bytes) -> Any:
    """Strict JSON that can be sent on again, or None.

    orjson refuses NaN and Infinity (history must not turn them into null); re-encoding
    the reply, which orjson does in microseconds, refuses nesting deeper than the next
    chat request could carry.
    """
    try:
        data = orjson.loads(content)
        orjson.dumps(data)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return None
    return data
