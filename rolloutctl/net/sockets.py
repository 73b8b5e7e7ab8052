"""Binding listening sockets up front, so "port in use" is one clear error; and picking
a free port for a server that another process will start.

Kept apart from the server so that the mock trainer and the CLI can use it without
importing FastAPI.
"""

from __future__ import annotations

import errno
import random
import socket
from pathlib import Path

from rolloutctl.errors import CannotBind

__all__ = ["bind_socket", "free_port", "socket_url"]

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PICK = 10_000  # below: ports that well-known services tend to hold


def bind_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """Bind a listening TCP socket, or raise CannotBind with one readable line.

    `reuse_port`: other sockets of this user may listen on the same port (the
    kernel spreads new connections over them).
    """
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Accepted connections inherit this; without it, a response written in two parts
    # waits for the client's delayed ACK (~40 ms a request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CannotBind(f"port {port} on {host} is already in use") from None
        raise CannotBind(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def socket_url(host: str, sock: socket.socket) -> str:
    """The http base URL of `sock` as bound to `host`, an IPv6 address in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{sock.getsockname()[1]}"


def free_port(host: str, ephemeral_start: int | None = None) -> int:
    """A port nothing listens on at `host` now, for a child process to bind later.

    Below the kernel's ephemeral range when there is room (`ephemeral_start`: read
    from /proc unless given): `bind(host, 0)` picks from that range, which is also
    where every outgoing connection of the machine takes its local port, so between
    the pick and the child's bind any connect() could take it; a busy test suite
    makes thousands. Below the range only another pick can collide, and random
    ports make that unlikely.
    """
    start = _ephemeral_start() if ephemeral_start is None else ephemeral_start
    if start - LOWEST_PICK >= 1000:
        for port in random.sample(range(LOWEST_PICK, start), 20):
            if _bindable(host, port):
                return port
    with socket.socket(_family(host)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0  # unknown: let the kernel pick


def _bindable(host: str, port: int) -> bool:
    with socket.socket(_family(host)) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
