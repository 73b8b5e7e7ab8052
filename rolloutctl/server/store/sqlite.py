"""Records in an SQLite file, shared by the processes of one machine and kept across restarts.

One row per rollout, in WAL mode (readers never wait for the writer). Every write goes
through one thread of its own, in order: the claim of an id (an upsert that replaces
only an expired row, so exactly one process wins it), the batched record changes
(`SharedStore`), the delivery claims, heartbeats and scans. What arrives while a
transaction runs goes into the next one, so under load one transaction serves many
rollouts, and the event loop never waits for a lock another process holds. Status
reads run on the loop: WAL readers do not wait. `synchronous=NORMAL`: a killed process
loses nothing committed; only a power loss may lose the last changes.

Owners (see `SharedStore`): a process of this machine whose pid is gone is known to
be dead, so its rollouts are taken over at the next scan instead of after
`owner_timeout`; owners elsewhere (a file on a shared disk) are judged by heartbeat.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from rolloutctl.server.store import sqlite_sql as sql
from rolloutctl.server.store.base import RolloutRecord
from rolloutctl.server.store.shared import SharedStore, owner_dead

__all__ = ["SqliteStore"]

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]
Row = tuple[str, str, bytes, bytes, int, float, str, bytes | None]


class SqliteStore(SharedStore):
    """This process's records in memory (as MemoryStore), every record in an SQLite file."""

    kind = "sqlite"

    def _configure(self, url: str) -> None:
        self.path = sql.sqlite_path(url)
        self.transactions = 0
        self._db: sqlite3.Connection | None = None  # the event loop's, for reads
        self._writer: sqlite3.Connection | None = None  # the writer thread's
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rolloutctl-sqlite")
        self._ops: list[tuple[Op, asyncio.Future[Any]]] = []  # for the next transaction
        self._sending = False  # a transaction is under way in the writer thread
        self._trim = True  # expire and trim once at start
        self._beaten = False

    async def _insert(self, record: RolloutRecord) -> bytes | None:
        now = time.time()
        key = (self.prefix, record.rollout_id)
        status = orjson.dumps(record.status(), default=str)
        row = (*key, record.response_body, status, now + self.ttl, self.owner)
        claim = (*row, sql.rescue_value(record), now)

        def op(db: sqlite3.Connection) -> bytes | None:
            if db.execute(sql.CLAIM, claim).fetchone() is not None:
                return None
            return bytes(db.execute(sql.FIRST_BODY, key).fetchone()[0])

        return await self._run(op)

    async def _read(self, rollout_id: str) -> dict[str, Any] | None:
        try:
            rows = self._loop_db().execute(sql.STATUS, (self.prefix, rollout_id, time.time()))
            found = rows.fetchone()
        except sqlite3.Error as exc:
            raise self._mark_down(exc) from exc
        return None if found is None else dict(orjson.loads(found[0]))

    async def _beat(self) -> bool:
        now = time.time()

        def op(db: sqlite3.Connection) -> bool:
            if db.execute(sql.BEAT, (now, self.prefix, self.owner)).rowcount > 0:
                return True
            db.execute(sql.FIRST_BEAT, (self.prefix, self.owner, now))
            return False

        known = await self._run(op)
        lost_data, self._beaten = self._beaten and not known, True
        return lost_data

    async def _take_lost(self, limit: int, silent_too: bool) -> list[RolloutRecord]:
        me, prefix = self.owner, self.prefix

        def op(db: sqlite3.Connection) -> list[Any]:
            owners = db.execute(sql.OWNERS, (prefix,)).fetchall()
            dead = [owner for (owner,) in owners if owner_dead(owner, me)]
            if not dead and not silent_too:
                return []
            since = time.time() - self.owner_timeout
            query = (prefix, me, orjson.dumps(dead), silent_too, prefix, since, limit)
            rows = db.execute(sql.LOST, query).fetchall()
            db.executemany(sql.ADOPT, [(me, me, prefix, row[0]) for row in rows])
            return rows

        return [sql.decode(row) for row in await self._run(op)]

    async def _claim_delivery(self, record: RolloutRecord) -> bool:
        claim = (*self._row(record, time.time() + self.ttl), self.owner)
        return bool(await self._run(lambda db: db.execute(sql.CLAIM_DELIVERY, claim).fetchone()))

    def evict(self) -> None:
        super().evict()
        self._trim = True
        self._wake.set()

    async def _write(self, records: list[RolloutRecord]) -> None:
        expires = time.time() + self.ttl
        rows = [self._row(record, expires) for record in records]
        trim, self._trim = self._trim, False
        keep = self.max_records * 9 // 10  # as in memory: trim below the bound

        def op(db: sqlite3.Connection) -> None:
            db.executemany(sql.WRITE, rows)
            if trim:
                db.execute(sql.EXPIRE, (self.prefix, time.time()))
                db.execute(sql.TRIM, (self.prefix, self.prefix, self.prefix, keep))

        try:
            await self._run(op)
        except Exception:
            self._trim |= trim
            raise

    def _row(self, record: RolloutRecord, expires: float) -> Row:
        status = orjson.dumps(record.status(), default=str)
        active, rescue = int(record.active), sql.rescue_value(record)
        key = (self.prefix, record.rollout_id)
        return (*key, record.response_body, status, active, expires, self.owner, rescue)

    async def _run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """`op(db)` in the writer thread, in the next transaction. Raises StoreUnavailable."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._ops.append((op, done))
        if not self._sending:
            self._send()
        return await done

    def _send(self) -> None:
        ops, self._ops = self._ops, []
        self._sending = True
        started = time.perf_counter()
        job = asyncio.get_running_loop().run_in_executor(
            self._thread, self._commit, [op for op, _ in ops]
        )
        job.add_done_callback(lambda done: self._settle(done, [f for _, f in ops], started))

    def _commit(self, ops: list[Op]) -> list[Any]:
        """In the writer thread: every op in one transaction."""
        if self._writer is None:
            self._writer = sql.connect(self.path)
        with sql.immediate(self._writer) as db:
            results = [op(db) for op in ops]
        self.transactions += 1
        return results

    def _settle(
        self, job: asyncio.Future[list[Any]], waiting: list[asyncio.Future[Any]], started: float
    ) -> None:
        """Answer each op of a finished transaction, then send what came meanwhile."""
        self._sending = False
        error = job.exception()
        self._observed(started, error is None)
        if error is None:
            self._mark_up()
        failure = self._mark_down(error) if isinstance(error, sqlite3.Error) else error
        results = job.result() if error is None else [None] * len(waiting)
        for done, result in zip(waiting, results, strict=True):
            if done.done():
                continue
            if failure is not None:
                done.set_exception(failure)
            else:
                done.set_result(result)
        if self._ops:
            self._send()

    def _loop_db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sql.connect(self.path)
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
