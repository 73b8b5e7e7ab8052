"""A 100 MB init against a real `rolloutctl serve` process: refused early and cheaply.

"Early" is shown by events, not by a clock: the 413 comes back while not one byte of the
body has been sent, so the server cannot have waited for it. Then the client sends the
body all the same, and the server's RSS must grow by under 20 MiB.
"""

from __future__ import annotations

import socket
import subprocess
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


def test_a_100_mb_init_is_refused_with_413_before_its_body_and_with_little_memory():
    process, port = start_serve()
    try:
        before = rss_kib(process.pid)
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(
                b"POST /v1/rollout/init HTTP/1.1\r\nhost: x\r\n"
                b"content-type: application/json\r\n"
                b"content-length: %d\r\n\r\n" % HUNDRED_MB
            )
            answer = sock.recv(65536)  # no body byte sent yet
            send_body(sock)
        growth_mib = (rss_kib(process.pid) - before) / 1024
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert growth_mib < 20, f"RSS grew {growth_mib:.1f} MiB"
    assert health.status_code == 200
