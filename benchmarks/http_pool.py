"""Which HTTP client should carry the trainer callbacks? Measure, at many requests in flight.

Starts a trivial raw-ASGI uvicorn "trainer" (uvloop, httptools) in a subprocess on a
free 127.0.0.1 port, then fires POSTs of a chat-sized JSON body from C closed-loop
workers through each client design, and prints requests/s, the client's CPU ms per
request, and how busy the server process was (near 100% means it was the bound).

    uv run python benchmarks/http_pool.py [--requests 5000] [--concurrency 32,256,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator

import httpx
import orjson
import uvicorn

from rolloutctl.net.sockets import free_port
from rolloutctl.server.callbacks import HttpPool, TrainerClient

ANSWER = orjson.dumps(
    {
        "id": "chatcmpl-1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "8"}}],
        "usage": {"prompt_tokens": 60, "completion_tokens": 1, "total_tokens": 61},
    }
)
TURN = {"role": "user", "content": "What is (5 + 3) * 2? Use the tools, one step at a time. " * 6}
BODY = {"model": "default", "rollout_id": "bench-1", "messages": [TURN] * 8, "temperature": 0.7}
HEADERS = [(b"Content-Type", b"application/json"), (b"Authorization", b"Bearer bench-key")]
Post = Callable[[int], Awaitable[None]]  # one request from worker number n


async def trainer_app(scope: dict, receive, send) -> None:
    """The cheapest possible trainer, so the client side is what gets measured."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER})


@contextlib.asynccontextmanager
async def httpx_clients(count: int, limits: httpx.Limits, url: str):
    """`count` httpx.AsyncClients used round-robin by worker number."""
    clients = [httpx.AsyncClient(limits=limits, timeout=120.0) for _ in range(count)]
    content = orjson.dumps(BODY)

    async def post(worker: int) -> None:
        response = await clients[worker % count].post(url, content=content, headers=HEADERS)
        orjson.loads(response.content)

    try:
        yield post
    finally:
        for client in clients:
            await client.aclose()


@contextlib.asynccontextmanager
async def httpx_over_pool(url: str):
    async with httpx.AsyncClient(transport=HttpPool(), timeout=120.0) as client:
        content = orjson.dumps(BODY)

        async def post(worker: int) -> None:
            orjson.loads((await client.post(url, content=content, headers=HEADERS)).content)

        yield post


@contextlib.asynccontextmanager
async def pool_post(url: str):
    async with HttpPool() as pool:
        target = httpx.URL(url)

        async def post(worker: int) -> None:
            orjson.loads((await pool.post(target, orjson.dumps(BODY), HEADERS)).content)

        yield post


@contextlib.asynccontextmanager
async def trainer_client(url: str):
    async with HttpPool() as pool:
        client = TrainerClient(url.removesuffix("/v1/chat/completions"), "bench-key", pool=pool)

        async def post(worker: int) -> None:
            await client.chat(BODY)

        yield post


UNLIMITED = httpx.Limits(max_connections=None, max_keepalive_connections=None)
DESIGNS = {
    "httpx shared, default limits": lambda url: httpx_clients(1, httpx.Limits(), url),
    "httpx shared, no limits": lambda url: httpx_clients(1, UNLIMITED, url),
    "httpx 8 shards, no limits": lambda url: httpx_clients(8, UNLIMITED, url),
    "httpx AsyncClient over HttpPool": httpx_over_pool,
    "HttpPool.post": pool_post,
    "TrainerClient.chat (all in)": trainer_client,
}


async def measure(
    design: str, url: str, requests: int, concurrency: int
) -> tuple[float, float, int]:
    """Requests/s, client CPU ms per request and failed requests, after a warm-up round."""
    async with DESIGNS[design](url) as post:
        await asyncio.gather(*(post(worker) for worker in range(concurrency)))
        left, failed = requests, 0

        async def worker(number: int) -> None:
            nonlocal left, failed
            while left > 0:
                left -= 1
                try:
                    await post(number)
                except Exception:  # e.g. httpx reusing a connection the server just closed
                    failed += 1

        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(number) for number in range(concurrency)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return requests / wall, cpu * 1000 / requests, failed


def process_cpu(pid: int) -> float:
    """CPU seconds used so far by another process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def trainer_process() -> Iterator[tuple[str, int]]:
    """The trainer app in its own process; yields its chat URL and pid."""
    port = free_port("127.0.0.1")
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        wait_listening(port)
        yield f"http://127.0.0.1:{port}/v1/chat/completions", server.pid
    finally:
        server.terminate()
        server.wait()


def wait_listening(port: int) -> None:
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            return
        time.sleep(0.05)
    raise SystemExit("the benchmark trainer did not start")


ROW = "{:>9}  {:32} {:>7} {:>17} {:>11} {:>6}"


def run(args: argparse.Namespace) -> None:
    run_loop = asyncio.run if args.loop == "asyncio" else __import__("uvloop").run
    designs = args.designs.split(",") if args.designs else list(DESIGNS)
    print(f"{args.requests} POSTs of {len(orjson.dumps(BODY))} bytes, client loop {args.loop}")
    print(ROW.format("in flight", "design", "req/s", "client CPU ms/req", "server busy", "failed"))
    with trainer_process() as (url, pid):
        for concurrency in map(int, args.concurrency.split(",")):
            for design in designs:
                started, server_cpu = time.perf_counter(), process_cpu(pid)
                rate, cpu_ms, failed = run_loop(measure(design, url, args.requests, concurrency))
                busy = (process_cpu(pid) - server_cpu) / (time.perf_counter() - started)
                figures = (f"{rate:.0f}", f"{cpu_ms:.3f}", f"{busy:.0%}", failed)
                print(ROW.format(concurrency, design, *figures), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", default="32,256,1000")
    parser.add_argument("--designs", help="comma-separated names; default: all")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        uvicorn.run(trainer_app, host="127.0.0.1", port=args.serve, loop="uvloop", backlog=4096,
                    http="httptools", log_level="warning", access_log=False)  # fmt: skip
    else:
        run(args)


if __name__ == "__main__":
    main()
