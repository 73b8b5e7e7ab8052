"""One request and its response on the lean HTTP server: the ASGI `receive` and `send`.

The request body is read whole before the app runs, so `receive` answers at once and
an app that answers without awaiting anything else runs to its end in one go. The
response goes out in as few writes as its messages allow: a head and a whole body are
one write. How a response is framed (Content-Length, chunks, none) is `response_framing`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

from rolloutctl.net.response_framing import ResponseFraming, status_line

__all__ = ["AnswerJson", "Cycle", "Link"]

log = logging.getLogger("rolloutctl.net.http_server")
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
# An app's optional `answer_json(scope, body)`: for a request it takes, an awaitable of
# (status, JSON value); None leaves the request to the app's ASGI interface.
AnswerJson = Callable[[dict[str, Any], bytes], Awaitable[tuple[int, Any]] | None]
_ERROR_500 = (
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error"
)


class Link(Protocol):
    """What a cycle needs of its connection."""

    transport: asyncio.Transport

    def finished(self, cycle: Cycle) -> None: ...

    async def drain(self) -> None: ...


class Cycle(ResponseFraming):
    """The request (`scope`, `body`) and the state of its response."""

    __slots__ = ("body", "disconnected", "done", "gone", "link", "started")

    def __init__(self, link: Link, scope: dict[str, Any], body: bytes, keep_alive: bool) -> None:
        self.link, self.scope, self.keep_alive = link, scope, keep_alive
        self.body: bytes | None = body  # until the app has received it
        self.head = None
        self.started = self.done = self.disconnected = self.chunked = self.bodiless = False
        self.remaining = None
        self.gone: asyncio.Future[None] | None = None  # set once done or disconnected

    async def run(self, app: App, answer_json: AnswerJson | None = None) -> None:
        """The app on this request: through `answer_json` if it takes the request, else
        ASGI. A failure before the answer is a 500, after it a close."""
        try:
            answer = None
            if answer_json is not None and self.scope["method"] != "HEAD":
                answer = answer_json(self.scope, self.body or b"")
            if answer is None:
                await app(self.scope, self.receive, self.send)
            else:
                self._json(*await answer)
        except Exception:
            log.exception("the ASGI app failed on %s %s", self.scope["method"], self.scope["path"])
            self._fail()
            return
        if not self.done and not self.disconnected:
            log.error("the ASGI app returned without completing its response")
            self._fail()

    def _json(self, status: int, payload: Any) -> None:
        """A JSON answer in one write, without ASGI's messages (a trainer callback's)."""
        body = orjson.dumps(payload)
        if self.disconnected:
            return
        close = b"" if self.keep_alive else b"connection: close\r\n"
        self.started = True
        self.link.transport.write(
            b"%scontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s"
            % (status_line(status), len(body), close, body)
        )
        self._finish()

    def _fail(self) -> None:
        if self.disconnected:
            return
        if not self.started or self.head is not None:  # nothing written yet
            self.link.transport.write(_ERROR_500)
        self.keep_alive = False
        self._finish()

    def disconnect(self) -> None:
        self.disconnected = True
        self._wake()

    def _wake(self) -> None:
        if self.gone is not None and not self.gone.done():
            self.gone.set_result(None)

    async def receive(self) -> dict[str, Any]:
        """The whole body first; then `http.disconnect` once the response is done or the
        client left (an app streaming an answer watches for that)."""
        body = self.body
        if body is not None:
            self.body = None
            return {"type": "http.request", "body": body, "more_body": False}
        if not self.done and not self.disconnected:
            if self.gone is None:
                self.gone = asyncio.get_running_loop().create_future()
            await self.gone
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if self.disconnected:
            return  # the client left: what the app still sends goes nowhere
        kind = message["type"]
        if kind == "http.response.start" and not self.started:
            self.head = self._head(message["status"], message.get("headers", ()))
            self.started = True
        elif kind == "http.response.body" and self.started and not self.done:
            await self._body(message.get("body", b""), message.get("more_body", False))
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} at this point of the response")

    async def _body(self, body: bytes, more: bool) -> None:
        head, write = self.head, self.link.transport.write
        if head is not None:
            self.head = None
            write(head + self._framing(len(body), more) + self._part(body, more))
        elif body or not more:
            write(self._part(body, more))
        if more:
            await self.link.drain()
        else:
            if self.remaining:
                self.keep_alive = False  # the client was promised bytes that never came
            self._finish()

    def _finish(self) -> None:
        self.done = True
        self._wake()
        self.link.finished(self)
