"""A scriptable, recording training side for protocol tests of the RolloutServer.

It is deliberately independent of rolloutctl's mock trainer: the server's tests must
not trust the code of the other side of the same project.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Reply = dict[str, Any] | tuple[int, Any]


def assistant(
    content: str = "done",
    *,
    tool_calls: list | None = None,
    finish_reason: str = "stop",
    completion_tokens: int = 5,
) -> dict[str, Any]:
    """A chat completion body with one choice."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "default",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": completion_tokens,
            "total_tokens": 10 + completion_tokens,
        },
    }


def call(name: str, arguments: Any, call_id: str = "call_1") -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


class RecordingTrainer:
    """Answers chat calls from per-rollout scripts and records every callback."""

    def __init__(self, chat_delay: float = 0.0, hold_until: int = 0) -> None:
        self.url = ""  # set by whoever serves it
        self.chat_delay = chat_delay
        self.hold_until = hold_until  # hold chat answers until this many are in flight
        self._enough = asyncio.Event()
        self.held: set[str] = set()  # chat answers for these rollouts wait until removed
        self.in_flight = self.max_in_flight = 0
        self.chats: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.chat_headers: dict[str, list[dict[str, str]]] = defaultdict(list)
        self.completions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.completion_headers: dict[str, list[dict[str, str]]] = defaultdict(list)
        # completions this says yes to are held unanswered until their sender is gone (as
        # if they never reached the trainer: not recorded), kept in `held_completions`
        self.hold_completion: Callable[[dict[str, Any]], bool] = lambda body: False
        self.held_completions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._released = False  # set by `release`: no hold lasts past the test
        self._plans: dict[str, deque[Reply]] = defaultdict(deque)
        self._completed_replies: dict[str, deque[int]] = defaultdict(deque)
        self._changed = threading.Condition()
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/rollout/completed", self._completed, methods=["POST"]),
            ]
        )

    def script(self, rollout_id: str, *replies: Reply) -> None:
        """Queue chat replies: a body dict (200) or (status, body). Default: 'done'."""
        self._plans[rollout_id].extend(replies)

    def completed_replies(self, rollout_id: str, *statuses: int) -> None:
        """Answer the next completed posts with these statuses (then 200)."""
        self._completed_replies[rollout_id].extend(statuses)

    async def _chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        rollout_id = body.get("rollout_id", "")
        self._record(self.chats, self.chat_headers, rollout_id, body, request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.in_flight >= self.hold_until:
            self._enough.set()
        try:
            await asyncio.sleep(self.chat_delay)
            for _ in range(1200):  # at most 60 s, so a forgotten hold cannot hang a test
                if rollout_id not in self.held or self._released:
                    break
                await asyncio.sleep(0.05)
            if self.hold_until:  # a server that is not concurrent never gets there
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._enough.wait(), timeout=60)
        finally:
            self.in_flight -= 1
        script = self._plans[rollout_id]
        reply = script.popleft() if script else assistant()
        status, content = reply if isinstance(reply, tuple) else (200, reply)
        return JSONResponse(content, status_code=status)

    def release(self) -> None:
        """End every hold (chat answers and completions) at once: the end of a test."""
        self._released = True
        self.held.clear()

    async def _completed(self, request: Request) -> JSONResponse:
        body = await request.json()
        rollout_id = body.get("rollout_id", "")
        if self.hold_completion(body):
            with self._changed:
                self.held_completions[rollout_id].append(body)
                self._changed.notify_all()
            for _ in range(1200):  # at most 60 s, as the chat holds
                if self._released or await request.is_disconnected():
                    break
                await asyncio.sleep(0.05)
            return JSONResponse({"status": "held"}, status_code=503)
        replies = self._completed_replies[rollout_id]
        status = replies.popleft() if replies else 200
        if status == 200:
            self._record(self.completions, self.completion_headers, rollout_id, body, request)
        return JSONResponse({"status": "ok" if status == 200 else "refused"}, status_code=status)

    def _record(
        self, bodies: dict, headers: dict, rollout_id: str, body: Any, request: Request
    ) -> None:
        with self._changed:
            bodies[rollout_id].append(body)
            headers[rollout_id].append(dict(request.headers))
            self._changed.notify_all()

    def wait(self, rollout_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Block until `rollout_id` has a recorded completion; return the first."""
        self.wait_for(
            f"a completion of {rollout_id}", lambda: self.completions.get(rollout_id), timeout
        )
        return self.completions[rollout_id][0]

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 30.0) -> None:
        """Block until `check()` is true, checked at each recorded call."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"not within {timeout} s: {what}")
                self._changed.wait(left)
