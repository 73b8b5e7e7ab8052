"""Sending one init to a running RolloutServer on behalf of a separate mock trainer.

`rolloutctl init` is the missing piece of a two-process stack (`serve` in one
terminal, `mock-trainer` in another): it names the trainer as the init's `server_url`,
so the server calls that trainer back, and `watch` shows the exchanges there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from rolloutctl.errors import (
    CannotStartError,
    InitRefused,
    InputError,
    JsonLimitError,
    TrainerUnreachable,
)
from rolloutctl.jsonlimits import loads
from rolloutctl.protocol import INIT_PATH
from rolloutctl.redaction import one_line
from rolloutctl.trainer.start_route import START_PATH

__all__ = ["read_messages", "send_init", "start_through_trainer"]


def read_messages(path: Path) -> list[dict[str, Any]]:
    """The init's messages from a JSON file: a list of message objects."""
    try:
        messages = loads(path.read_text(encoding="utf-8"), finite=True)
    except OSError as exc:
        raise InputError(f"--messages: cannot read {path}: {exc.strerror or exc}") from None
    except JsonLimitError as exc:
        raise InputError(f"--messages: {path}: {exc}") from None
    except ValueError as exc:
        raise InputError(f"--messages: {path} is not JSON: {one_line(str(exc))}") from None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise InputError(f"--messages: {path} must hold a JSON list of message objects")
    return messages


async def send_init(
    server_url: str, init: dict[str, Any], server_key: str | None
) -> dict[str, Any]:
    """POST the init; the 202 body, or an error naming what the server said."""
    headers = {"Authorization": f"Bearer {server_key}"} if server_key else {}
    url = server_url.rstrip("/") + INIT_PATH
    async with httpx.AsyncClient(timeout=30.0) as client:
        try:
            response = await client.post(url, json=init, headers=headers)
        except httpx.TransportError as exc:
            reason = one_line(str(exc)) or type(exc).__name__
            raise CannotStartError(f"cannot reach the RolloutServer at {url}: {reason}") from None
    secrets = (init.get("api_key"), server_key)
    try:
        body = response.json()
    except ValueError:
        body = response.text[:300]
    if response.status_code != 202:
        detail = body.get("detail", body) if isinstance(body, dict) else body
        shown = detail if isinstance(detail, str) else json.dumps(detail, default=str)
        raise InitRefused(response.status_code, one_line(shown, *secrets))
    return body if isinstance(body, dict) else {}


async def start_through_trainer(
    trainer_url: str, server_url: str, init: dict[str, Any], server_key: str | None
) -> dict[str, Any]:
    """Have the mock trainer at `trainer_url` send the init (so that it knows the rollout's
    tools and limits, as a trainer that starts a rollout does); the 202 body. A trainer
    without that route (not rolloutctl's) is left out: the init is sent from here."""
    url = trainer_url.rstrip("/") + START_PATH
    request = {"rollout_server_url": server_url, "init": init, "server_key": server_key}
    async with httpx.AsyncClient(timeout=60.0) as client:
        try:
            response = await client.post(url, json=request)
        except httpx.TransportError as exc:
            reason = one_line(str(exc)) or type(exc).__name__
            raise TrainerUnreachable(
                f"cannot reach the trainer at {trainer_url}: {reason}"
            ) from None
    if response.status_code in (404, 405):
        return await send_init(server_url, init, server_key)
    answer = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    secrets = (init.get("api_key"), server_key)
    if response.status_code != 200 or not isinstance(answer, dict):
        detail = answer.get("detail") if isinstance(answer, dict) else response.text[:300]
        raise CannotStartError(one_line(str(detail), *secrets))
    if answer.get("status_code") != 202:
        shown = answer.get("detail")
        shown = shown if isinstance(shown, str) else json.dumps(shown, default=str)
        raise InitRefused(int(answer.get("status_code") or 0), one_line(shown, *secrets))
    body = answer.get("body")
    return body if isinstance(body, dict) else {}
