"""0.3 rollout servers that break one rule each, for `check --protocol osmosis` to catch.

Each is the SDK-only calculator of `examples/osmosis/sdk_calculator.py` with one breach:
a workflow that misbehaves towards the model, or a thin ASGI wrapper that bends one
answer of the SDK's own server. Run one as a process:

    python -m tests.osmosis.peers BREACH PORT
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

ROOT = Path(__file__).resolve().parents[2]
Asgi = Callable[..., Any]


def sdk_calculator() -> Any:
    path = ROOT / "examples" / "osmosis" / "sdk_calculator.py"
    spec = importlib.util.spec_from_file_location("sdk_calculator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rewriting(app: Asgi, method: str, path_test: Callable[[str], bool], change: Callable) -> Asgi:
    """Pass requests through; for matching ones, `change(status, body, request) -> (status,
    body)` rewrites the answer (bodies as bytes)."""

    async def wrapped(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] != method or not path_test(scope["path"]):
            return await app(scope, receive, send)
        request = bytearray()
        answer: dict[str, Any] = {"status": 200, "body": bytearray()}

        async def recording_receive() -> dict:
            message = await receive()
            request.extend(message.get("body", b""))
            return message

        async def buffering_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["body"].extend(message.get("body", b""))

        await app(scope, recording_receive, buffering_send)
        status, body = change(answer["status"], bytes(answer["body"]), bytes(request))
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped


def lease_ignored(app: Asgi) -> Asgi:
    """Serves any result GET with the right lease, whatever the request carried."""
    tokens: dict[str, bytes] = {}

    def remember(status: int, body: bytes, request: bytes) -> tuple[int, bytes]:
        if status == 202:
            answer = json.loads(body)
            tokens[answer["rollout_id"]] = answer["polling_lease_token"].encode()
        return status, body

    learning = rewriting(app, "POST", lambda p: p == "/rollout", remember)

    async def wrapped(scope: dict, receive: Callable, send: Callable) -> None:
        parts = scope["path"].split("/")
        if scope["type"] == "http" and len(parts) == 4 and parts[3] == "result":
            token = tokens.get(parts[2])
            if token is not None:
                headers = [h for h in scope["headers"] if h[0] != b"x-osmosis-rollout-lease"]
                scope = {**scope, "headers": [*headers, (b"x-osmosis-rollout-lease", token)]}
        await learning(scope, receive, send)

    return wrapped


def closed(health: bytes) -> bytes:
    """/health saying the server no longer accepts rollouts (while POST /rollout still does)."""
    body = json.loads(health)
    body["lifecycle"]["accepting_rollouts"] = False
    return json.dumps(body).encode()


def build(breach: str) -> Asgi:
    module = sdk_calculator()
    if breach == "no-bearer":

        class NoBearer(module.CalculatorWorkflow):  # type: ignore[name-defined,misc]
            def chat_headers(self, api_key: str | None) -> dict[str, str]:
                return {}

        return module.make_app(workflow=NoBearer)
    if breach == "rewrites-history":

        class Forgetful(module.CalculatorWorkflow):  # type: ignore[name-defined,misc]
            def sent(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return messages[:1] + messages[2:] if len(messages) > 2 else messages

        return module.make_app(workflow=Forgetful)
    app = module.make_app()
    is_rollout = lambda path: path == "/rollout"  # noqa: E731
    wrappers: dict[str, Callable[[], Asgi]] = {
        "status-200": lambda: rewriting(
            app, "POST", is_rollout, lambda s, b, r: (200 if s == 202 else s, b)
        ),
        "no-409": lambda: rewriting(
            app, "POST", is_rollout, lambda s, b, r: (202 if s == 409 else s, b)
        ),
        "bad-body-400": lambda: rewriting(
            app, "POST", is_rollout, lambda s, b, r: (400 if s == 422 else s, b)
        ),
        "health-shape": lambda: rewriting(
            app, "GET", lambda p: p == "/health", lambda s, b, r: (s, b'{"status": "healthy"}')
        ),
        "cancel-ignored": lambda: rewriting(
            app,
            "POST",
            lambda p: p == "/rollout/cancel",
            lambda s, b, r: (200, b'{"dispositions": {}}'),
        ),
        "lease-ignored": lambda: lease_ignored(app),
        "admits-while-closed": lambda: rewriting(
            app, "GET", lambda p: p == "/health", lambda s, b, r: (s, closed(b))
        ),
    }
    return wrappers[breach]()


BREACHES = (
    "no-bearer",
    "rewrites-history",
    "status-200",
    "no-409",
    "bad-body-400",
    "health-shape",
    "cancel-ignored",
    "lease-ignored",
    "admits-while-closed",
)

if __name__ == "__main__":
    breach, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(build(breach), host="127.0.0.1", port=port, log_level="warning")
