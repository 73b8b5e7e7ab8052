"""How the lean HTTP server frames a response on the wire: its head, then its body.

A head and a whole body go out with a Content-Length; a body sent in parts goes out
chunked (RFC 9112 §7.1), or, to an HTTP/1.0 client, until the connection closes. HEAD,
204 and 304 answers carry no body. `asgi_cycle.Cycle` drives this from the app's messages.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

__all__ = ["ResponseFraming", "status_line"]

_STATUS_LINES = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus}
_BAD_NAME = re.compile(rb'[\x00-\x20\x7f-\xff()<>@,;:\[\]={}\\"/?]')
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_NO_BODY = frozenset({204, 304})
_CHECKED: set[tuple[bytes, bytes]] = set()  # header fields that passed `_check_header`
_MAX_CHECKED = 4096


def status_line(status: int) -> bytes:
    """The status line of `status`, its reason phrase included when it has one."""
    line = _STATUS_LINES.get(status)
    return line if line is not None else b"HTTP/1.1 %d \r\n" % status


def _check_header(name: bytes, value: bytes) -> None:
    """A header field an app may send (no line breaks, a token for a name); the pairs
    that pass are kept, so the few an app sends again and again are checked once."""
    if _BAD_NAME.search(name) or _BAD_VALUE.search(value):
        raise RuntimeError(f"invalid response header {name!r}")
    if len(_CHECKED) >= _MAX_CHECKED:
        _CHECKED.clear()
    _CHECKED.add((name, value))


class ResponseFraming:
    """The framing state of one response; `Cycle` sets every field when it starts."""

    __slots__ = ("bodiless", "chunked", "head", "keep_alive", "remaining", "scope")
    scope: dict[str, Any]  # the request's
    keep_alive: bool
    head: bytes | None  # the response head, until it is written
    remaining: int | None  # body bytes still owed under a Content-Length
    chunked: bool
    bodiless: bool  # HEAD, 204, 304

    def _head(self, status: int, headers: Any) -> bytes:
        """The head, without its blank line: framing is settled by the first body message."""
        lines = [status_line(status)]
        for name, value in headers:
            if (name, value) not in _CHECKED:
                _check_header(name, value)
            lowered = name.lower()
            if lowered == b"content-length":
                self.remaining = int(value)
            elif lowered == b"transfer-encoding":
                raise RuntimeError("the server frames the body itself: no Transfer-Encoding")
            elif lowered == b"connection" and b"close" in value.lower():
                self.keep_alive = False
            lines.append(b"%s: %s\r\n" % (name, value))
        if status in _NO_BODY:  # no body and no Content-Length (RFC 9110 §8.6)
            self.remaining, self.bodiless = 0, True
        elif self.scope["method"] == "HEAD":  # the GET's fields, no body
            self.bodiless = True
        if not self.keep_alive:
            lines.append(b"connection: close\r\n")
        return b"".join(lines)

    def _framing(self, size: int, more: bool) -> bytes:
        """The rest of the head: a Content-Length when the whole body is known now."""
        if self.remaining is not None:
            return b"\r\n"
        if not more:
            self.remaining = size
            return b"content-length: %d\r\n\r\n" % size
        if not self.keep_alive:  # e.g. HTTP/1.0, which has no chunks: the close ends the body
            return b"\r\n"
        self.chunked = True
        return b"transfer-encoding: chunked\r\n\r\n"

    def _part(self, body: bytes, more: bool) -> bytes:
        if self.chunked:
            chunk = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
            return chunk if more else chunk + b"0\r\n\r\n"
        if self.bodiless:  # HEAD, 204, 304: nothing after the head
            self.remaining = 0
            return b""
        if self.remaining is None:
            return body
        if len(body) > self.remaining:
            raise RuntimeError("the response body is longer than its Content-Length")
        self.remaining -= len(body)
        return body
