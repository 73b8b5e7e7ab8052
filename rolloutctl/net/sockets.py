"""Binding listening sockets up front, so "port in use" is one clear error.

Kept apart from the server so that the mock trainer and the CLI can use it without
importing FastAPI.
"""

from __future__ import annotations

import errno
import socket

from rolloutctl.errors import CannotBind

__all__ = ["bind_socket", "socket_url"]


def bind_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """Bind a listening TCP socket, or raise CannotBind with one readable line.

    `reuse_port`: other sockets of this user may listen on the same port (the
    kernel spreads new connections over them).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
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
