"""
The default state store: one SQLite file, shared safely by the processes
of one machine (WAL mode, busy timeout), driven off the event loop.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import anyio.from_thread
import anyio.to_thread
import attrs

from .._closing import current_hurry
from .._contracts import PendingMedia
from ..exceptions import StateStoreError
from ._dialect import (
    SQLITE,
    Dialect,
    Op,
    Result,
)
from ._media_rows import MediaForgetOps
from ._schema import (
    SQLITE_MIGRATIONS,
    NewerSchemaError,
    pending_steps,
)
from ._sql import SqlStore


T = TypeVar("T")

MIGRATIONS = SQLITE_MIGRATIONS
SCHEMA_VERSION = len(MIGRATIONS)

#: How long a call waits for other connections' locks (opening the file,
#: too): SQLite's busy timeout, as it was.
_OPEN_TIMEOUT = 30.0
#: SQLite's own busy wait cannot be interrupted (not by
#: ``Connection.interrupt`` either): calls wait in slices this long, and
#: between them a cancelled call, or one of a cancelled run's cleanup
#: past its deadline (`Hurry`), stops waiting.
_SLICE = 0.05

#: Raises if the call is to stop waiting (see `_SLICE`).
Check = Callable[[], None]


def _waits_on() -> None:
    """
    A `Check` that never stops the wait.
    """


def _begin(conn: sqlite3.Connection, check: Check, deadline: float) -> None:
    """
    ``BEGIN IMMEDIATE`` (the write lock), waiting for it until *deadline*.
    """
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() > deadline:
                raise
            check()
        else:
            return


def _migrate(conn: sqlite3.Connection, check: Check, deadline: float) -> None:
    """
    Bring the file's schema up to `SCHEMA_VERSION` in one write transaction.

    ``BEGIN IMMEDIATE`` takes the write lock first, so processes opening a
    new file together migrate it once, one after the other.
    """
    _begin(conn, check, deadline)
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS meta "
            "(key TEXT PRIMARY KEY, value TEXT)"
        )
        row = conn.execute(
            "SELECT value FROM meta WHERE key = 'schema'"
        ).fetchone()
        current = 0 if row is None else int(row[0])
        for version in pending_steps(current, SCHEMA_VERSION):
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema', ?)",
                (str(version),),
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _open(path: str, check: Check) -> sqlite3.Connection:
    """
    Connect, switch to WAL and migrate, retrying while another connection
    holds the lock (*check* between the waits).

    SQLite does not always call the busy handler for the journal-mode
    switch (it needs an exclusive lock while another connection is opening
    the same new file), so "database is locked" can come back at once;
    that is retried here with jittered backoff until `_OPEN_TIMEOUT`.
    """
    deadline = time.monotonic() + _OPEN_TIMEOUT
    delay = 0.005
    while True:
        conn = sqlite3.connect(
            path,
            timeout=_SLICE,
            check_same_thread=False,
            isolation_level=None,
        )
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode not in ("wal", "memory"):
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            _migrate(conn, check, deadline)
        except sqlite3.OperationalError as exc:
            conn.close()
            if not _busy(exc) or time.monotonic() > deadline:
                raise
            check()
            time.sleep(delay * (0.5 + random.random()))  # noqa: S311
            delay = min(delay * 2, 0.25)
            continue
        except BaseException:
            conn.close()
            raise
        return conn


@attrs.define
class SqliteStore(SqlStore, MediaForgetOps):
    """
    A `StateStore` in one SQLite file (``":memory:"`` for a throwaway one).

    Every call runs in a worker thread; writes are transactions.  Several
    processes may share the file (that is how a run is cancelled from
    another process); across machines use `PostgresStore`.

    .. versionadded:: 26.1.0
    """

    path: str | Path = attrs.field(converter=str)
    _conn: sqlite3.Connection | None = attrs.field(init=False, default=None)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _closed: bool = attrs.field(init=False, default=False)
    _broken: str | None = attrs.field(init=False, default=None)

    def __repr__(self) -> str:
        return f"<SqliteStore {self.path!r}>"

    def _connect(self, check: Check = _waits_on) -> sqlite3.Connection:
        if self._broken is not None:
            raise StateStoreError(
                f"the state store {self.path!r} is unusable: {self._broken}"
            )
        if self._conn is None:
            try:
                conn = _open(str(self.path), check)
            except NewerSchemaError as exc:
                raise StateStoreError(
                    f"the state store {self.path!r} has schema version "
                    f"{exc.version}, newer than this ecomsync knows "
                    f"({SCHEMA_VERSION}); upgrade ecomsync"
                ) from None
            except sqlite3.Error as exc:
                raise StateStoreError(
                    f"cannot open the state store {self.path!r}: {exc}"
                ) from exc
            self._conn = conn
        return self._conn

    async def _run(
        self,
        fn: Callable[[sqlite3.Connection], T],
        before: Callable[[], object] | None = None,
    ) -> T:
        """
        *fn* in one write transaction, in a worker thread; retried while
        another connection holds the file's lock, up to `_OPEN_TIMEOUT`.

        The wait stops early when the caller is cancelled (the thread
        raises the cancellation), or when a cancelled run's cleanup is
        past its deadline (`Hurry`, a `StateStoreError`): a locked file
        would otherwise hold a cancel up for the whole timeout, once for
        every step of the cleanup.
        """
        hurry = current_hurry()

        def check() -> None:
            anyio.from_thread.check_cancelled()
            if hurry is not None and hurry.expired():
                raise StateStoreError(
                    f"state store {self.path!r}: database is locked; a "
                    f"cancelled run's cleanup waited {hurry.seconds:g} s "
                    "for it"
                )

        def call() -> T:
            if before is not None:
                before()
            while not self._lock.acquire(timeout=_SLICE):
                check()
            try:
                return attempt()
            finally:
                self._lock.release()

        def attempt() -> T:
            self._ensure_open()
            deadline = time.monotonic() + _OPEN_TIMEOUT
            while True:
                conn = self._connect(check)
                try:
                    _begin(conn, check, deadline)
                    result = fn(conn)
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    also = self._roll_back(conn)
                    if (
                        isinstance(exc, sqlite3.OperationalError)
                        and _busy(exc)
                        and not also
                        and time.monotonic() < deadline
                    ):
                        # Busy after BEGIN (a COMMIT outside WAL mode
                        # waiting for readers): the whole transaction
                        # again, as SQLite's busy timeout waited before.
                        check()
                        continue
                    raise StateStoreError(
                        f"state store {self.path!r}: {exc}{also}"
                    ) from exc
                except BaseException:
                    self._roll_back(conn)
                    raise
                return result

        return await anyio.to_thread.run_sync(call)

    def _roll_back(self, conn: sqlite3.Connection) -> str:
        """
        End the failed call's transaction (under the lock); what to add to
        its error if that failed too.

        A connection left in its transaction would keep the file's write
        lock (every other process waits, then fails) and fail each later
        call at BEGIN: it is closed instead, which drops the transaction,
        and the next call opens the file again.  A store in memory would
        come back empty: it is marked broken.
        """
        if not conn.in_transaction:
            return ""
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            self._conn = None
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            if self.path in (":memory:", ""):
                self._broken = (
                    f"a rollback failed ({exc}), and a store in memory "
                    "cannot be opened again: its data is lost; make a "
                    "new one"
                )
                return f"; {self._broken}"
            return f"; the rollback failed too ({exc}): connection reopened"
        return ""

    async def _close(self) -> None:
        def close() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await anyio.to_thread.run_sync(close)

    @property
    def _dialect(self) -> Dialect:
        return SQLITE

    async def _perform(self, op: Op[T]) -> T:
        if not op.stmts:
            return op.result([])
        return await self._run(lambda conn: _execute(conn, op))

    async def update_pending(
        self,
        closing: Callable[[], Sequence[tuple[str, str]]] | None,
        adding: Sequence[PendingMedia] = (),
    ) -> None:
        keys: list[tuple[str, str]] = []

        def close() -> None:
            if closing is not None:
                keys.extend(closing())

        await self._run(
            lambda conn: _execute(conn, self._update_pending_op(keys, adding)),
            before=close,
        )


def _execute(conn: sqlite3.Connection, op: Op[T]) -> T:
    """
    Run *op*'s statements on *conn* (in the caller's transaction).
    """
    # Every cursor is closed before the lock is let go: another thread
    # would use the connection under it.
    results = []
    for stmt in op.stmts:
        if stmt.rows is not None:
            cur = conn.executemany(stmt.sql, stmt.rows)
        else:
            cur = conn.execute(stmt.sql, stmt.args)
        try:
            results.append(Result(cur.fetchall(), cur.rowcount))
        finally:
            cur.close()
    return op.result(results)
