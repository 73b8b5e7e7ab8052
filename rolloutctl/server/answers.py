"""What the server's framework-free routes answer, and how: (status, JSON body, headers).

Init is served without FastAPI (`core.py`), so its refusals are built here in
FastAPI's own shape (`{"detail": ...}`), the same a FastAPI route would give;
`status_json` is the status route's body, which must encode whatever an agent returned.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from rolloutctl.net.pool_messages import Header

__all__ = [
    "InitAnswer",
    "json_answer",
    "send_answer",
    "status_json",
    "too_large",
    "unprocessable",
    "unprocessable_json",
    "validation_detail",
]

InitAnswer = tuple[int, bytes, tuple[Header, ...]]


def validation_detail(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as FastAPI-style detail, without the offending input values."""
    return [
        {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def json_answer(status: int, content: Any, headers: tuple[Header, ...] = ()) -> InitAnswer:
    """`content` as the JSON body of a `status` answer."""
    return status, orjson.dumps(content), headers


def unprocessable(field: str, message: str) -> InitAnswer:
    """422 naming the body's `field`."""
    detail = [{"loc": ["body", field], "msg": message, "type": "value_error"}]
    return json_answer(422, {"detail": detail})


def unprocessable_json(exc: orjson.JSONDecodeError) -> InitAnswer:
    """422 for a body that is not JSON orjson reads."""
    message = f"body is not JSON (NaN, Infinity and out-of-range numbers are not): {exc}"
    return json_answer(422, {"detail": [{"loc": ["body"], "msg": message, "type": "json_invalid"}]})


def too_large(limit: int) -> InitAnswer:
    """413, closing the connection: otherwise the server would read the rest to discard it."""
    detail = {"detail": f"init body is larger than {limit} bytes (--max-init-bytes)"}
    return json_answer(413, detail, ((b"connection", b"close"),))


async def send_answer(send: Any, status: int, body: bytes, headers: tuple[Header, ...]) -> None:
    """Send a JSON answer over ASGI: its start, with `headers` after the framing, then its body."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_json_headers(len(body)), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _json_headers(length: int) -> tuple[Header, Header]:
    return (b"content-type", b"application/json"), (b"content-length", b"%d" % length)


def status_json(status: dict[str, Any]) -> bytes:
    """The status body; it cannot fail, whatever an agent put in its result.

    orjson writes NaN and Infinity as null, stringifies what it cannot encode, and
    refuses only absurd nesting, which then shows as a string.
    """
    try:
        return orjson.dumps(status, default=str, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        completion = repr(status.get("completion"))[:10_000]
        return orjson.dumps({**status, "completion": completion}, default=str)
