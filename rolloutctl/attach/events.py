"""Reading a running mock trainer's `GET /v1/events` server-sent events as `Event`s.

The trainer subscribes the client before it sends the response headers, so once
`open_events` has yielded, no later exchange can be missed: `init --watch` relies on
that to subscribe first and send the init second.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import httpx

from rolloutctl.errors import StreamEnded, TrainerUnreachable
from rolloutctl.events import Event, EventKind
from rolloutctl.protocol import COMPLETED_PATH

__all__ = ["EVENTS_PATH", "open_events", "past_completion"]


EVENTS_PATH = "/v1/events"


@contextlib.asynccontextmanager
async def open_events(
    trainer_url: str, rollout_id: str | None = None
) -> AsyncIterator[AsyncIterator[Event]]:
    """Subscribe to the trainer's events (one rollout's, or all); yield them as they come."""
    url = trainer_url.rstrip("/") + EVENTS_PATH
    params = {"rollout_id": rollout_id} if rollout_id else {}
    timeout = httpx.Timeout(10.0, read=None)  # events may be minutes apart
    async with httpx.AsyncClient(timeout=timeout) as client:
        stream = client.stream("GET", url, params=params)
        try:
            response = await stream.__aenter__()
        except httpx.TransportError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise TrainerUnreachable(f"cannot reach the mock trainer at {url}: {reason}") from None
        try:
            if response.status_code != 200:
                raise TrainerUnreachable(
                    f"{url} answered HTTP {response.status_code}: is it a rolloutctl mock trainer?"
                )
            yield _events(response)
        finally:
            await stream.__aexit__(None, None, None)


async def past_completion(trainer_url: str, rollout_id: str) -> Event | None:
    """The completion the trainer already received for `rollout_id`, as an event."""
    url = f"{trainer_url.rstrip('/')}{COMPLETED_PATH}/{rollout_id}"
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.get(url)
    if response.status_code != 200:
        return None
    data = {"status_code": 200, "body": response.json()}
    return Event(EventKind.COMPLETION, rollout_id, data)


async def _events(response: httpx.Response) -> AsyncIterator[Event]:
    try:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                yield Event.from_dict(json.loads(line[len("data: ") :]))
    except httpx.TransportError:
        raise StreamEnded("the mock trainer closed the event stream") from None
