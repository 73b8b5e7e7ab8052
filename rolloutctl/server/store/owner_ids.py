"""Who owns a rollout in a shared store, and whether that owner is known to be dead.

An owner id is `host:pid:token`: the host name (the pod name under Kubernetes) and
pid let an operator find the process; the token is new at each start, and begins with
a tag of the pids the process sees (`PID_SPACE`). A process can tell at once that an
owner is dead only when it sees the same pids: same host name, same tag.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from pathlib import Path

__all__ = ["PID_SPACE", "default_owner", "owner_dead"]


def _pid_space() -> str:
    """Which pids this process sees (the boot and the pid namespace, on Linux), so that
    containers that share a host name (host networking) never judge each other's pids."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        space = f"{boot}{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        space = "unknown"
    return hashlib.sha256(space.encode()).hexdigest()[:4]


PID_SPACE = _pid_space()


def default_owner() -> str:
    """host:pid (the pod name under Kubernetes, so an operator can find the process),
    and a token of this start that begins with its `PID_SPACE`: a restarted process
    with the same pid is a new owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{PID_SPACE}{secrets.token_hex(3)}"


def owner_dead(owner: str, me: str) -> bool:
    """Whether `owner` (host:pid:token) is a process of this machine, seeing the same
    pids, that no longer runs: its pid is gone, or it is this process's pid with another
    token (an earlier start). Other owners are never declared dead here (their heartbeat
    tells)."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    if not parts[2].startswith(PID_SPACE):
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return owner != me
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
