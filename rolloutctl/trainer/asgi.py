"""The few raw-ASGI pieces the trainer app needs: body, headers, JSON and SSE responses.

Raw ASGI rather than a framework because the bench sends thousands of callbacks a
second through one trainer process, and every microsecond per request counts there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from rolloutctl.trainer.bus import Subscription

__all__ = [
    "Handler",
    "JsonAnswer",
    "Receive",
    "Send",
    "header",
    "lifespan",
    "read_body",
    "send_json",
    "stream_events",
]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
JsonAnswer = tuple[int, dict[str, Any]]  # an HTTP status and a JSON body
Handler = Callable[[dict[str, Any], bytes | None], Awaitable[JsonAnswer]]  # (body, auth)
_JSON = (b"content-type", b"application/json")
_SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


async def read_body(receive: Receive) -> bytes:
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):
        return body
    chunks = [body]
    while message.get("more_body"):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


def header(scope: dict[str, Any], name: bytes) -> bytes | None:
    """A request header's raw value (names arrive lower-cased), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


async def send_json(send: Send, status: int, payload: Any) -> None:
    body = orjson.dumps(payload)
    headers = [_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def stream_events(receive: Receive, send: Send, subscription: Subscription) -> None:
    """Server-sent events: one `data: <event JSON>` per event until the client leaves."""

    async def watch_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        subscription.close()

    watcher = asyncio.create_task(watch_disconnect())
    try:
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        await send({"type": "http.response.body", "body": b": subscribed\n\n", "more_body": True})
        async for event in subscription:
            chunk = b"data: " + orjson.dumps(event.to_dict()) + b"\n\n"
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        watcher.cancel()
        subscription.close()


async def lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown; the trainer needs no setup of its own."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
