"""CPU cost of the mock trainer, so `bench` can say how much of the machine it takes.

Three figures, for the bench's workload (calculator policy, 2 LLM turns per rollout):
- app only: the ASGI app called in-process (no HTTP) for chat, chat, completion;
- served: the app under uvicorn in a child process, driven over loopback by
  rolloutctl's HttpPool; the child's CPU time (from /proc) per callback answered;
- inits: MockTrainer.start_rollout against a child that answers every init 202 at
  once; this process's CPU time per init sent.

Run: uv run python benchmarks/trainer_overhead.py [--rollouts N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx
import orjson

from rolloutctl.net.http_pool import HttpPool
from rolloutctl.trainer import MockTrainer

QUESTION = [
    {"role": "system", "content": "Use the tools."},
    {"role": "user", "content": "What is 5 + 3?"},
]
TRAINER_CHILD = """
import sys, uvicorn
from rolloutctl.trainer import MockTrainer
uvicorn.run(MockTrainer().app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""
ACCEPTING_CHILD = """
import json, sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] == "http":
        raw = (await receive()).get("body") or b"{}"
        body = json.dumps({"rollout_id": json.loads(raw).get("rollout_id"), "tools": []}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 202, "headers": headers})
        await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
            lifespan="off")
"""
Post = Callable[[str, dict], Awaitable[dict]]


async def rollout_bodies(post: Post, rollout_id: str) -> None:
    """One 2-turn rollout as a RolloutServer would post it."""
    messages, base = list(QUESTION), {"model": "default", "rollout_id": rollout_id}
    first = await post("/v1/chat/completions", {**base, "messages": messages, "temperature": 0.7})
    reply = first["choices"][0]["message"]
    result = {"role": "tool", "content": "8", "tool_call_id": reply["tool_calls"][0]["id"]}
    messages = [*messages, reply, result]
    second = await post("/v1/chat/completions", {**base, "messages": messages, "temperature": 0.7})
    messages.append(second["choices"][0]["message"])
    metrics = {"num_llm_calls": 2, "num_tool_calls": 1}
    payload = {"rollout_id": rollout_id, "status": "COMPLETED", "final_messages": messages,
               "finish_reason": "stop", "metrics": metrics}  # fmt: skip
    await post("/v1/rollout/completed", payload)


def in_process_post(app) -> Post:
    async def post(path: str, body: dict) -> dict:
        scope = {"type": "http", "method": "POST", "path": path, "query_string": b"",
                 "headers": [(b"content-type", b"application/json")]}  # fmt: skip
        raw, sent = orjson.dumps(body), []

        async def receive() -> dict:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return orjson.loads(sent[1]["body"])

    return post


async def app_only(rollouts: int) -> float:
    """CPU µs per rollout of the app alone."""
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


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def closed_loop(concurrency: int, count: int, job: Callable[[int], Awaitable]) -> float:
    """Run job(0..count-1) on `concurrency` workers; return the wall seconds."""
    queue, start = iter(range(count)), time.perf_counter()

    async def worker() -> None:
        for i in queue:
            await job(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def served(rollouts: int, concurrency: int, port: int) -> tuple[float, float]:
    """The trainer child's CPU µs per callback, and the rollouts/s reached."""
    child = subprocess.Popen([sys.executable, "-c", TRAINER_CHILD, str(port)])
    pool = HttpPool()
    try:
        await wait_listening(pool, port)

        async def post(path: str, body: dict) -> dict:
            url = httpx.URL(f"http://127.0.0.1:{port}{path}")
            return (await pool.post(url, orjson.dumps(body))).json()

        cpu = cpu_seconds(child.pid)
        wall = await closed_loop(concurrency, rollouts, lambda i: rollout_bodies(post, f"s-{i}"))
        cpu = cpu_seconds(child.pid) - cpu
    finally:
        await pool.aclose()
        child.terminate()
        child.wait()
    return cpu / (rollouts * 3) * 1e6, rollouts / wall


async def inits(rollouts: int, concurrency: int, port: int) -> float:
    """This process's CPU µs per start_rollout (init sent, 202 read, tools recorded)."""
    child = subprocess.Popen([sys.executable, "-c", ACCEPTING_CHILD, str(port)])
    trainer = MockTrainer()
    trainer.url = "http://127.0.0.1:9"
    try:
        await wait_listening(HttpPool(), port)
        server = f"http://127.0.0.1:{port}"
        body = {"messages": QUESTION, "completion_params": {"temperature": 0.7}}
        start = lambda i: trainer.start_rollout(server, {"rollout_id": f"i-{i}", **body})  # noqa: E731
        await closed_loop(concurrency, 200, lambda i: start(-i - 1))  # warm-up
        cpu = time.process_time()
        await closed_loop(concurrency, rollouts, start)
        assert not trainer.violations(), trainer.violations()[:3]
        return (time.process_time() - cpu) / rollouts * 1e6
    finally:
        await trainer.aclose()
        child.terminate()
        child.wait()


async def wait_listening(pool: HttpPool, port: int) -> None:
    for _ in range(200):
        try:
            await pool.request(b"GET", httpx.URL(f"http://127.0.0.1:{port}/health"))
            return
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    raise SystemExit("the child server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--port", type=int, default=9471)
    args = parser.parse_args()
    per_rollout = asyncio.run(app_only(args.rollouts))
    print(f"app only: {per_rollout:6.1f} µs CPU per rollout (2 chats + 1 completion), "
          f"{per_rollout / 3:5.1f} µs per callback")  # fmt: skip
    per_callback, rate = asyncio.run(served(args.rollouts, args.concurrency, args.port))
    print(f"served  : {per_callback:6.1f} µs CPU per callback, uvicorn included "
          f"({rate:.0f} rollouts/s; the driver shares the 2 cores)")  # fmt: skip
    per_init = asyncio.run(inits(args.rollouts, args.concurrency, args.port + 1))
    total = per_callback * 3 + per_init
    print(f"inits   : {per_init:6.1f} µs CPU per start_rollout")
    print(f"total   : {total / 1000:6.2f} ms of trainer CPU per rollout: one core serves at most "
          f"{1e6 / total:.0f} rollouts/s")  # fmt: skip


if __name__ == "__main__":
    main()
