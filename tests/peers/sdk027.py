"""A v1 RolloutServer that behaves like the Osmosis SDK 0.2.7 server with its calculator.

Written from the facts measured against that release, quirks included, so
that `rolloutctl check` and `try` can be tested against a peer that is not rolloutctl:

- init requires `completion_params` (422 `Field required` without it) and accepts
  `max_turns=0`; its 422 is FastAPI's own, which echoes the input (`api_key` included);
- the tool schemas are pydantic dumps: every property has `"enum": null` and, as the
  calculator gives its properties no description, `"description": null`; every function
  has `"strict": false` (SDK 0.2's trainer accepted all of these);
- `/health` names the agent under `agent_loop`;
- a chat request carries temperature=1.0, top_p=1.0, max_tokens=512 and logprobs=true
  unless `completion_params` gives them, drops keys it does not know (`seed`), and
  lets a `model` key replace the protocol's;
- trainer calls are retried after 1, 2 and 4 s on 5xx and connection errors; a 4xx
  ends the rollout as ERROR with no `error_category` and an empty `final_messages`;
- it has no status endpoint (`GET /v1/rollout/{id}` is 404).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

SAMPLING_DEFAULTS = {"temperature": 1.0, "top_p": 1.0, "max_tokens": 512, "logprobs": True}
KNOWN_PARAMS = ("temperature", "top_p", "max_tokens", "stop", "logprobs", "model")
RETRY_DELAYS = (1.0, 2.0, 4.0)
OPERATIONS = {
    "add": ("Add two numbers", lambda a, b: a + b),
    "subtract": ("Subtract b from a", lambda a, b: a - b),
    "multiply": ("Multiply two numbers", lambda a, b: a * b),
    "divide": ("Divide a by b", lambda a, b: a / b),
}


class PeerInit(BaseModel):
    rollout_id: str = Field(min_length=1, max_length=256)
    server_url: str
    messages: list[dict[str, Any]]
    completion_params: dict[str, Any]  # required, unlike docs/protocol.md
    tool_server_url: str | None = None
    max_turns: int = 10  # no lower bound: 0 is accepted
    max_tokens_total: int = Field(default=8192, ge=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    api_key: str | None = None
    idempotency_key: str | None = None

    @field_validator("rollout_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("rollout_id must not be blank")
        return value

    @field_validator("server_url")
    @classmethod
    def _http(cls, value: str) -> str:
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("server_url must be an http(s) URL")
        return value

    @field_validator("metadata")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > 1024 * 1024:
            raise ValueError("metadata is larger than 1 MiB")
        return value


class TrainerRefused(Exception):
    """A 4xx from the trainer: not retried."""


def tool_schemas() -> list[dict[str, Any]]:
    """The calculator tools as a pydantic dump of the 0.2 schema models shows them."""

    number = {"type": "number", "description": None, "enum": None}

    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": {
                    "type": "object",
                    "properties": {"a": number, "b": number},
                    "required": ["a", "b"],
                },
                "strict": False,
            },
        }
        for name, (description, _) in OPERATIONS.items()
    ]


def run_tool(call: dict[str, Any]) -> str:
    function = call.get("function") or {}
    try:
        args = json.loads(function.get("arguments") or "{}")
        result = OPERATIONS[function["name"]][1](float(args["a"]), float(args["b"]))
    except ZeroDivisionError:
        return "Error: Division by zero"
    except (KeyError, TypeError, ValueError) as exc:
        return f"Error: {exc}"
    return str(int(result)) if float(result).is_integer() else str(result)


class Sdk027Peer:
    """The app and its state; `app` is what a test serves."""

    def __init__(self, agent_name: str = "calculator_agent") -> None:
        self.agent_name = agent_name
        self.accepted: dict[str, dict[str, Any]] = {}
        self.active = self.completed = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.http: httpx.AsyncClient | None = None
        self.app = FastAPI(lifespan=self._lifespan)
        self.app.get("/health")(self.health)
        self.app.post("/v1/rollout/init", status_code=202)(self.init)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=30.0) as self.http:
            yield
            for task in list(self.tasks):  # like 0.2.7 on SIGTERM: cancelled, nothing posted
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def health(self) -> dict[str, Any]:
        return {
            "status": "healthy",
            "agent_loop": self.agent_name,
            "active_rollouts": self.active,
            "completed_rollouts": self.completed,
        }

    async def init(self, request: PeerInit) -> Any:
        known = self.accepted.get(request.rollout_id)
        if known is not None:
            return JSONResponse(known, status_code=202)
        body = self.accepted[request.rollout_id] = {
            "rollout_id": request.rollout_id,
            "tools": tool_schemas(),
        }
        task = asyncio.create_task(self._rollout(request))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return body

    async def _rollout(self, request: PeerInit) -> None:
        self.active += 1
        started = time.perf_counter()
        metrics = {"num_llm_calls": 0, "num_tool_calls": 0, "prompt_tokens": 0,
                   "response_tokens": 0, "llm_latency_ms": 0.0, "tool_latency_ms": 0.0}  # fmt: skip
        messages = list(request.messages)
        try:
            finish = await self._loop(request, messages, metrics)
            payload: dict[str, Any] = {
                "status": "COMPLETED",
                "final_messages": messages,
                "finish_reason": finish,
            }
        except (TrainerRefused, httpx.HTTPError) as exc:
            payload = {"status": "ERROR", "final_messages": [], "finish_reason": "error",
                       "error_message": f"{type(exc).__name__}: {exc}"}  # fmt: skip
        metrics["total_latency_ms"] = (time.perf_counter() - started) * 1000
        payload |= {"rollout_id": request.rollout_id, "metrics": metrics}
        self.active -= 1
        self.completed += 1
        with contextlib.suppress(TrainerRefused, httpx.HTTPError):
            await self._post(request, "/v1/rollout/completed", payload)

    async def _loop(
        self, request: PeerInit, messages: list[dict[str, Any]], metrics: dict[str, Any]
    ) -> str:
        """The example's calculator loop, with the 0.2.7 client's view of sampling params."""
        sent = {k: v for k, v in request.completion_params.items() if k in KNOWN_PARAMS}
        total = 0
        for _ in range(request.max_turns):
            body = {"model": "default", **SAMPLING_DEFAULTS, **sent}
            body |= {"rollout_id": request.rollout_id, "messages": messages}
            reply = await self._post(request, "/v1/chat/completions", body)
            choice = reply["choices"][0]
            messages.append(choice["message"])
            usage = reply.get("usage") or {}
            metrics["num_llm_calls"] += 1
            metrics["prompt_tokens"] += usage.get("prompt_tokens", 0)
            metrics["response_tokens"] += usage.get("completion_tokens", 0)
            total += usage.get("completion_tokens", 0)
            if total >= request.max_tokens_total:
                return "max_tokens"
            calls = choice["message"].get("tool_calls") or []
            if not calls:
                return choice.get("finish_reason") or "stop"
            for call in calls:
                content = run_tool(call)
                messages.append({"role": "tool", "content": content, "tool_call_id": call["id"]})
                metrics["num_tool_calls"] += 1
        return "max_turns"

    async def _post(self, request: PeerInit, path: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self.http is not None, "served apps have a client"
        headers = {"Authorization": f"Bearer {request.api_key}"} if request.api_key else {}
        url = request.server_url.rstrip("/") + path
        for delay in (*RETRY_DELAYS, None):
            try:
                response = await self.http.post(url, json=body, headers=headers)
            except httpx.TransportError:
                if delay is None:
                    raise
            else:
                if response.is_success:
                    return response.json() if response.content else {}
                if response.status_code < 500:
                    raise TrainerRefused(f"HTTP {response.status_code}")
                if delay is None:
                    response.raise_for_status()
            await asyncio.sleep(delay or 0)
        raise AssertionError("unreachable")
