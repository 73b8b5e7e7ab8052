"""Replicas of `rolloutctl serve` as real processes, and a trainer's view of them.

A `Cluster` is what a deployment looks like from outside: N server processes that
share one record store (Redis, or an SQLite file on this machine), or the single
process the in-memory store is for.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from tests.helpers import HOST, RedisServer, free_port, rolloutctl_bin, run_cli_batch
from tests.recording_trainer import RecordingTrainer

START_TIMEOUT = 120.0  # a bound, not a wait: at load 30 a replica took over 60 s to start
WAIT_TIMEOUT = 60.0


class Replica:
    """One `rolloutctl serve --example calculator` process; `start()` again after `kill()`
    is a restarted pod: a new process (on a new port) with the same options."""

    def __init__(self, store_args: list[str], log: Path) -> None:
        self.store_args = store_args
        self.log_path = log
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.http = httpx.Client(timeout=30)  # one client: each new one builds a TLS context

    def launch(self) -> None:
        port = free_port()
        self.url = f"http://{HOST}:{port}"
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [rolloutctl_bin(), "serve", "--example", "calculator", "--port", str(port),
             "--log-level", "warning", *self.store_args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
        )  # fmt: skip

    def wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"replica exited: {self.log_path.read_text()[-2000:]}")
            try:
                if self.http.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"replica not ready within {START_TIMEOUT:g} s")

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no drain, no last write, as when a node dies."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self._log is not None:
            self._log.close()
        self.http.close()

    def health(self) -> dict[str, Any]:
        return dict(self.http.get(f"{self.url}/health").json())

    def status(self, rollout_id: str) -> httpx.Response:
        return self.http.get(f"{self.url}/v1/rollout/{rollout_id}")

    def init(self, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(f"{self.url}/v1/rollout/init", json=body)


@dataclass
class Cluster:
    store: str  # "memory", "sqlite" or "redis"
    replicas: list[Replica]
    redis: RedisServer | None = None

    @property
    def urls(self) -> list[str]:
        return [replica.url for replica in self.replicas]

    def wait_for(self, what: str, check: Any, timeout: float = WAIT_TIMEOUT) -> None:
        """Poll `check()` until true; generous, since the machine may be busy."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout:g} s: {what}")
            time.sleep(0.1)

    def wait_idle(self) -> None:
        """Until no replica has a rollout queued or running."""
        self.wait_for(
            "every replica idle",
            lambda: all(r.health()["active_rollouts"] == 0 for r in self.replicas),
        )

    def heal(self) -> None:
        """Start again whatever a test stopped: dead replicas, a stopped Redis."""
        if self.redis is not None and self.redis.process is None:
            self.redis.start()
        dead = [replica for replica in self.replicas if replica.process is None]
        for replica in dead:  # launch them all, then wait: they boot in parallel
            replica.launch()
        for replica in dead:
            replica.wait_ready()
        if self.redis is not None:
            self.wait_store("up")

    def wait_store(self, state: str) -> None:
        self.wait_for(
            f"every replica's store {state}",
            lambda: all(r.health()["store"]["state"] == state for r in self.replicas),
        )


def store_url(store: str, redis: RedisServer | None, directory: Path) -> str | None:
    """The --store of a cluster of `store`: Redis, a file in `directory`, or none."""
    if store == "redis":
        assert redis is not None
        return redis.url
    return f"sqlite:///{directory / 'records.db'}" if store == "sqlite" else None


@contextlib.contextmanager
def running_cluster(
    count: int,
    store: str,
    logs: Path,
    redis: RedisServer | None = None,
    options: Sequence[str] = (),
) -> Iterator[Cluster]:
    """`count` replicas sharing a `store` ("memory": each its own), stopped on exit;
    `options` go to every replica's `serve`."""
    url = store_url(store, redis, logs)
    store_args = [*(["--store", url, "--store-prefix", "test"] if url else []), *options]
    replicas = [Replica(store_args, logs / f"replica-{i}.log") for i in range(count)]
    try:
        for replica in replicas:  # start them all, then wait: they boot in parallel
            replica.launch()
        for replica in replicas:
            replica.wait_ready()
        yield Cluster(store, replicas, redis)
    finally:
        for replica in replicas:
            replica.stop()


def init_body(trainer: RecordingTrainer, rollout_id: str, variant: int = 0) -> dict[str, Any]:
    """An init; `variant` changes the body but not the id, as a retried init may."""
    return {
        "rollout_id": rollout_id,
        "server_url": trainer.url,
        "messages": [{"role": "user", "content": f"What is 5 + 3? (try {variant})"}],
    }


def assert_one_completion_each(trainer: RecordingTrainer, ids: list[str]) -> None:
    counts = {rollout_id: len(trainer.completions[rollout_id]) for rollout_id in ids}
    assert counts == dict.fromkeys(ids, 1)
    assert all(len(trainer.chats[rollout_id]) == 1 for rollout_id in ids)  # each ran once


def serve_usage_errors(*cases: list[str]) -> list[str]:
    """stderr of `serve --example echo ARGS` for each case (one process for all of them),
    each checked to be one line and exit 2."""
    results = run_cli_batch(*(["serve", "--example", "echo", *args] for args in cases))
    for result in results:
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    return [result.stderr for result in results]


def serve_usage_error(*args: str) -> str:
    return serve_usage_errors(list(args))[0]


def send_all(sends: list[tuple[str, dict[str, Any]]], parallel: int = 32) -> list[httpx.Response]:
    """POST every (server URL, init body) at once (at most `parallel` in flight)."""

    async def run() -> list[httpx.Response]:
        gate = asyncio.Semaphore(parallel)
        limits = httpx.Limits(max_connections=parallel, max_keepalive_connections=parallel)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:

            async def one(url: str, body: dict[str, Any]) -> httpx.Response:
                async with gate:
                    return await client.post(f"{url}/v1/rollout/init", json=body)

            return await asyncio.gather(*(one(url, body) for url, body in sends))

    return asyncio.run(run())


def round_robin(urls: list[str], bodies: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(urls[i % len(urls)], body) for i, body in enumerate(bodies)]
