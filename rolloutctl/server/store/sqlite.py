"""Records in an SQLite file, shared by the processes of one machine and kept across restarts.

One row per rollout in WAL mode (readers never wait for the writer). The claim is
one `BEGIN IMMEDIATE` transaction on the event loop: an upsert that only replaces an
expired row, so exactly one process wins an id. It takes tens of microseconds (see
BENCHMARKS.md); another process's write can hold it up for as long as that write
takes, bounded by `BUSY_TIMEOUT`. Later changes are batched (`SharedStore`) and
written by one thread of their own, in order with the delivery claims, so the event
loop never waits for them. `synchronous=NORMAL`: a killed process loses nothing
committed; only a power loss may lose the last changes.

Owners (see `SharedStore`): a process of this machine whose pid is gone is known to
be dead, so its rollouts are taken over at the next scan instead of after
`owner_timeout`; owners elsewhere (a file on a shared disk) are judged by heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from rolloutctl.server.store import sqlite_sql as sql
from rolloutctl.server.store.base import RolloutRecord
from rolloutctl.server.store.shared import SCAN_BATCH, SharedStore

__all__ = ["SqliteStore"]

Row = tuple[str, str, bytes, bytes, int, float, str, bytes | None]


class SqliteStore(SharedStore):
    """This process's records in memory (as MemoryStore), every record in an SQLite file."""

    kind = "sqlite"

    def _configure(self, url: str) -> None:
        self.path = sql.sqlite_path(url)
        self.transactions = 0
        self._db: sqlite3.Connection | None = None  # the event loop's: claims, reads, scans
        self._writer: sqlite3.Connection | None = None  # the writer thread's
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rolloutctl-sqlite")
        self._trim = True  # expire and trim once at start
        self._beaten = False

    async def _insert(self, record: RolloutRecord) -> bytes | None:
        now = time.time()
        status = orjson.dumps(record.status(), default=str)
        key = (self.prefix, record.rollout_id)
        rescue = sql.rescue_value(record)
        row = (*key, record.response_body, status, now + self.ttl, self.owner, rescue, now)
        with self._transaction() as db:
            won = db.execute(sql.CLAIM, row).fetchone() is not None
            first = None if won else db.execute(sql.FIRST_BODY, key).fetchone()
        return None if first is None else bytes(first[0])

    async def _read(self, rollout_id: str) -> dict[str, Any] | None:
        try:
            rows = self._loop_db().execute(sql.STATUS, (self.prefix, rollout_id, time.time()))
            found = rows.fetchone()
        except sqlite3.Error as exc:
            raise self._mark_down(exc) from exc
        return None if found is None else dict(orjson.loads(found[0]))

    async def _beat(self) -> bool:
        known = bool(await self._in_writer(self._beat_in_thread))
        lost_data, self._beaten = self._beaten and not known, True
        return lost_data

    def _beat_in_thread(self) -> bool:
        """Whether the file knew this owner (it beat before, or this is its first beat)."""
        now = time.time()
        with sql.immediate(self._writer_db()) as db:
            known = db.execute(sql.BEAT, (now, self.prefix, self.owner)).rowcount > 0
            if not known:
                db.execute(sql.FIRST_BEAT, (self.prefix, self.owner, now))
        self.transactions += 1
        return known

    async def scan_lost(self) -> list[RolloutRecord]:
        """The rollouts of silent owners (after `owner_timeout`), else those of dead
        processes of this machine, at once."""
        silent = await super().scan_lost()
        return silent if silent or not self.up else await self._adopt(SCAN_BATCH, False)

    async def _take_lost(self, limit: int) -> list[RolloutRecord]:
        return await self._adopt(limit, True)

    async def _adopt(self, limit: int, silent_too: bool) -> list[RolloutRecord]:
        rows = await self._in_writer(self._adopt_in_thread, limit, silent_too)
        return [sql.decode(row) for row in rows]

    def _adopt_in_thread(self, limit: int, silent_too: bool) -> list[Any]:
        """Claim the deliveries of in-flight records of dead (and silent) owners."""
        me, prefix = self.owner, self.prefix
        with sql.immediate(self._writer_db()) as db:
            owners = db.execute(sql.OWNERS, (prefix,)).fetchall()
            dead = [owner for (owner,) in owners if sql.owner_dead(owner, me)]
            if not dead and not silent_too:
                return []
            since = time.time() - self.owner_timeout
            query = (prefix, me, orjson.dumps(dead), silent_too, prefix, since, limit)
            rows = db.execute(sql.LOST, query).fetchall()
            db.executemany(sql.ADOPT, [(me, prefix, row[0]) for row in rows])
        self.transactions += 1
        return rows

    async def _claim_delivery(self, record: RolloutRecord) -> bool:
        """In the writer thread, after the writes of this record already under way."""
        row = self._row(record, time.time() + self.ttl)
        return bool(await self._in_writer(self._claim_in_thread, row))

    def _claim_in_thread(self, row: Row) -> bool:
        with sql.immediate(self._writer_db()) as db:
            won = db.execute(sql.CLAIM_DELIVERY, (*row, self.owner)).fetchone() is not None
        self.transactions += 1
        return won

    def evict(self) -> None:
        super().evict()
        self._trim = True
        self._wake.set()

    async def _write(self, records: list[RolloutRecord]) -> None:
        expires = time.time() + self.ttl
        rows = [self._row(record, expires) for record in records]
        trim, self._trim = self._trim, False
        try:
            await self._in_writer(self._commit, rows, trim)
        except Exception:
            self._trim |= trim
            raise

    def _row(self, record: RolloutRecord, expires: float) -> Row:
        status = orjson.dumps(record.status(), default=str)
        active, rescue = int(record.active), sql.rescue_value(record)
        key = (self.prefix, record.rollout_id)
        return (*key, record.response_body, status, active, expires, self.owner, rescue)

    def _commit(self, rows: list[Row], trim: bool) -> None:
        """In the writer thread: write `rows` (and expire, trim) in one transaction."""
        with sql.immediate(self._writer_db()) as db:
            db.executemany(sql.WRITE, rows)
            if trim:
                db.execute(sql.EXPIRE, (self.prefix, time.time()))
                keep = self.max_records * 9 // 10  # as in memory: trim below the bound
                db.execute(sql.TRIM, (self.prefix, self.prefix, self.prefix, keep))
        self.transactions += 1

    async def _in_writer(self, work: Any, *args: Any) -> Any:
        """Run `work(*args)` in the writer thread; SQLite errors mark the store down."""
        started = time.perf_counter()
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._thread, work, *args)
        except sqlite3.Error as exc:
            self._observed(started, False)
            raise self._mark_down(exc) from exc
        self._observed(started, True)
        self._mark_up()
        return result

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on the loop's connection, counted; errors mark the store down."""
        started = time.perf_counter()
        try:
            with sql.immediate(self._loop_db()) as db:
                yield db
        except sqlite3.Error as exc:
            self._observed(started, False)
            raise self._mark_down(exc) from exc
        self._observed(started, True)
        self.transactions += 1

    def _loop_db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sql.connect(self.path)
        return self._db

    def _writer_db(self) -> sqlite3.Connection:
        if self._writer is None:
            self._writer = sql.connect(self.path)
        return self._writer

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
