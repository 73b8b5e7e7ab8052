"""Child processes that never outlive the rolloutctl process that started them."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

__all__ = ["die_with_parent"]

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that has the child SIGTERMed when this process dies, even by SIGKILL,
    so a killed eval, bench or `serve --reload` never leaves a server holding its port
    (Linux prctl); None elsewhere."""
    if sys.platform != "linux":
        return None
    parent = os.getpid()

    def arm() -> None:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)

    return arm
