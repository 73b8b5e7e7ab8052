"""The SQLite store's own edges, against a real SQLite file: TTL, the size bound, the URL."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from rolloutctl.server.store.base import RolloutRecord
from rolloutctl.server.store.sqlite import SqliteStore
from rolloutctl.server.store.sqlite_sql import sqlite_path
from tests.server.store.replicas import serve_usage_error

BODY = b'{"rollout_id": "x", "tools": []}'


async def finished(store: SqliteStore, rollout_id: str) -> None:
    """Claim `rollout_id` in `store`, finish it, and wait until the file has it."""
    assert await store.claim(RolloutRecord(rollout_id, BODY)) is None
    record = store.local(rollout_id)
    assert record is not None
    store.finish(record, {"status": "COMPLETED"})
    while store.health()["pending_writes"]:
        await asyncio.sleep(0.01)


def rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM rollouts").fetchone()[0])


def test_a_finished_record_outlives_its_store_and_expires_after_its_ttl(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"

    async def run() -> None:
        for ttl, rollout_id in ((3600.0, "kept"), (0.5, "old")):  # the TTL is the writer's
            owner = SqliteStore(url, ttl=ttl)
            await owner.start()
            await finished(owner, rollout_id)
            await owner.aclose()
        other = SqliteStore(url, ttl=0.5)
        await other.start()
        assert await other.claim(RolloutRecord("kept", b"{}")) == BODY  # still remembered
        deadline = time.monotonic() + 60
        while await other.status("old") is not None:  # past its TTL: forgotten
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert await other.claim(RolloutRecord("old", b"{}")) is None  # a new rollout
        await other.aclose()

    asyncio.run(run())


def test_a_file_made_with_the_earlier_without_rowid_table_is_used_as_it_is(tmp_path):
    """Files written before the table kept its rowid: their records still answer."""
    path = tmp_path / "r.db"
    old = "CREATE TABLE rollouts (prefix TEXT NOT NULL, rollout_id TEXT NOT NULL, body BLOB"
    old += " NOT NULL, status BLOB NOT NULL, active INTEGER NOT NULL, expires_at REAL NOT NULL,"
    old += " owner TEXT NOT NULL, rescue BLOB, delivery TEXT, PRIMARY KEY (prefix, rollout_id))"
    with sqlite3.connect(path) as db:
        db.execute(old + " WITHOUT ROWID")
        db.execute("CREATE INDEX rollouts_expiry ON rollouts (prefix, active, expires_at)")

    async def run() -> None:
        owner = SqliteStore(f"sqlite:///{path}")
        await owner.start()
        await finished(owner, "done")
        await owner.aclose()
        other = SqliteStore(f"sqlite:///{path}")
        await other.start()
        assert await other.claim(RolloutRecord("done", b"{}")) == BODY
        assert (await other.status("done") or {})["state"] == "completed"
        await other.aclose()

    asyncio.run(run())
    with sqlite3.connect(path) as db:
        assert "WITHOUT ROWID" in db.execute("SELECT sql FROM sqlite_master").fetchone()[0]
        indexes = db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    assert indexes == [("rollouts_live",)]  # the expiry index is gone (the table is its key)


def test_a_delivery_claim_whose_row_is_gone_writes_it_anew(tmp_path):
    """Claimed, then its row deleted from the file (by hand, say): the delivery claim
    still wins, and the file has the finished record again, for the other processes."""
    path = tmp_path / "r.db"

    async def run() -> None:
        owner = SqliteStore(f"sqlite:///{path}")
        await owner.start()
        record = RolloutRecord("gone", BODY)
        assert await owner.claim(record) is None
        with sqlite3.connect(path) as db:
            db.execute("DELETE FROM rollouts")
        owner.finish(record, {"status": "COMPLETED"})
        assert await owner.claim_delivery(record)
        other = SqliteStore(f"sqlite:///{path}")
        await other.start()
        assert (await other.status("gone") or {})["state"] == "completed"
        await other.aclose()
        await owner.aclose()

    asyncio.run(run())


def test_past_max_records_the_oldest_finished_go_first_and_running_ones_stay(tmp_path):
    path = tmp_path / "r.db"

    async def run() -> None:
        store = SqliteStore(f"sqlite:///{path}", max_records=10)
        await store.start()
        running = [RolloutRecord(f"run-{i}", BODY) for i in range(2)]
        for record in running:
            assert await store.claim(record) is None
        for i in range(20):
            await finished(store, f"done-{i}")
        store.evict()
        while rows(path) > 9:  # as in memory: down to 90% of the bound
            await asyncio.sleep(0.01)
        assert await store.status("done-12") is None
        assert all([await store.status(f"done-{i}") for i in range(13, 20)])
        assert all([await store.status(r.rollout_id) for r in running])
        await store.aclose()

    asyncio.run(run())


def test_sqlite_urls_name_a_file_relative_or_absolute():
    assert sqlite_path("sqlite:///records.db") == Path("records.db")
    assert sqlite_path("sqlite:////srv/rollouts/records.db") == Path("/srv/rollouts/records.db")


def test_a_store_in_a_missing_folder_is_one_line_and_exit_2(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing' / 'records.db'}"
    assert "does not exist" in serve_usage_error("--store", url)
