"""An OpenAI-compatible model server that drops connections, for eval's error accounting.

It answers "What is A op B?" with a number straight away (no tool call): the right one,
except when A is a multiple of 3, so a run has both passed and failed rows. When
`flaky`, about 30% of conversations (chosen by a hash of their messages, so the same
rows every run) have their calls cut without an answer, a connection error for the
proxy policy, for every try of their first `1..2` rollouts; the server's own retries
cannot save those rollouts, a new rollout can.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rolloutctl.server.retry import RetryPolicy

TRIES_PER_ROLLOUT = 1 + RetryPolicy().max_retries  # what one rollout sends for one turn
QUESTION = re.compile(r"What is (\d+) ([-+*]) (\d+)\?")
OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


def answer(text: str) -> str:
    match = QUESTION.search(text)
    if not match:
        return "I do not know."
    a, op, b = int(match.group(1)), match.group(2), int(match.group(3))
    result = OPS[op](a, b)
    return f"The answer is {result + 1 if a % 3 == 0 else result}."


def doomed_rollouts(key: str) -> int:
    """How many rollouts of this conversation fail: 0 for about 70% of them, else 1 or 2."""
    digest = hashlib.sha256(key.encode()).digest()
    return 0 if digest[0] >= 77 else 1 + digest[1] % 2  # 77/256 is about 30%


class _Handler(BaseHTTPRequestHandler):
    server: _Upstream

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        messages = body["messages"]
        if self.server.should_fail(json.dumps(messages, sort_keys=True)):
            self.close_connection = True  # no status line at all: a dropped connection
            return
        user = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        reply = {
            "id": "chatcmpl-flaky",
            "object": "chat.completion",
            "model": body.get("model", "flaky"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer(user)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, flaky: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.flaky = flaky
        self.calls: Counter[str] = Counter()
        self.dropped = 0
        self._lock = threading.Lock()

    def should_fail(self, key: str) -> bool:
        with self._lock:
            seen = self.calls[key]
            self.calls[key] += 1
            fail = self.flaky and seen < TRIES_PER_ROLLOUT * doomed_rollouts(key)
            self.dropped += fail
            return fail


@contextlib.contextmanager
def upstream(flaky: bool) -> Iterator[_Upstream]:
    """Serve the model on a free port until the block ends."""
    server = _Upstream(flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def url_of(server: _Upstream) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"
