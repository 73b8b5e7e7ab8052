"""Records in an SQLite file, shared by the processes of one machine and kept across restarts.

One row per rollout, in WAL mode (readers never wait for the writer). Writes queue in
order: the claim of an id (an upsert that replaces only an expired row, so exactly one
process wins it), the batched record changes (`SharedStore`), the delivery claims,
heartbeats and scans. What is queued in one turn of the event loop goes into one
transaction, committed on the loop itself when the write lock is free (SQLite is
then quicker than a hand-off to a thread and back), or else in a writer thread of
its own, which waits for the lock, so the loop never waits for a lock another
process holds; what arrives meanwhile goes into the next transaction. Scans, trims
and WAL checkpoints (which sync the disk) always run in that thread. Status reads run
on the loop: WAL readers do not wait. `synchronous=NORMAL`: a killed process loses
nothing committed; only a power loss may lose the last changes.

Owners (see `SharedStore`): a process of this machine whose pid is gone is known to
be dead, so its rollouts are taken over at the next scan instead of after
`owner_timeout`; owners elsewhere (a file on a shared disk) are judged by heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from rolloutctl.server.store import sqlite_sql as sql
from rolloutctl.server.store.base import RolloutRecord
from rolloutctl.server.store.owner_ids import owner_dead
from rolloutctl.server.store.shared import SharedStore

__all__ = ["SqliteStore"]

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]
Row = tuple[str, str, bytes, bytes, int, float, str, bytes | None]
Waiting = list[asyncio.Future[Any]]

CHECKPOINT_EVERY = 200  # transactions committed on the loop between two WAL checkpoints


class SqliteStore(SharedStore):
    """This process's records in memory (as MemoryStore), every record in an SQLite file."""

    kind = "sqlite"
    # record changes (running, delivered, progress) wait this long to be written together;
    # a rollout that finishes meanwhile skips its running write, since its delivery claim
    # writes the finished row. Two workers of a 3 ms CPU tool: 0.09 ms less CPU per
    # rollout (BENCHMARKS.md). Status on other processes shows a change up to this late;
    # the claim and the delivery claim, which make an id run and deliver once, never wait.
    write_linger = 0.25

    def _configure(self, url: str) -> None:
        self.path = sql.sqlite_path(url)
        self.transactions = 0
        self._db: sqlite3.Connection | None = None  # the event loop's, for reads
        self._now: sqlite3.Connection | None = None  # the loop's, for writes that never wait
        self._writer: sqlite3.Connection | None = None  # the writer thread's
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rolloutctl-sqlite")
        self._ops: list[tuple[Op, asyncio.Future[Any]]] = []  # for the next transaction
        self._heavy = False  # the next transaction has an op for the writer thread only
        self._sending = False  # a transaction is under way in the writer thread
        self._due = False  # a transaction is due at the loop's next turn
        self._since_checkpoint = 0
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

        return [sql.decode(row) for row in await self._run(op, heavy=True)]

    async def _claim_delivery(self, record: RolloutRecord) -> bool:
        row = self._row(record, time.time() + self.ttl)
        prefix, rollout_id, _, status, active, expires, owner, rescue = row
        change = (status, active, expires, rescue, owner, prefix, rollout_id, owner)

        def op(db: sqlite3.Connection) -> bool:
            if db.execute(sql.DELIVER, change).rowcount:
                return True  # else no row (it is made anew) or another process's delivery
            return db.execute(sql.CLAIM_DELIVERY, (*row, owner)).fetchone() is not None

        return await self._run(op)

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
            await self._run(op, heavy=trim)
        except Exception:
            self._trim |= trim
            raise

    def _row(self, record: RolloutRecord, expires: float) -> Row:
        status = orjson.dumps(record.status(), default=str)
        active, rescue = int(record.active), sql.rescue_value(record)
        key = (self.prefix, record.rollout_id)
        return (*key, record.response_body, status, active, expires, self.owner, rescue)

    async def _run(self, op: Callable[[sqlite3.Connection], T], heavy: bool = False) -> T:
        """`op(db)` in the next transaction (in the writer thread if `heavy`: it may take
        long). Raises StoreUnavailable."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._ops.append((op, done))
        self._heavy |= heavy
        if not self._sending and not self._due:
            self._due = True
            asyncio.get_running_loop().call_soon(self._send)
        return await done

    def _send(self) -> None:
        """Commit the queued ops: here if the write lock is free, else in the writer thread."""
        self._due = False
        if not self._ops:
            return
        queued, self._ops, heavy, self._heavy = self._ops, [], self._heavy, False
        ops, waiting = [op for op, _ in queued], [done for _, done in queued]
        started = time.perf_counter()
        try:
            if not heavy:
                return self._answer(waiting, self._commit_now(ops), started)
        except Exception as exc:
            if not sql.busy(exc):
                return self._answer(waiting, exc, started)
            # another process writes: the writer thread waits for it
        self._sending = True
        job = asyncio.get_running_loop().run_in_executor(self._thread, self._commit, ops)
        job.add_done_callback(lambda done: self._settle(done, waiting, started))

    def _commit_now(self, ops: list[Op]) -> list[Any]:
        """On the loop: every op in one transaction; fails at once if the lock is taken."""
        if self._now is None:
            self._now = sql.connect(self.path, wait=False)
        with sql.immediate(self._now) as db:
            results = [op(db) for op in ops]
        self.transactions += 1
        self._since_checkpoint += 1
        if self._since_checkpoint >= CHECKPOINT_EVERY:
            self._since_checkpoint = 0
            self._thread.submit(self._checkpoint)
        return results

    def _commit(self, ops: list[Op]) -> list[Any]:
        """In the writer thread: every op in one transaction."""
        with sql.immediate(self._thread_db()) as db:
            results = [op(db) for op in ops]
        self.transactions += 1
        return results

    def _checkpoint(self) -> None:
        """In the writer thread: copy the WAL into the file (the loop's commits do not)."""
        with contextlib.suppress(sqlite3.Error):
            self._thread_db().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _thread_db(self) -> sqlite3.Connection:
        if self._writer is None:
            self._writer = sql.connect(self.path)
        return self._writer

    def _settle(self, job: asyncio.Future[list[Any]], waiting: Waiting, started: float) -> None:
        """Answer the ops of a transaction the writer thread finished; send what came since."""
        self._sending = False
        error = job.exception()
        self._answer(waiting, job.result() if error is None else error, started)
        if self._ops:
            self._send()

    def _answer(self, waiting: Waiting, outcome: list[Any] | BaseException, started: float) -> None:
        """Give each op its result, or every op the transaction's error."""
        failed = isinstance(outcome, BaseException)
        self._observed(started, not failed)
        if not failed:
            self._mark_up()
        failure = self._mark_down(outcome) if isinstance(outcome, sqlite3.Error) else outcome
        for index, done in enumerate(waiting):
            if done.done():
                continue
            if isinstance(failure, BaseException):
                done.set_exception(failure)
            else:
                done.set_result(outcome[index])  # type: ignore[index]

    def _loop_db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sql.connect(self.path)
        return self._db

    def health(self) -> dict[str, Any]:
        return {**super().health(), "round_trips": self.transactions}

    async def _disconnect(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_writer)
        self._thread.shutdown()
        for db in (self._db, self._now):
            if db is not None:
                db.close()

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
