"""`serve --workers N`: N forked server processes on one port, and the parent that keeps them.

Each worker gets a listening socket of its own, all bound to the same port with
`SO_REUSEPORT`, so the kernel spreads new connections over the workers by their
address hash. One socket shared by all workers would let the worker that wakes
first take the connections: a closed-loop driver's 32 keep-alive connections landed
on a single worker in 2 of 3 runs that way (BENCHMARKS.md). The parent holds every
socket, so the connections that reach a dead worker's socket wait for its
replacement instead of being refused.

The workers share the record store (SQLite or Redis), which makes a repeated init
idempotent whichever worker it reaches. The parent restarts a worker that dies, and
on SIGTERM or SIGINT asks every worker to drain as a single server does.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from rich.console import Console

from rolloutctl.agent.context import Agent
from rolloutctl.logs import setup_logging
from rolloutctl.net.sockets import bind_socket, socket_url
from rolloutctl.observe.multiprocess import ASK_SIGNAL, WorkersMetrics, forget_worker
from rolloutctl.server.app import routes_app
from rolloutctl.server.banner import serve_banner
from rolloutctl.server.board import WorkerBoard
from rolloutctl.server.core import ServerCore
from rolloutctl.server.serving import ServeConfig, serve_forever
from rolloutctl.server.settings import ServerSettings
from rolloutctl.server.store import check_store_url

__all__ = [
    "RESTART_DELAY",
    "Supervisor",
    "metrics_folder",
    "private_store",
    "reuse_port_sockets",
    "run_workers",
    "worker_count",
]

log = logging.getLogger("rolloutctl.server")

RESTART_DELAY = 1.0  # seconds before restarting a worker that died within a second of its start
DRAIN_MARGIN = 30.0  # seconds past the shutdown grace before a worker that does not exit is killed


def worker_count(value: str) -> int:
    """`auto` (the cores this process may use) or a number of at least 1."""
    if value == "auto":
        if hasattr(os, "sched_getaffinity"):  # the cores this process may use (Linux)
            return len(os.sched_getaffinity(0))
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"--workers must be 'auto' or a whole number of at least 1, not {value!r}")
    return int(value)


@contextlib.contextmanager
def metrics_folder(settings: ServerSettings) -> Iterator[Path | None]:
    """A private temporary folder for the workers' metric files (removed at the end);
    None with metrics off."""
    if not settings.metrics:
        yield None
        return
    with _private_folder("rolloutctl-metrics-") as folder:
        yield Path(folder)


@contextlib.contextmanager
def private_store(settings: ServerSettings) -> Iterator[ServerSettings]:
    """`settings` with a store the workers share: theirs, or an SQLite file in a private
    temporary folder (removed at the end) when they name none or `memory` (one process's)."""
    if check_store_url(settings.store) is not None:
        yield settings
        return
    with _private_folder("rolloutctl-workers-") as folder:
        yield replace(settings, store=f"sqlite:///{folder}/records.db")


def _private_folder(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder only this user may enter (mode 0700), removed at the end."""
    return tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True)


def reuse_port_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one port (port 0: a free one). Raises CannotBind
    when anything listens there: SO_REUSEPORT alone would let this server join another
    of the same user's (its workers, say) and split that port's connections with it."""
    with bind_socket(host, port) as alone:  # fails on any listener, SO_REUSEPORT or not
        port = alone.getsockname()[1]
    return [bind_socket(host, port, reuse_port=True) for _ in range(count)]


class Supervisor:
    """Forks, watches and stops the workers; `serve(worker)` is what a worker runs."""

    def __init__(
        self,
        sockets: list[socket.socket],
        serve: Any,
        grace: float,
        exited: Callable[[int], None] = lambda pid: None,
    ) -> None:
        self.sockets = sockets
        self.serve = serve  # (index, socket, board) -> None, run in the worker
        self.grace = grace
        self.exited = exited  # told the pid of each worker that exited
        self.board = WorkerBoard(len(sockets))
        self.processes: list[BaseProcess | None] = [None] * len(sockets)
        self.started_at = [0.0] * len(sockets)
        self.stopping = False
        self._context = multiprocessing.get_context("fork")

    def run(self) -> None:
        """Start every worker, restart those that die, and drain them all on a signal."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for index in range(len(self.sockets)):
                self._start(index, restart=False)
            while not self.stopping:
                self._watch()
            self._drain()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _start(self, index: int, restart: bool) -> None:
        process = self._context.Process(
            target=self.serve, args=(index, self.sockets[index], self.board), daemon=False
        )
        process.start()
        assert process.pid is not None
        self.board.started(index, process.pid, restart)
        self.processes[index] = process
        self.started_at[index] = time.monotonic()

    def _watch(self) -> None:
        """Wait (up to half a second, to notice a signal) for a worker to exit; replace it."""
        alive = {p.sentinel: i for i, p in enumerate(self.processes) if p is not None}
        for sentinel in wait(list(alive), timeout=0.5):
            index = alive[sentinel]  # type: ignore[index]
            process = self.processes[index]
            assert process is not None
            process.join()
            self.board.exited(index)
            self.exited(process.pid or 0)
            if self.stopping:
                return
            log.warning(
                "worker %d (pid %s) exited with %s; starting a new one",
                index,
                process.pid,
                _exit_reason(process.exitcode),
            )
            if time.monotonic() - self.started_at[index] < 1.0:
                time.sleep(RESTART_DELAY)  # do not spin on a worker that cannot start
            self._start(index, restart=True)

    def _drain(self) -> None:
        """SIGTERM every worker (each drains as one server does), then wait for them all."""
        running = [p for p in self.processes if p is not None and p.is_alive()]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid or 0, signal.SIGTERM)
        deadline = time.monotonic() + self.grace + DRAIN_MARGIN
        for process in running:
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                log.warning("worker pid %s did not drain in time; killed", process.pid)
                process.kill()
                process.join()


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"status {code}"


def run_workers(agent: Agent, config: ServeConfig, console: Console) -> None:
    """Serve `agent` with `config.workers` processes until SIGINT/SIGTERM, then drain."""
    sockets = reuse_port_sockets(config.host, config.port, config.workers)
    url = socket_url(config.host, sockets[0])
    setup_logging(config.log_level, config.json_logs, console)
    with private_store(config.settings) as settings, metrics_folder(settings) as metrics:
        memory_as_file = settings is not config.settings  # private_store made a file of it
        config = replace(config, settings=settings)
        if not config.json_logs:
            console.print(serve_banner(agent, url, config, memory_as_file))
        exited = functools.partial(forget_worker, metrics) if metrics else lambda pid: None
        signal.signal(ASK_SIGNAL, signal.SIG_IGN)  # workers inherit it until they listen
        worker = _worker(agent, config, metrics)
        Supervisor(sockets, worker, settings.shutdown_grace, exited).run()


def _worker(agent: Agent, config: ServeConfig, metrics: Path | None) -> Any:
    """The function a forked worker runs: a whole server on its socket, on the board,
    its metrics' snapshots beside the other workers' (in `metrics`)."""

    def serve(index: int, sock: socket.socket, board: WorkerBoard) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):  # not the supervisor's handler
            signal.signal(sig, signal.SIG_DFL)
        core = ServerCore(agent, config.settings)
        shared = None
        if metrics is not None and core.observer is not None:
            shared = WorkersMetrics(metrics, core.observer.metrics.registry, board.others)
            core.exposed = shared.scraped
            core.background.append(shared.publish_forever)
        core.workers = board
        board.attach(index, core.counts)
        try:
            serve_forever(routes_app(core, with_lifespan=True), sock, config)
        finally:
            if shared is not None:  # its last counts, the drain's included
                shared.publish()
            logging.shutdown()  # a forked process exits without running atexit

    return serve
