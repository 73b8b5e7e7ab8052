"""How the lean HTTP server reads a request: httptools' callbacks, then its ASGI scope.

httptools calls back per request line, header and body piece; they gather here, within
`MAX_HEAD` bytes of target and of header fields (past it, the request is malformed: a
400). When one is complete, `http_connection.Connection` turns it into a `Cycle`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httptools

__all__ = ["MAX_HEAD", "RequestReader"]

MAX_HEAD = 65536  # bytes of request target, and of header fields, a request may have
_METHODS: dict[bytes, str] = {}
Target = Callable[[bytes], tuple[str, bytes, bytes]]  # path, raw path, query of a target


class RequestReader(asyncio.Protocol):
    """The request being read on one connection, fed by httptools' callbacks."""

    def __init__(self, target: Target) -> None:
        self.target = target  # the server's (it keeps the targets it has seen)
        self.parser = httptools.HttpRequestParser(self)
        self.expect = False  # the request being read asked for `100 Continue`
        self.head_size = 0  # bytes of header fields read of the request being read
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.names: tuple[Any, Any] = (None, None)  # the server's and the client's address

    def _name_ends(self, transport: asyncio.BaseTransport) -> None:
        """Both ends' addresses, for the scope of every request on `transport`."""
        self.names = (_address(transport, "sockname"), _address(transport, "peername"))

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body, self.expect = b"", [], [], False
        self.head_size = 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_HEAD:
            raise ValueError("request target too long")  # httptools makes it a parse error

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value)
        if self.head_size > MAX_HEAD:
            raise ValueError("header fields too long")  # a 400, as for any malformed request
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect = True
        self.headers.append((name, value))

    def _version_11(self) -> bool:
        return self.parser.get_http_version() == "1.1"  # no interim answers to HTTP/1.0

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def _request(self) -> tuple[dict[str, Any], bytes, bool]:
        """The request just read: its ASGI scope, its body, and whether to keep alive."""
        parser, version = self.parser, self.parser.get_http_version()
        path, raw_path, query = self.target(self.url)
        method = _METHODS.get(raw := parser.get_method()) or _METHODS.setdefault(raw, raw.decode())
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": version,
            "server": self.names[0],
            "client": self.names[1],
            "scheme": "http",
            "method": method,
            "root_path": "",
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": self.headers,
        }
        keep_alive = version != "1.0" and parser.should_keep_alive()
        body = b"".join(self.body) if len(self.body) != 1 else self.body[0]
        return scope, body, keep_alive


def _address(transport: asyncio.BaseTransport, name: str) -> tuple[str, int] | None:
    address = transport.get_extra_info(name)
    return (address[0], address[1]) if isinstance(address, tuple) else None
