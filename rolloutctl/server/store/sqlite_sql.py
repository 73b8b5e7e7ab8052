"""The SQLite store's file: schema, statements, connections, and what a row holds.

`rollouts` has one row per rollout: the first 202 body, the status body, and while
the rollout is in flight what a rescuer needs (`rescue`: callback and history).
`delivery` names the process that claimed the delivery of its completion; once set,
no other process writes the row. A rescuer that takes a lost row over becomes its
`owner` as well as its `delivery`: a row still in flight whose delivery is its own
owner's is a rescue under way, lost again if the rescuer dies. `owners` holds each
process's last heartbeat.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from rolloutctl.agent.context import RolloutMetrics
from rolloutctl.server.store.base import Callback, RolloutRecord, RolloutState

__all__ = [
    "ADOPT",
    "BEAT",
    "BUSY_TIMEOUT",
    "CLAIM",
    "CLAIM_DELIVERY",
    "DELIVER",
    "EXPIRE",
    "FIRST_BEAT",
    "FIRST_BODY",
    "LOST",
    "OWNERS",
    "STATUS",
    "TRIM",
    "WRITE",
    "busy",
    "connect",
    "decode",
    "immediate",
    "rescue_value",
    "sqlite_path",
]

BUSY_TIMEOUT = 2.0  # seconds a statement waits for another process's write lock

# a rowid table: its rows (about 1-2 KiB) fit in a page, where a WITHOUT ROWID table's
# spill to an overflow page, which every write rewrites (a third more CPU, twice the WAL);
# a file made with the earlier WITHOUT ROWID table, or the earlier expiry index, works as it is
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rollouts (
    prefix TEXT NOT NULL, rollout_id TEXT NOT NULL, body BLOB NOT NULL,
    status BLOB NOT NULL, active INTEGER NOT NULL, expires_at REAL NOT NULL,
    owner TEXT NOT NULL, rescue BLOB, delivery TEXT,
    PRIMARY KEY (prefix, rollout_id));
-- only the rollouts in flight, which the scans for lost owners read: a finished row's
-- writes then touch no index (expiry and trims, which are rare, read the table)
CREATE INDEX IF NOT EXISTS rollouts_live ON rollouts (prefix, owner) WHERE active = 1;
DROP INDEX IF EXISTS rollouts_expiry;
CREATE TABLE IF NOT EXISTS owners (
    prefix TEXT NOT NULL, owner TEXT NOT NULL, beat_at REAL NOT NULL,
    PRIMARY KEY (prefix, owner)) WITHOUT ROWID;
"""
# the claim replaces only an expired row
CLAIM = """
INSERT INTO rollouts VALUES (?, ?, ?, ?, 1, ?, ?, ?, NULL)
ON CONFLICT DO UPDATE SET body = excluded.body, status = excluded.status, active = 1,
    expires_at = excluded.expires_at, owner = excluded.owner, rescue = excluded.rescue,
    delivery = NULL WHERE rollouts.expires_at < ?
RETURNING 1
"""
FIRST_BODY = "SELECT body FROM rollouts WHERE prefix = ? AND rollout_id = ?"
STATUS = "SELECT status FROM rollouts WHERE prefix = ? AND rollout_id = ? AND expires_at >= ?"
# a write of a record whose delivery another process claimed is dropped
WRITE = """
INSERT INTO rollouts VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)
ON CONFLICT DO UPDATE SET status = excluded.status, active = excluded.active,
    expires_at = excluded.expires_at, rescue = excluded.rescue
    WHERE rollouts.delivery IS NULL OR rollouts.delivery = excluded.owner
"""
CLAIM_DELIVERY = """
INSERT INTO rollouts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO UPDATE SET status = excluded.status, active = excluded.active,
    expires_at = excluded.expires_at, rescue = excluded.rescue, delivery = excluded.delivery
    WHERE rollouts.delivery IS NULL OR rollouts.delivery = excluded.delivery
RETURNING 1
"""
# the delivery claim of a row in place (the usual case): one change, no insert tried
DELIVER = """
UPDATE rollouts SET status = ?, active = ?, expires_at = ?, rescue = ?, delivery = ?
WHERE prefix = ? AND rollout_id = ? AND (delivery IS NULL OR delivery = ?)
"""
EXPIRE = "DELETE FROM rollouts WHERE prefix = ? AND expires_at < ?"
TRIM = """
DELETE FROM rollouts WHERE prefix = ? AND rollout_id IN (
    SELECT rollout_id FROM rollouts WHERE prefix = ? AND active = 0
    ORDER BY expires_at LIMIT max(0, (SELECT count(*) FROM rollouts WHERE prefix = ?) - ?))
"""
BEAT = "UPDATE owners SET beat_at = ? WHERE prefix = ? AND owner = ?"
FIRST_BEAT = "INSERT OR REPLACE INTO owners VALUES (?, ?, ?)"
# in flight, and its delivery unclaimed or claimed by its owner's rescue
_UNDELIVERED = "active = 1 AND (delivery IS NULL OR delivery = owner)"
OWNERS = f"SELECT DISTINCT owner FROM rollouts WHERE prefix = ? AND {_UNDELIVERED}"
# undelivered, and its owner dead (in a JSON list) or (when asked) silent
LOST = f"""
SELECT rollout_id, body, status, owner, rescue FROM rollouts
WHERE prefix = ? AND {_UNDELIVERED} AND owner != ? AND (
    owner IN (SELECT value FROM json_each(?)) OR (? AND owner NOT IN (
        SELECT owner FROM owners WHERE prefix = ? AND beat_at >= ?)))
LIMIT ?
"""
ADOPT = "UPDATE rollouts SET owner = ?, delivery = ? WHERE prefix = ? AND rollout_id = ?"


def sqlite_path(url: str) -> Path:
    """The file of `sqlite:///records.db` (relative) or `sqlite:////srv/records.db` (absolute)."""
    return Path(url.removeprefix("sqlite://").removeprefix("/"))


def connect(path: Path, wait: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, schema in place.
    One that does not `wait` fails at once (`busy`) where the write lock is taken, and
    leaves WAL checkpoints (which sync the disk) to others."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.executescript(_SCHEMA)
    if not wait:
        db.execute("PRAGMA busy_timeout = 0")
        db.execute("PRAGMA wal_autocheckpoint = 0")
    return db


@contextlib.contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taking the write lock at once (so it cannot deadlock later);
    rolled back if anything in it fails, the commit included."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def busy(exc: BaseException) -> bool:
    """Whether `exc` says another connection held a lock (nothing was written)."""
    return isinstance(exc, sqlite3.OperationalError) and exc.sqlite_errorcode in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    )


def rescue_value(record: RolloutRecord) -> bytes | None:
    """What a rescuer needs of an in-flight record: callback (with its key) and history.
    Nothing once the rollout finished: the key is kept no longer than needed."""
    if not record.active or record.callback is None:
        return None
    value = {"url": record.callback.url, "key": record.callback.key, "messages": record.history()}
    return orjson.dumps(value, default=str)


def decode(row: tuple[str, bytes, bytes, str, bytes | None]) -> RolloutRecord:
    """A lost record as its owner last wrote it, with its callback and history."""
    rollout_id, body, status_json, owner, rescue = row
    status: dict[str, Any] = orjson.loads(status_json)
    record = RolloutRecord(rollout_id, bytes(body), state=RolloutState(status["state"]))
    record.owner = owner
    record.metrics = RolloutMetrics(
        num_llm_calls=status.get("num_llm_calls", 0), num_tool_calls=status.get("num_tool_calls", 0)
    )
    if rescue is not None:
        value = orjson.loads(rescue)
        record.callback = Callback(value["url"], value.get("key"))
        record.messages = value.get("messages")
    return record
