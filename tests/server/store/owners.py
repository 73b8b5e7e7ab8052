"""Shared by the owner and fault tests of the shared stores: records in flight, and stores
started and closed around a test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from rolloutctl.server.store import Callback, RecordStore, RolloutRecord

WAIT = 60.0  # bound of every wait: the machine may be busy


def in_flight(rollout_id: str) -> RolloutRecord:
    record = RolloutRecord(rollout_id, f'{{"rollout_id": "{rollout_id}", "tools": []}}'.encode())
    record.callback = Callback("http://127.0.0.1:9/trainer", "k-secret")
    record.messages = [{"role": "user", "content": f"question {rollout_id}"}]
    return record


def finish(store: RecordStore, record: RolloutRecord) -> None:
    store.finish(record, {"rollout_id": record.rollout_id, "status": "COMPLETED"})


@contextlib.asynccontextmanager
async def started(opener: Callable[..., RecordStore], **options: Any) -> AsyncIterator[RecordStore]:
    store = opener(**options)
    await store.start()
    try:
        yield store
    finally:
        await store.aclose()
