"""Helpers for every test module: free ports, real uvicorn servers in threads, TLS files."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.core import TyperGroup

from rolloutctl.net import sockets

HOST = "127.0.0.1"
# Seconds a CLI run or terminal wait may take: a hang guard under pytest's 300 s, not a
# speed limit (a command that imports the server stack needs tens of seconds when the
# machine is crowded).
CLI_BOUND = 240.0
# The calculator tools, for chat requests sent by hand: the mock trainer's policies call
# only the tools a request (or the rollout's 202) offers.
CALCULATOR_TOOLS = [
    {"type": "function", "function": {"name": name, "parameters": {
        "type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}}
    for name in ("add", "subtract", "multiply", "divide")
]  # fmt: skip


def free_port() -> int:
    """A port nothing listens on right now, below the ephemeral range (`free_port`)."""
    return sockets.free_port(HOST)


@contextlib.contextmanager
def run_server(app: Any, start_timeout: float = 60.0, **config: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yield its base URL, then shut it down.

    The socket is bound here, before the thread starts, so no race can steal the port.
    `config` goes to uvicorn.Config (ssl_certfile and ssl_keyfile make it https). On
    exit the server shuts down gracefully, running the app's lifespan end.
    """
    config.setdefault("log_level", "warning")
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no delayed-ACK stalls
    sock.bind((HOST, 0))
    server = uvicorn.Server(uvicorn.Config(app, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_started(server, thread, start_timeout)
        scheme = "https" if config.get("ssl_certfile") else "http"
        yield f"{scheme}://{HOST}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


@contextlib.contextmanager
def run_trainer(app: Any) -> Iterator[str]:
    """Serve a mock trainer's app as bench, check and try do (`serve_app`: rolloutctl's lean
    HTTP server), in a thread with its own event loop; yield its base URL, then stop it."""
    from rolloutctl.harness import serve_app

    urls: list[str] = []
    ready, done = threading.Event(), threading.Event()

    async def serve() -> None:
        async with serve_app(app, "the mock trainer") as url:
            urls.append(url)
            ready.set()
            await asyncio.to_thread(done.wait)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    try:
        if not ready.wait(60) or not urls:
            raise RuntimeError("the mock trainer under test did not start")
        yield urls[0]
    finally:
        done.set()
        thread.join(timeout=60)


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the uvicorn server under test did not start")
        time.sleep(0.005)


@contextlib.contextmanager
def refused_url() -> Iterator[str]:
    """A base URL whose port is bound but not listening: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        yield f"http://{HOST}:{sock.getsockname()[1]}"


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def rolloutctl_bin() -> str:
    """The installed `rolloutctl` console script of the running environment."""
    return str(Path(sys.executable).with_name("rolloutctl"))


def run_cli(
    *args: str,
    timeout: float = CLI_BOUND,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `rolloutctl` with `args` to its end; its output captured as text.
    `env` adds to (or overrides) this process's environment."""
    return subprocess.run(
        [rolloutctl_bin(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
    )


# Each command line runs as the console script runs it (`rolloutctl.cli.core.main` is
# `sys.exit(raw_main())`), with its own argv and its own captured stdout and stderr.
_BATCH = """
import contextlib, io, json, sys
from rolloutctl.cli.core import raw_main
results = []
for args in json.load(sys.stdin):
    sys.argv = ["rolloutctl", *args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = raw_main(args)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
    results.append([args, status, out.getvalue(), err.getvalue()])
json.dump(results, sys.__stdout__)
"""


def run_cli_batch(*command_lines: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Run short command lines that need no terminal and no signal (input errors, refused
    connections, a `try` whose output is checked) one after another in one fresh rolloutctl
    process, each as `run_cli` would, so that the start-up is paid once, not once per case."""
    done = subprocess.run(
        [sys.executable, "-c", _BATCH],
        input=json.dumps(command_lines),
        capture_output=True,
        text=True,
        timeout=CLI_BOUND,
    )
    assert done.returncode == 0, done.stderr
    return [subprocess.CompletedProcess(a, s, o, e) for a, s, o, e in json.loads(done.stdout)]


def init_body(trainer: Any, rollout_id: str = "r1", **extra: Any) -> dict[str, Any]:
    """A v1 init of the calculator question, calling back `trainer` (anything with a `url`)."""
    body: dict[str, Any] = {
        "rollout_id": rollout_id,
        "server_url": trainer.url,
        "messages": [
            {"role": "system", "content": "be exact"},
            {"role": "user", "content": "What is 5 + 3?"},
        ],
    }
    body.update(extra)
    return body


def post_init(server: str, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{server}/v1/rollout/init", json=body, timeout=30, **kwargs)


def wait_healthy(
    url: str, process: subprocess.Popen[Any] | None = None, timeout: float = CLI_BOUND
) -> None:
    """Poll `url`/health until it answers; fail early if `process` (the server) died."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{url}/health", timeout=1)
            return
        except httpx.TransportError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wait_for(condition: Callable[[], object], what: str, bound: float = CLI_BOUND) -> None:
    """Poll a cheap in-process `condition` until it holds; fail naming `what` past `bound`."""
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {bound:g} s")
        time.sleep(0.05)


class RedisServer:
    """A real `redis-server` on a free loopback port, with its own directory.

    Append-only persistence is on, so `stop()` then `start()` (the same port and
    directory) brings the same data back, as a restarted production Redis would.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self, timeout: float = 30.0) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [binary, "--bind", HOST, "--port", str(self.port), "--dir", str(self.directory),
             "--save", "", "--appendonly", "yes", "--logfile", "redis.log"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server did not start:\n{log}")
            time.sleep(0.05)

    def ping(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM: Redis flushes its append-only file and exits."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def require_redis_server() -> None:
    """Skip the test when redis-server is missing here, but fail it under CI (CI=true),
    whose runner installs it."""
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must install it (.ci/run does)")
        pytest.skip(message)


@contextlib.contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    """A started RedisServer (see `require_redis_server`), stopped on exit."""
    require_redis_server()
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def assert_plain_text(text: str) -> None:
    """What --plain promises: no escape codes, no box drawing, no padding at line ends."""
    assert "\x1b" not in text
    assert not set(text) & set("─│┃━┏┓┗┛┡┩└┘┌┐╇╈┼├┤"), text
    assert all(line == line.rstrip() for line in text.splitlines()), text


def in_loop(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run the async test body in a fresh event loop, within a generous bound."""

    @functools.wraps(test)
    def run() -> None:
        asyncio.run(asyncio.wait_for(test(), 120))

    return run


def cli_group() -> TyperGroup:
    """The command group behind `rolloutctl`, with every command and option as users get them."""
    import typer

    from rolloutctl.cli.app import app

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    return root
