"""Records in an SQLite file, shared by the processes of one machine and kept across restarts.

One row per rollout in WAL mode (readers never wait for the writer). The claim is
one `BEGIN IMMEDIATE` transaction on the event loop: an upsert that only replaces an
expired row, so exactly one process wins an id. It takes tens of microseconds (see
BENCHMARKS.md); another process's write can hold it up for as long as that write
takes, bounded by `BUSY_TIMEOUT`. Later changes are batched (`SharedStore`) and
written by one thread of their own, so the event loop never waits for them.
`synchronous=NORMAL`: a killed process loses nothing committed; only a power loss may
lose the last changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from rolloutctl.server.store.base import RolloutRecord
from rolloutctl.server.store.shared import SharedStore

__all__ = ["BUSY_TIMEOUT", "SqliteStore", "connect", "immediate", "sqlite_path"]

BUSY_TIMEOUT = 2.0  # seconds a statement waits for another process's write lock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rollouts (
    prefix TEXT NOT NULL, rollout_id TEXT NOT NULL, body BLOB NOT NULL,
    status BLOB NOT NULL, active INTEGER NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (prefix, rollout_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rollouts_expiry ON rollouts (prefix, active, expires_at);
"""
_CLAIM = """
INSERT INTO rollouts VALUES (?, ?, ?, ?, 1, ?)
ON CONFLICT DO UPDATE SET body = excluded.body, status = excluded.status, active = 1,
    expires_at = excluded.expires_at WHERE rollouts.expires_at < ?
RETURNING 1
"""
_FIRST_BODY = "SELECT body FROM rollouts WHERE prefix = ? AND rollout_id = ?"
_STATUS = "SELECT status FROM rollouts WHERE prefix = ? AND rollout_id = ? AND expires_at >= ?"
_WRITE = """
INSERT INTO rollouts VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT DO UPDATE SET status = excluded.status, active = excluded.active,
    expires_at = excluded.expires_at
"""
_EXPIRE = "DELETE FROM rollouts WHERE prefix = ? AND expires_at < ?"
_TRIM = """
DELETE FROM rollouts WHERE prefix = ? AND rollout_id IN (
    SELECT rollout_id FROM rollouts WHERE prefix = ? AND active = 0
    ORDER BY expires_at LIMIT max(0, (SELECT count(*) FROM rollouts WHERE prefix = ?) - ?))
"""

Row = tuple[str, str, bytes, bytes, int, float]


def sqlite_path(url: str) -> Path:
    """The file of `sqlite:///records.db` (relative) or `sqlite:////srv/records.db` (absolute)."""
    return Path(url.removeprefix("sqlite://").removeprefix("/"))


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, schema in place."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.executescript(_SCHEMA)
    return db


@contextlib.contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taking the write lock at once (so it cannot deadlock later)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class SqliteStore(SharedStore):
    """This process's records in memory (as MemoryStore), every record in an SQLite file."""

    kind = "sqlite"

    def _configure(self, url: str) -> None:
        self.path = sqlite_path(url)
        self.transactions = 0
        self._db: sqlite3.Connection | None = None  # the event loop's: claims, reads
        self._writer: sqlite3.Connection | None = None  # the writer thread's
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rolloutctl-sqlite")
        self._trim = True  # expire and trim once at start

    async def _insert(self, record: RolloutRecord) -> bytes | None:
        now = time.time()
        value = orjson.dumps(record.status(), default=str)
        key = (self.prefix, record.rollout_id)
        row = (*key, record.response_body, value, now + self.ttl, now)
        try:
            with immediate(self._loop_db()) as db:
                won = db.execute(_CLAIM, row).fetchone() is not None
                first = None if won else db.execute(_FIRST_BODY, key).fetchone()
        except sqlite3.Error as exc:
            raise self._mark_down(exc) from exc
        self.transactions += 1
        return None if first is None else bytes(first[0])

    async def _read(self, rollout_id: str) -> dict[str, Any] | None:
        try:
            row = self._loop_db().execute(_STATUS, (self.prefix, rollout_id, time.time()))
            found = row.fetchone()
        except sqlite3.Error as exc:
            raise self._mark_down(exc) from exc
        return None if found is None else dict(orjson.loads(found[0]))

    def evict(self) -> None:
        super().evict()
        self._trim = True
        self._wake.set()

    async def _write(self, records: list[RolloutRecord]) -> None:
        expires = time.time() + self.ttl
        rows = [self._row(record, expires) for record in records]
        trim, self._trim = self._trim, False
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._commit, rows, trim)
        except sqlite3.Error as exc:
            self._trim |= trim
            raise self._mark_down(exc) from exc
        self._mark_up()

    def _row(self, record: RolloutRecord, expires: float) -> Row:
        status = orjson.dumps(record.status(), default=str)
        body, active = record.response_body, int(record.active)
        return (self.prefix, record.rollout_id, body, status, active, expires)

    def _commit(self, rows: list[Row], trim: bool) -> None:
        """In the writer thread: write `rows` (and expire, trim) in one transaction."""
        if self._writer is None:
            self._writer = connect(self.path)
        with immediate(self._writer) as db:
            db.executemany(_WRITE, rows)
            if trim:
                db.execute(_EXPIRE, (self.prefix, time.time()))
                keep = self.max_records * 9 // 10  # as in memory: trim below the bound
                db.execute(_TRIM, (self.prefix, self.prefix, self.prefix, keep))
        self.transactions += 1

    def _loop_db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = connect(self.path)
        return self._db

    def health(self) -> dict[str, Any]:
        return {**super().health(), "round_trips": self.transactions}

    async def _disconnect(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_writer)
        self._thread.shutdown()
        if self._db is not None:
            self._db.close()

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
