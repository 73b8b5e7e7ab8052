"""CPU cost of the mock trainer per callback, so bench can say how much of the machine it takes.

Two figures:
- app only: the ASGI app called in-process (no HTTP), calculator policy, the bench's
  2-turn workload (chat with a tool call, chat with the answer, completion);
- served: the app under uvicorn in a child process, driven over loopback by httpx;
  the child's CPU time (from /proc) divided by the callbacks it answered.

Run: uv run python benchmarks/trainer_overhead.py [--rollouts N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import httpx
import orjson

from rolloutctl.client import HttpPool
from rolloutctl.trainer import MockTrainer

QUESTION = [
    {"role": "system", "content": "Use the tools."},
    {"role": "user", "content": "What is 5 + 3?"},
]
CHILD = """
import sys, uvicorn
from rolloutctl.client import HttpPool
from rolloutctl.trainer import MockTrainer
uvicorn.run(MockTrainer().app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""


def tool_result(reply: dict) -> dict:
    call = reply["tool_calls"][0]
    return {"role": "tool", "content": "8", "tool_call_id": call["id"]}


async def rollout_bodies(post, rollout_id: str) -> None:
    """One 2-turn rollout through `post(path, body) -> response dict`."""
    messages = list(QUESTION)
    first = await post(
        "/v1/chat/completions",
        {"model": "default", "rollout_id": rollout_id, "messages": messages, "temperature": 0.7},
    )
    reply = first["choices"][0]["message"]
    messages = [*messages, reply, tool_result(reply)]
    second = await post(
        "/v1/chat/completions",
        {"model": "default", "rollout_id": rollout_id, "messages": messages, "temperature": 0.7},
    )
    messages.append(second["choices"][0]["message"])
    metrics = {"num_llm_calls": 2, "num_tool_calls": 1}
    await post(
        "/v1/rollout/completed",
        {
            "rollout_id": rollout_id,
            "status": "COMPLETED",
            "final_messages": messages,
            "finish_reason": "stop",
            "metrics": metrics,
        },
    )


def in_process_post(app):
    async def post(path: str, body: dict) -> dict:
        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "query_string": b"",
            "headers": [(b"content-type", b"application/json")],
        }
        raw, sent = orjson.dumps(body), []

        async def receive() -> dict:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return orjson.loads(sent[1]["body"])

    return post


async def app_only(rollouts: int) -> float:
    trainer = MockTrainer()
    post = in_process_post(trainer.app)
    for i in range(200):  # warm-up
        await rollout_bodies(post, f"warm-{i}")
    start = time.process_time()
    for i in range(rollouts):
        await rollout_bodies(post, f"r-{i}")
    spent = time.process_time() - start
    assert not trainer.violations(), trainer.violations()[:3]
    return spent / rollouts * 1e6


def child_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def served(rollouts: int, concurrency: int, port: int) -> tuple[float, float]:
    """Drive a child trainer with rolloutctl's HttpPool (a lean client, so the trainer is
    pushed hard) and return its CPU µs per callback and the rollouts/s reached."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(port)])
    pool = HttpPool()
    try:
        await _wait_healthy(pool, port)

        async def post(path: str, body: dict) -> dict:
            url = httpx.URL(f"http://127.0.0.1:{port}{path}")
            return (await pool.post(url, orjson.dumps(body))).json()

        queue = iter(range(rollouts))

        async def worker() -> None:
            for i in queue:
                await rollout_bodies(post, f"s-{i}")

        cpu0, wall0 = child_cpu_seconds(child.pid), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = child_cpu_seconds(child.pid) - cpu0, time.perf_counter() - wall0
    finally:
        await pool.aclose()
        child.terminate()
        child.wait()
    return cpu / (rollouts * 3) * 1e6, rollouts / wall


async def _wait_healthy(pool: HttpPool, port: int) -> None:
    for _ in range(200):
        try:
            url = httpx.URL(f"http://127.0.0.1:{port}/health")
            if (await pool.request(b"GET", url)).status_code == 200:
                return
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    raise SystemExit("the trainer child did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--port", type=int, default=9471)
    args = parser.parse_args()
    per_rollout = asyncio.run(app_only(args.rollouts))
    print(
        f"app only : {per_rollout:7.1f} µs CPU per rollout (2 chats + 1 completion), "
        f"{per_rollout / 3:6.1f} µs per callback"
    )
    per_callback, rate = asyncio.run(served(args.rollouts, args.concurrency, args.port))
    print(
        f"served   : {per_callback:7.1f} µs CPU per callback in the trainer process "
        f"(uvicorn included), {per_callback * 3 / 1000:.2f} ms per rollout; "
        f"at {rate:.0f} rollouts/s (the driver shares the 2 cores)"
    )


if __name__ == "__main__":
    main()
