"""A 100 MB init against a real `rolloutctl serve` process: refused fast and cheaply.

This is one of the timing assertions the issue asks for, with its own margins: the 413
must come in under a second and the server's RSS grow by under 20 MiB.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx

from tests.helpers import free_port, rolloutctl_bin, wait_healthy

HUNDRED_MB = 100 * 1000 * 1000


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def start_serve() -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [rolloutctl_bin(), "serve", "-e", "echo", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_healthy(f"http://127.0.0.1:{port}", process)
    return process, port


def send_body(sock: socket.socket) -> None:
    chunk = b"x" * (1 << 20)
    try:
        for _ in range(HUNDRED_MB // len(chunk)):
            sock.sendall(chunk)
    except OSError:  # the server answered and closed: what we want
        pass


def test_a_100_mb_init_is_refused_with_413_in_under_a_second_and_little_memory():
    process, port = start_serve()
    try:
        before = rss_kib(process.pid)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            started = time.perf_counter()
            sock.sendall(
                b"POST /v1/rollout/init HTTP/1.1\r\nhost: x\r\n"
                b"content-type: application/json\r\n"
                b"content-length: %d\r\n\r\n" % HUNDRED_MB
            )
            sender = threading.Thread(target=send_body, args=(sock,), daemon=True)
            sender.start()
            answer = sock.recv(65536)
            elapsed = time.perf_counter() - started
        sender.join(timeout=60)
        growth_mib = (rss_kib(process.pid) - before) / 1024
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert elapsed < 1.0, f"413 after {elapsed:.2f} s"
    assert growth_mib < 20, f"RSS grew {growth_mib:.1f} MiB"
    assert health.status_code == 200
    print(f"100 MB init: 413 after {elapsed * 1000:.0f} ms, RSS +{growth_mib:.1f} MiB")
