"""The transport ceiling: the least a v1 RolloutServer can do for bench's calculator rollouts.

A measuring stick, never a product: raw ASGI under uvicorn (h11 by default, as in the
independent measurement in BENCHMARKS.md), no validation, no idempotency records, no retries,
no time limit, no logging. Each init is answered 202 at once and its rollout runs as one
task: chat, run the requested calculator tools, chat again, post the completion. The
callbacks go over keep-alive connections of the simplest kind (asyncio streams, one
request at a time per connection, Content-Length framing only).

Whatever rolloutctl's server spends beyond this server is what its guarantees and its
code cost; `benchmarks/paired.py` measures the two side by side.

    uv run python benchmarks/ceiling_server.py --port 9100 [--http h11|httptools]
"""

from __future__ import annotations

import argparse
import asyncio
import operator
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvicorn

OPERATIONS: dict[str, Callable[[float, float], float]] = {
    "add": operator.add,
    "subtract": operator.sub,
    "multiply": operator.mul,
    "divide": operator.truediv,
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} two numbers",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        },
    }
    for name in OPERATIONS
]
JSON_HEADERS = [(b"content-type", b"application/json")]
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class KeepAliveClient:
    """POSTs JSON to one trainer over reused connections (idle ones kept in a list)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.netloc = parts.netloc.encode()
        self.idle: list[Stream] = []

    async def post(self, path: str, body: Any) -> Any:
        content = orjson.dumps(body)
        head = b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n" % (
            path.encode(),
            self.netloc,
        )
        if self.idle:
            stream = self.idle.pop()
        else:
            stream = await asyncio.open_connection(self.host, self.port)
        reader, writer = stream
        writer.write(head + b"Content-Length: %d\r\n\r\n" % len(content) + content)
        headers = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in headers.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        answer = await reader.readexactly(length)
        self.idle.append(stream)
        return orjson.loads(answer)


CLIENTS: dict[str, KeepAliveClient] = {}


async def rollout(init: dict[str, Any]) -> None:
    """The standard tool loop with the trainer's chat, then one completion post."""
    base = init["server_url"].rstrip("/")
    client = CLIENTS.get(base) or CLIENTS.setdefault(base, KeepAliveClient(base))
    messages = list(init["messages"])
    params, rollout_id = init.get("completion_params") or {}, init["rollout_id"]
    llm_calls = tool_calls = 0
    while True:
        body = {**params, "model": "default", "rollout_id": rollout_id, "messages": messages}
        choice = (await client.post("/v1/chat/completions", body))["choices"][0]
        llm_calls += 1
        message = choice["message"]
        messages.append(message)
        if not message.get("tool_calls"):
            break
        for call in message["tool_calls"]:
            args = orjson.loads(call["function"]["arguments"])
            value = OPERATIONS[call["function"]["name"]](float(args["a"]), float(args["b"]))
            text = str(int(value)) if value.is_integer() else repr(value)
            messages.append({"role": "tool", "content": text, "tool_call_id": call["id"]})
            tool_calls += 1
    completion = {
        "rollout_id": rollout_id,
        "status": "COMPLETED",
        "final_messages": messages,
        "finish_reason": choice.get("finish_reason") or "stop",
        "metrics": {"num_llm_calls": llm_calls, "num_tool_calls": tool_calls},
    }
    await client.post("/v1/rollout/completed", completion)


TASKS: set[asyncio.Task[None]] = set()


async def app(scope: dict, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/health":
        status, body = 200, b'{"status":"healthy"}'
    else:
        message = await receive()
        raw = message.get("body", b"")
        while message.get("more_body"):
            message = await receive()
            raw += message.get("body", b"")
        init = orjson.loads(raw)
        task = asyncio.create_task(rollout(init))
        TASKS.add(task)
        task.add_done_callback(TASKS.discard)
        status, body = 202, orjson.dumps({"rollout_id": init["rollout_id"], "tools": TOOLS})
    headers = [*JSON_HEADERS, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--http", default="h11", choices=("h11", "httptools"))
    options = parser.parse_args()
    uvicorn.run(
        app,
        host=options.host,
        port=options.port,
        http=options.http,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
