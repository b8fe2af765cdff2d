"""
The default state store: one SQLite file, shared safely by the processes
of one machine (WAL mode, busy timeout), driven off the event loop.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import attrs

from .._contracts import (
    Failure,
    Link,
    PendingMedia,
    RunRecord,
    Schedule,
)
from .._spec import DataType
from ..exceptions import StateStoreError
from ._serial import (
    run_from_json,
    run_to_json,
    schedule_from_row,
    schedule_to_row,
)


T = TypeVar("T")

#: The schema, step by step; never edit a released step, append a new one.
#: Each step is a list of statements, applied in one transaction together
#: with its version number (``meta.schema``).  Step 1 is written with
#: ``IF NOT EXISTS`` so that files from before versioning are adopted.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS links (
            platform TEXT, data_type TEXT, number TEXT, platform_id TEXT,
            checksum TEXT, PRIMARY KEY (platform, data_type, number))""",
        """CREATE TABLE IF NOT EXISTS media (
            platform TEXT, sha256 TEXT, media_id TEXT,
            PRIMARY KEY (platform, sha256))""",
        """CREATE TABLE IF NOT EXISTS pending (
            sha256 TEXT PRIMARY KEY, size INTEGER, registered_at TEXT,
            meta TEXT)""",
        """CREATE TABLE IF NOT EXISTS runs (
            id TEXT PRIMARY KEY, started_at TEXT, status TEXT, body TEXT,
            cancel INTEGER DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at)",
        """CREATE TABLE IF NOT EXISTS watermarks (
            platform TEXT, data_type TEXT, moment TEXT,
            PRIMARY KEY (platform, data_type))""",
        """CREATE TABLE IF NOT EXISTS failures (
            platform TEXT, data_type TEXT, number TEXT, message TEXT,
            field TEXT, run_id TEXT,
            PRIMARY KEY (platform, data_type, number))""",
        """CREATE TABLE IF NOT EXISTS schedules (
            id TEXT PRIMARY KEY, spec TEXT, interval REAL, next_due TEXT,
            holder TEXT, claimed_until TEXT, due_utc TEXT)""",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)

#: How long opening the file waits for other connections (busy timeout,
#: and the deadline of the open-and-migrate retries).
_OPEN_TIMEOUT = 30.0


def _migrate(conn: sqlite3.Connection) -> None:
    """
    Bring the file's schema up to `SCHEMA_VERSION` in one write transaction.

    ``BEGIN IMMEDIATE`` takes the write lock first, so processes opening a
    new file together migrate it once, one after the other.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS meta "
            "(key TEXT PRIMARY KEY, value TEXT)"
        )
        row = conn.execute(
            "SELECT value FROM meta WHERE key = 'schema'"
        ).fetchone()
        current = _known(0 if row is None else int(row[0]))
        for version in range(current + 1, SCHEMA_VERSION + 1):
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


class _NewerSchema(Exception):
    def __init__(self, version: int) -> None:
        self.version = version


def _known(version: int) -> int:
    if version > SCHEMA_VERSION:
        raise _NewerSchema(version)
    return version


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _open(path: str) -> sqlite3.Connection:
    """
    Connect, switch to WAL and migrate, retrying while another connection
    holds the lock.

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
            timeout=_OPEN_TIMEOUT,
            check_same_thread=False,
            isolation_level=None,
        )
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode not in ("wal", "memory"):
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            _migrate(conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            if not _busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay * (0.5 + random.random()))  # noqa: S311
            delay = min(delay * 2, 0.25)
            continue
        except BaseException:
            conn.close()
            raise
        return conn


def _utc(moment: datetime) -> str:
    # Text columns that are sorted or compared hold UTC, so that text
    # order is time order whatever offset the caller used.
    return moment.astimezone(UTC).isoformat()


@attrs.define
class SqliteStore:
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

    def __repr__(self) -> str:
        return f"<SqliteStore {self.path!r}>"

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                conn = _open(str(self.path))
            except _NewerSchema as exc:
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

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            with self._lock:
                conn = self._connect()
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    result = fn(conn)
                    if isinstance(result, sqlite3.Cursor):
                        # Never let a cursor outlive the lock: another
                        # thread would use the connection under it.
                        result.close()
                        result = None  # type: ignore[assignment]
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise StateStoreError(
                        f"state store {self.path!r}: {exc}"
                    ) from exc
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return result

        return await anyio.to_thread.run_sync(call)

    async def aclose(self) -> None:
        def close() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await anyio.to_thread.run_sync(close)

    # -- links ----------------------------------------------------------

    async def get_links(
        self, platform: str, data_type: DataType, numbers: Sequence[str]
    ) -> dict[str, Link]:
        wanted = list(numbers)

        def get(conn: sqlite3.Connection) -> dict[str, Link]:
            found: dict[str, Link] = {}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                # Only "?" marks are formatted in; the values are bound.
                query = (
                    "SELECT number, platform_id, checksum FROM links "  # noqa: S608
                    "WHERE platform = ? AND data_type = ? "
                    f"AND number IN ({marks})"
                )
                rows = conn.execute(
                    query,
                    (platform, data_type.value, *chunk),
                )
                for number, pid, checksum in rows:
                    found[number] = Link(pid, checksum)
            return found

        return await self._run(get)

    async def put_links(
        self, platform: str, data_type: DataType, links: Mapping[str, Link]
    ) -> None:
        rows = [
            (platform, data_type.value, n, link.platform_id, link.checksum)
            for n, link in links.items()
        ]
        await self._run(
            lambda c: c.executemany(
                "INSERT OR REPLACE INTO links VALUES (?, ?, ?, ?, ?)", rows
            )
        )

    # -- media ----------------------------------------------------------

    async def get_media_id(self, platform: str, sha256: str) -> str | None:
        def get(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT media_id FROM media WHERE platform = ? AND sha256 = ?",
                (platform, sha256),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run(get)

    async def put_media_id(
        self, platform: str, sha256: str, media_id: str
    ) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO media VALUES (?, ?, ?)",
                (platform, sha256, media_id),
            )
        )

    async def add_pending(self, pending: PendingMedia) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO pending VALUES (?, ?, ?, ?)",
                (
                    pending.sha256,
                    pending.size,
                    pending.registered_at.isoformat(),
                    json.dumps(dict(pending.meta)),
                ),
            )
        )

    async def remove_pending(self, sha256: str) -> None:
        await self._run(
            lambda c: c.execute(
                "DELETE FROM pending WHERE sha256 = ?", (sha256,)
            )
        )

    async def list_pending(self) -> list[PendingMedia]:
        def get(conn: sqlite3.Connection) -> list[PendingMedia]:
            return [
                PendingMedia(
                    sha256=sha,
                    size=size,
                    registered_at=datetime.fromisoformat(at),
                    meta=json.loads(meta),
                )
                for sha, size, at, meta in conn.execute(
                    "SELECT * FROM pending ORDER BY registered_at"
                )
            ]

        return await self._run(get)

    # -- runs -----------------------------------------------------------

    async def save_run(self, run: RunRecord) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO runs (id, started_at, status, body) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "status = excluded.status, body = excluded.body",
                (
                    run.id,
                    _utc(run.started_at),
                    run.status.value,
                    run_to_json(run),
                ),
            )
        )

    async def get_run(self, run_id: str) -> RunRecord | None:
        def get(conn: sqlite3.Connection) -> RunRecord | None:
            row = conn.execute(
                "SELECT body FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            return None if row is None else run_from_json(row[0])

        return await self._run(get)

    async def list_runs(self, *, limit: int = 50) -> list[RunRecord]:
        def get(conn: sqlite3.Connection) -> list[RunRecord]:
            return [
                run_from_json(body)
                for (body,) in conn.execute(
                    "SELECT body FROM runs ORDER BY started_at DESC, id "
                    "LIMIT ?",
                    (limit,),
                )
            ]

        return await self._run(get)

    async def request_cancel(self, run_id: str) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE runs SET cancel = 1 WHERE id = ?", (run_id,)
            )
        )

    async def cancel_requested(self, run_id: str) -> bool:
        def get(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT cancel FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            return bool(row and row[0])

        return await self._run(get)

    # -- watermarks -----------------------------------------------------

    async def get_watermark(
        self, platform: str, data_type: DataType
    ) -> datetime | None:
        def get(conn: sqlite3.Connection) -> datetime | None:
            row = conn.execute(
                "SELECT moment FROM watermarks "
                "WHERE platform = ? AND data_type = ?",
                (platform, data_type.value),
            ).fetchone()
            return None if row is None else datetime.fromisoformat(row[0])

        return await self._run(get)

    async def set_watermark(
        self, platform: str, data_type: DataType, moment: datetime
    ) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO watermarks VALUES (?, ?, ?)",
                (platform, data_type.value, moment.isoformat()),
            )
        )

    # -- failure ledger -------------------------------------------------

    async def add_failures(
        self, platform: str, failures: Sequence[Failure]
    ) -> None:
        rows = [
            (
                platform,
                f.data_type.value,
                f.number,
                f.message,
                f.field,
                f.run_id,
            )
            for f in failures
        ]
        await self._run(
            lambda c: c.executemany(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
        )

    async def list_failures(
        self, platform: str, data_type: DataType | None = None
    ) -> list[Failure]:
        def get(conn: sqlite3.Connection) -> list[Failure]:
            query = "SELECT * FROM failures WHERE platform = ?"
            args: tuple[Any, ...] = (platform,)
            if data_type is not None:
                query += " AND data_type = ?"
                args += (data_type.value,)
            return [
                Failure(
                    data_type=DataType(dt),
                    number=number,
                    message=message,
                    field=field,
                    run_id=run_id,
                )
                for _, dt, number, message, field, run_id in conn.execute(
                    query + " ORDER BY data_type, number", args
                )
            ]

        return await self._run(get)

    async def clear_failures(
        self, platform: str, data_type: DataType, numbers: Sequence[str]
    ) -> None:
        rows = [(platform, data_type.value, n) for n in numbers]
        await self._run(
            lambda c: c.executemany(
                "DELETE FROM failures WHERE platform = ? AND data_type = ? "
                "AND number = ?",
                rows,
            )
        )

    # -- schedules ------------------------------------------------------

    async def save_schedule(self, schedule: Schedule) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO schedules (id, spec, interval, next_due, due_utc)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "spec = excluded.spec, interval = excluded.interval, "
                "next_due = excluded.next_due, due_utc = excluded.due_utc",
                (*schedule_to_row(schedule), _utc(schedule.next_due)),
            )
        )

    async def list_schedules(self) -> list[Schedule]:
        def get(conn: sqlite3.Connection) -> list[Schedule]:
            return [
                schedule_from_row(*row)
                for row in conn.execute(
                    "SELECT id, spec, interval, next_due FROM schedules "
                    "ORDER BY due_utc, id"
                )
            ]

        return await self._run(get)

    async def claim_schedule(
        self, schedule_id: str, holder: str, until: datetime
    ) -> bool:
        now = _utc(datetime.now(UTC))

        def claim(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE schedules SET holder = ?, claimed_until = ? "
                "WHERE id = ? AND (holder IS NULL OR claimed_until < ?)",
                (holder, _utc(until), schedule_id, now),
            )
            return cur.rowcount == 1

        return await self._run(claim)

    async def release_schedule(
        self, schedule_id: str, holder: str, next_due: datetime
    ) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE schedules SET holder = NULL, claimed_until = NULL, "
                "next_due = ?, due_utc = ? WHERE id = ? AND holder = ?",
                (next_due.isoformat(), _utc(next_due), schedule_id, holder),
            )
        )
