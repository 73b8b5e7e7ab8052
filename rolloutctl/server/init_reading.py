"""Reading an init: its body within `--max-init-bytes`, then the `InitRequest` in it.

What cannot be read comes back as the answer that refuses it (413 or 422, from
`answers`), so `ServerCore.answer_init` only has the manager's side left to do.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson
from pydantic import ValidationError
from starlette.types import Scope

from rolloutctl.protocol import InitRequest
from rolloutctl.server.answers import (
    InitAnswer,
    json_answer,
    too_large,
    unprocessable,
    unprocessable_json,
    validation_detail,
)
from rolloutctl.server.settings import ServerSettings

__all__ = ["read_body", "read_init"]


async def read_body(scope: Scope, receive: Any, limit: int) -> bytes | None:
    """The request body, or None once it is known to exceed `limit` bytes.

    A declared Content-Length over the limit is refused before any of the body is
    read; a body without one is read chunk by chunk, joined once (linear time).
    """
    declared = _content_length(scope)
    if declared is not None and declared > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def read_init(raw: bytes | None, settings: ServerSettings) -> InitRequest | InitAnswer:
    """The init in `raw` (None: over the limit), or the 413/422 answer that refuses it."""
    if raw is None:
        return too_large(settings.max_init_bytes)
    try:
        # orjson refuses NaN, Infinity and numbers past a double, which pydantic's
        # parser would let in and which no JSON encoder can then send on
        init = InitRequest.model_validate(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        return unprocessable_json(exc)
    except ValidationError as exc:
        return json_answer(422, {"detail": validation_detail(exc)})
    return _callback_host_refused(init, settings) or init


def _callback_host_refused(init: InitRequest, settings: ServerSettings) -> InitAnswer | None:
    """422 when the init's callback host is not on `--allow-callback-host` (none: all are)."""
    if not settings.allow_callback_hosts:
        return None
    host = urlsplit(init.server_url).hostname or ""
    if settings.callback_host_allowed(host):
        return None
    message = f"callback host {host!r} is not on this server's allowlist (--allow-callback-host)"
    return unprocessable("server_url", message)
