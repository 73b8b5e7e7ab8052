"""Labels every series carries, and the bound on labels that come from user code."""

from __future__ import annotations

import os
import socket

__all__ = ["OTHER", "BoundedNames", "replica_name"]

OTHER = "other"


def replica_name() -> str:
    """host:pid: which process of which machine a series comes from."""
    return f"{socket.gethostname()}:{os.getpid()}"


class BoundedNames:
    """Keeps at most `limit` distinct names; any name past them is reported as `other`.

    Tool names come from agents and models, not from us: a model inventing tool names
    must not make a series per invention.
    """

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self._known: set[str] = set()

    def __call__(self, name: str) -> str:
        if name in self._known:
            return name
        if len(self._known) >= self.limit:
            return OTHER
        self._known.add(name)
        return name
