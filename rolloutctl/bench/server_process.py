"""The server under test as a separate process, the way it runs in a real deployment.

A server sharing the bench's event loop would make the two fight over one core and
hide what each costs; as a child process it gets its own loop, its own CPU time and
its own RSS, which `procstats` reads from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import IO, Protocol

import httpx

from rolloutctl.children import die_with_parent
from rolloutctl.errors import ServerStartError
from rolloutctl.net.http_pool import HttpPool
from rolloutctl.net.sockets import free_port

__all__ = [
    "STARTUP_TIMEOUT",
    "STOP_TIMEOUT",
    "ProcessSpec",
    "ServerSpec",
    "SpawnedServer",
    "spawn_servers",
]

STARTUP_TIMEOUT = 120.0  # a crowded machine takes tens of seconds to import the server
STOP_TIMEOUT = 20.0
# The child's options come from the bench's command line only, never from these.
_SERVE_ENV = (
    "MAX_CONCURRENT_ROLLOUTS",
    "ROLLOUT_SERVER_PORT",
    "ROLLOUT_TIMEOUT_SECONDS",
    "HTTP_CLIENT_TIMEOUT",
)


class ProcessSpec(Protocol):
    """Any server bench can spawn: its command line for a port, and a name for the report."""

    @property
    def host(self) -> str: ...

    @property
    def label(self) -> str: ...

    def argv(self, port: int) -> list[str]: ...


@dataclass(frozen=True)
class ServerSpec:
    """What `rolloutctl serve` is told: exactly one of `target` or `example`."""

    target: str | None = None
    example: str | None = None
    max_concurrent: int = 100
    log_level: str = "warning"
    host: str = "127.0.0.1"
    store: str | None = None  # --store of every replica: None keeps records in memory
    store_prefix: str = "rolloutctl"
    extra_args: tuple[str, ...] = ()  # e.g. ("--protocol", "osmosis")

    @property
    def label(self) -> str:
        return f"--example {self.example}" if self.example else self.target or ""

    def argv(self, port: int) -> list[str]:
        agent = ["--example", self.example] if self.example else [self.target or ""]
        store = ["--store", self.store, "--store-prefix", self.store_prefix] if self.store else []
        return [
            sys.executable,
            "-m",
            "rolloutctl",
            "serve",
            *agent,
            "--host",
            self.host,
            "--port",
            str(port),
            "--log-level",
            self.log_level,
            "--max-concurrent",
            str(self.max_concurrent),
            *store,
            *self.extra_args,
        ]


@dataclass(frozen=True)
class SpawnedServer:
    url: str
    pid: int
    port: int


@contextlib.asynccontextmanager
async def spawn_servers(spec: ProcessSpec, count: int = 1) -> AsyncIterator[list[SpawnedServer]]:
    """Start `count` `rolloutctl serve` processes for `spec` at once, wait for each one's
    /health, and stop them all (SIGTERM) after."""
    async with contextlib.AsyncExitStack() as stack:
        started = [await stack.enter_async_context(_spawn(spec)) for _ in range(count)]
        waits = [asyncio.ensure_future(ready()) for _, ready in started]
        try:
            await asyncio.gather(*waits)
        except BaseException:  # one failed: stop waiting for the others too
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
            raise
        yield [server for server, _ in started]


@contextlib.asynccontextmanager
async def _spawn(
    spec: ProcessSpec,
) -> AsyncIterator[tuple[SpawnedServer, Callable[[], Awaitable[None]]]]:
    """A started process, and how to wait for its health (the caller does)."""
    port = free_port(spec.host)
    with tempfile.TemporaryFile() as stderr:  # a file, so a chatty server never blocks on it
        process = subprocess.Popen(
            spec.argv(port),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=_child_env(),
            preexec_fn=die_with_parent(),
        )
        url = f"http://{spec.host}:{port}"
        try:
            yield SpawnedServer(url, process.pid, port), lambda: _wait_healthy(process, url, stderr)
        finally:
            await _stop(process)


def _child_env() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("ROLLOUTCTL_") and name not in _SERVE_ENV
    }


async def _wait_healthy(process: subprocess.Popen[bytes], url: str, stderr: IO[bytes]) -> None:
    health = httpx.URL(url + "/health")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT
    async with HttpPool() as pool:
        while loop.time() < deadline:
            if process.poll() is not None:
                raise ServerStartError(
                    f"the server under test exited with status "
                    f"{process.returncode}: {_last_line(stderr)}"
                )
            with contextlib.suppress(httpx.TransportError):
                if (await pool.request(b"GET", health, timeout=2.0)).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise ServerStartError(f"the server under test was not healthy within {STARTUP_TIMEOUT:g} s")


def _last_line(stderr: IO[bytes]) -> str:
    stderr.seek(0)
    lines = stderr.read().decode(errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else "(no output)"


async def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server drains), then SIGKILL if it does not end in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_TIMEOUT
    while process.poll() is None and loop.time() < deadline:
        await asyncio.sleep(0.05)
    if process.poll() is None:
        process.kill()
        process.wait()
