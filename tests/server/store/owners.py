"""Shared by the owner and fault tests of the shared stores: records in flight, and stores
started and closed around a test."""

from __future__ import annotations

import contextlib
import itertools
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

from rolloutctl.server.store import Callback, RecordStore, RolloutRecord

WAIT = 60.0  # bound of every wait: the machine may be busy
_hosts = itertools.count()


def in_flight(rollout_id: str) -> RolloutRecord:
    record = RolloutRecord(rollout_id, f'{{"rollout_id": "{rollout_id}", "tools": []}}'.encode())
    record.callback = Callback("http://127.0.0.1:9/trainer", "k-secret")
    record.messages = [{"role": "user", "content": f"question {rollout_id}"}]
    return record


def finish(store: RecordStore, record: RolloutRecord) -> None:
    store.finish(record, {"rollout_id": record.rollout_id, "status": "COMPLETED"})


@contextlib.asynccontextmanager
async def started(opener: Callable[..., RecordStore], **options: Any) -> AsyncIterator[RecordStore]:
    """A store standing for a process of another machine (unless `owner=` says otherwise):
    the stores of one test share this process's pid, which would make each a dead
    earlier start of it to the others; an owner elsewhere is judged by its heartbeat."""
    options.setdefault("owner", f"elsewhere-{next(_hosts)}.test:1:{secrets.token_hex(3)}")
    store = opener(**options)
    await store.start()
    try:
        yield store
    finally:
        await store.aclose()
