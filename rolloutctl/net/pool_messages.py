"""What an `HttpPool` exchange writes and reads: the request head as bytes, the answer
as a light response object (building an httpx.Response per callback cost as much as the
rest of the callback, BENCHMARKS.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

import httpx

__all__ = [
    "LENGTH_HEADERS",
    "Header",
    "Headers",
    "Origin",
    "PoolResponse",
    "RequestTarget",
    "encode_headers",
    "request_head",
]

Header = tuple[bytes, bytes]
Headers = Sequence[Header] | bytes  # bytes: already encoded by `encode_headers`
Origin = tuple[bytes, bytes, int | None]  # scheme, host, port

LENGTH_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
_FRAMING = LENGTH_HEADERS | {b"host"}


class RequestTarget(NamedTuple):
    """The parts of a URL a request needs, read once per URL object (`HttpPool` keeps them)."""

    url: httpx.URL
    origin: Origin
    path: bytes
    netloc: bytes


class PoolResponse:
    """What `HttpPool.request` answers: status, headers and body, with the part of
    httpx.Response's API its callers use: building an httpx.Response cost about as much as
    the rest of a trainer callback (BENCHMARKS.md)."""

    __slots__ = ("content", "raw_headers", "status_code")

    def __init__(self, status_code: int, raw_headers: list[Header], content: bytes) -> None:
        self.status_code, self.raw_headers, self.content = status_code, raw_headers, content

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def headers(self) -> httpx.Headers:
        return httpx.Headers(self.raw_headers)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


def encode_headers(headers: Sequence[Header]) -> bytes:
    """Header lines as sent (without the framing ones the pool writes itself); a caller
    that sends the same headers on every request encodes them once and passes the bytes."""
    return b"".join(b"%s: %s\r\n" % pair for pair in headers if pair[0].lower() not in _FRAMING)


def request_head(method: bytes, target: RequestTarget, headers: Headers, length: int) -> bytes:
    lines = headers if isinstance(headers, bytes) else encode_headers(headers)
    return b"%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %d\r\n\r\n" % (
        method,
        target.path,
        target.netloc,
        lines,
        length,
    )
