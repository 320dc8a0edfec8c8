"""The single writer of the SQLite store: one connection on one dedicated thread.

``SQLiteStorage`` (store.py) submits jobs from the event loop with ``submit`` (never blocks);
this thread takes whatever is pending -- up to ``max_batch`` jobs -- and runs them as ONE
transaction, so 100 concurrent creates cost one commit instead of 100. Each write still gets
its own revision and its own outcome: a refused write (KeyExists, RevisionMismatch,
KeyNotFound) inserts nothing and does not spoil its neighbours. After COMMIT the results and
the watch events, in revision order, go back to the loop in one ``call_soon_threadsafe``.
Because nothing else ever writes, SQLite's "database is locked" cannot happen between our own
connections; a second process is kept out by the lock file store.py holds.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any, Literal
from collections.abc import Callable

from kubelite.storage.interface import (
    KeyExists,
    KeyNotFound,
    KeyValue,
    RevisionMismatch,
    StorageError,
    WatchEvent,
)
from kubelite.storage.sqlite import schema

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Write:
    op: Literal["create", "update", "delete"]
    key: str
    value: bytes
    revision: int  # expected mod_revision for update/delete; 0 = unconditional
    future: asyncio.Future[KeyValue]
    lease: int = 0  # when the value expires, Unix seconds (0 = never)


@dataclass(slots=True)
class Call:
    """Run ``fn(conn)`` alone in its own write transaction (compaction)."""
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]


# (future, result, error) per job, the events of the batch in revision order, the last revision
# the database now holds.
Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]
CommitCallback = Callable[[list[Outcome], list[WatchEvent], int], None]

_STOP = object()


class Writer:
    def __init__(self, path: str, *, synchronous: str, max_batch: int,
                 loop: asyncio.AbstractEventLoop, on_commit: CommitCallback) -> None:
        self._path = path
        self._synchronous = synchronous
        self._max_batch = max_batch
        self._loop = loop
        self._on_commit = on_commit
        self._jobs: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._next_rev = 1
        # Resolved by the thread once the schema exists: (current revision, compacted revision).
        self.ready: concurrent.futures.Future[tuple[int, int]] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, name="kubelite-sqlite-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Write | Call) -> None:
        self._jobs.put(job)

    def stop(self) -> None:
        """Ask the thread to finish the jobs already queued, then exit (see ``join``)."""
        self._jobs.put(_STOP)

    def join(self) -> None:
        self._thread.join()

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = schema.connect(self._path, (*schema.WRITER_PRAGMAS,
                                               f"PRAGMA synchronous={self._synchronous}"))
            conn.executescript(schema.DDL)
            schema.migrate(conn)
            rev, compacted = schema.read_state(conn)
        except (sqlite3.Error, OSError) as e:
            self.ready.set_exception(StorageError(f"cannot open {self._path}: {e}"))
            return
        self._next_rev = rev + 1
        self.ready.set_result((rev, compacted))
        try:
            self._serve(conn)
        finally:
            conn.close()

    def _serve(self, conn: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:
            batch = [self._jobs.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            writes: list[Write] = []
            for job in batch:
                if isinstance(job, Write):
                    writes.append(job)
                    continue
                # A Call or the stop marker: commit the writes queued before it first, so jobs
                # take effect in submission order.
                self._commit_writes(conn, writes)
                writes = []
                if job is _STOP:
                    stopping = True
                elif isinstance(job, Call):
                    self._run_call(conn, job)
            self._commit_writes(conn, writes)

    def _commit_writes(self, conn: sqlite3.Connection, writes: list[Write]) -> None:
        if not writes:
            return
        first = self._next_rev
        outcomes: list[Outcome] = []
        events: list[WatchEvent] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for w in writes:
                try:
                    ev = self._apply(conn, w)
                except StorageError as e:
                    outcomes.append((w.future, None, e))
                    continue
                outcomes.append((w.future, ev.kv, None))
                events.append(ev)
            conn.execute("COMMIT")
        except Exception as e:  # noqa: BLE001 -- a waiting future must never be left pending
            # The whole batch failed (disk full, I/O error): nothing of it is durable, so every
            # write in it fails and the revisions are handed out again.
            log.error("sqlite write transaction failed: %s", e)
            self._rollback(conn)
            self._next_rev = first
            err = e if isinstance(e, StorageError) else StorageError(f"sqlite write failed: {e}")
            outcomes = [(w.future, None, err) for w in writes]
            events = []
        self._publish(outcomes, events)

    def _apply(self, conn: sqlite3.Connection, w: Write) -> WatchEvent:
        row = conn.execute(
            "SELECT id, create_revision, deleted, value FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1",
            (w.key,),
        ).fetchone()
        live = row is not None and not row[2]
        rev = self._next_rev
        if w.op == "create":
            if live:
                raise KeyExists(w.key)
            self._insert(conn, w.key, rev, created=1, deleted=0, create_rev=rev,
                         prev_rev=row[0] if row else 0, value=w.value, lease=w.lease)
            return WatchEvent("PUT", KeyValue(w.key, w.value, rev, rev))
        if not live:
            raise KeyNotFound(w.key)
        cur = KeyValue(w.key, row[3], row[1], row[0])
        if w.revision and w.revision != cur.mod_revision:
            raise RevisionMismatch(w.key, cur)
        if w.op == "update":
            self._insert(conn, w.key, rev, created=0, deleted=0, create_rev=cur.create_revision,
                         prev_rev=cur.mod_revision, value=w.value, lease=w.lease)
            return WatchEvent("PUT", KeyValue(w.key, w.value, cur.create_revision, rev), cur)
        # delete: the tombstone keeps the last value so a DELETE event (live or replayed) has it.
        self._insert(conn, w.key, rev, created=0, deleted=1, create_rev=cur.create_revision,
                     prev_rev=cur.mod_revision, value=cur.value)
        return WatchEvent("DELETE", KeyValue(w.key, cur.value, cur.create_revision, rev), cur)

    def _insert(self, conn: sqlite3.Connection, key: str, rev: int, *, created: int, deleted: int,
                create_rev: int, prev_rev: int, value: bytes, lease: int = 0) -> None:
        try:
            conn.execute(
                "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value, lease)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (rev, key, created, deleted, create_rev, prev_rev, value, lease),
            )
        except sqlite3.IntegrityError as e:
            # UNIQUE(name, prev_revision): someone else already replaced that row. With a single
            # writer this means the file was modified behind our back; refuse this write only.
            if not conn.in_transaction:
                raise
            raise StorageError(f"conflicting write on {key}: {e}") from e
        self._next_rev = rev + 1

    def _run_call(self, conn: sqlite3.Connection, call: Call) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            result = call.fn(conn)
            conn.execute("COMMIT")
        except Exception as e:  # noqa: BLE001 -- reported to the caller, the thread goes on
            self._rollback(conn)
            err = e if isinstance(e, StorageError) else StorageError(f"sqlite: {e}")
            self._publish([(call.future, None, err)], [])
            return
        self._publish([(call.future, result, None)], [])

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("sqlite rollback failed")

    def _publish(self, outcomes: list[Outcome], events: list[WatchEvent]) -> None:
        try:
            self._loop.call_soon_threadsafe(self._on_commit, outcomes, events, self._next_rev - 1)
        except RuntimeError:
            # The loop is gone (closed without SQLiteStorage.close()); nobody is waiting.
            log.warning("sqlite writer: event loop closed, dropping %d results", len(outcomes))
