"""
The shared state store: one PostgreSQL database for every process on every
machine (``postgres`` extra: psycopg 3).

The schema lives in its own PostgreSQL schema (``ecomsync`` by default)
and is created and migrated by the library: `MIGRATIONS` is an append-only
list of steps, applied in order under an advisory lock so that processes
starting together migrate once.  Every method is one transaction; a
transaction that loses a deadlock or serialisation race is retried.
"""

from __future__ import annotations

import json
import re
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import anyio
import attrs

from .._contracts import Failure, Link, PendingMedia, RunRecord, Schedule
from .._spec import DataType
from ..exceptions import ConfigurationError, StateStoreError
from ._serial import (
    run_from_json,
    run_to_json,
    schedule_from_row,
    schedule_to_row,
)


if TYPE_CHECKING:
    from psycopg import AsyncConnection


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore"]

T = TypeVar("T")

#: The schema, step by step; never edit a released step, append a new one.
#: ``{s}`` is the PostgreSQL schema name (quoted).
MIGRATIONS: tuple[str, ...] = (
    # 1: what SqliteStore keeps.
    """
    CREATE TABLE {s}.links (
        platform text NOT NULL, data_type text NOT NULL,
        number text NOT NULL, platform_id text, checksum text NOT NULL,
        PRIMARY KEY (platform, data_type, number));
    CREATE TABLE {s}.media (
        platform text NOT NULL, sha256 text NOT NULL,
        media_id text NOT NULL, PRIMARY KEY (platform, sha256));
    CREATE TABLE {s}.pending (
        sha256 text PRIMARY KEY, size bigint NOT NULL,
        registered_at timestamptz NOT NULL, registered_text text NOT NULL,
        meta text NOT NULL);
    CREATE TABLE {s}.runs (
        id text PRIMARY KEY, started_at timestamptz NOT NULL,
        status text NOT NULL, body text NOT NULL,
        cancel boolean NOT NULL DEFAULT false);
    CREATE INDEX runs_started ON {s}.runs (started_at DESC);
    CREATE TABLE {s}.watermarks (
        platform text NOT NULL, data_type text NOT NULL,
        moment text NOT NULL, PRIMARY KEY (platform, data_type));
    CREATE TABLE {s}.failures (
        platform text NOT NULL, data_type text NOT NULL,
        number text NOT NULL, message text NOT NULL, field text,
        run_id text NOT NULL, PRIMARY KEY (platform, data_type, number));
    CREATE TABLE {s}.schedules (
        id text PRIMARY KEY, spec text NOT NULL,
        interval_s double precision NOT NULL,
        next_due timestamptz NOT NULL, next_due_text text NOT NULL,
        holder text, claimed_until timestamptz);
    """,
    # 2: partitioned runs and licence holders (many workers).
    """
    CREATE SEQUENCE {s}.fencing_tokens;
    CREATE TABLE {s}.partitions (
        run_id text NOT NULL, idx integer NOT NULL,
        phase integer NOT NULL, spec text NOT NULL,
        state text NOT NULL DEFAULT 'todo',
        worker text, token bigint, heartbeat timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        body text, error text,
        PRIMARY KEY (run_id, idx));
    CREATE INDEX partitions_todo ON {s}.partitions (run_id, phase, idx)
        WHERE state = 'todo';
    CREATE TABLE {s}.licence_holders (
        pool text NOT NULL, slot integer NOT NULL, holder text NOT NULL,
        backend_pid integer NOT NULL, since timestamptz NOT NULL,
        PRIMARY KEY (pool, slot));
    CREATE TABLE {s}.licence_pools (
        pool text PRIMARY KEY, size integer NOT NULL);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)

#: Advisory lock key (class) that serialises migrations.
_MIGRATION_LOCK = 0x45_43_4F_4D  # "ECOM"

_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _schema_name(_: object, __: object, value: str) -> None:
    if not _IDENT.fullmatch(value):
        raise ConfigurationError(
            f"a PostgreSQL schema name must be lower-case letters, digits "
            f"and underscores: {value!r}"
        )


def safe_dsn(dsn: str) -> str:
    """
    *dsn* without credentials, for reprs and messages.
    """
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return "<dsn>"
    if parts.scheme.startswith("postgres"):
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"
    # key=value form: keep only host, port and dbname.
    kept = [
        item
        for item in dsn.split()
        if item.split("=", 1)[0] in ("host", "port", "dbname")
    ]
    return " ".join(kept) or "<dsn>"


@attrs.define
class PostgresStore:
    """
    A `StateStore` in PostgreSQL, shared by every process and machine that
    connects to the same database and *schema*.

    Args:
        dsn: A libpq connection string or URL
            (``postgresql://user:password@host/db``); never shown in
            reprs or messages.
        schema: The PostgreSQL schema holding the tables; created if
            missing.
        max_connections: Connections this store opens at most; calls
            beyond wait for one.
        application_name: How its connections show in ``pg_stat_activity``.
        prepared_statements: Let the driver prepare frequent statements;
            turn off behind PgBouncer transaction pooling before 1.21.
        fence: Run first in every write transaction (it may raise to
            reject the write); partitioned runs use it for fencing tokens.

    Connect directly or through a session-pooling proxy.  The store also
    works behind transaction pooling (with *prepared_statements* off on
    old PgBouncers); `PostgresLicensePool` never does.

    .. versionadded:: 26.1.0
    """

    dsn: str = attrs.field(repr=False)
    schema: str = attrs.field(default="ecomsync", validator=_schema_name)
    max_connections: int = 4
    application_name: str = "ecomsync"
    prepared_statements: bool = True
    fence: Callable[[AsyncConnection[Any]], Awaitable[None]] | None = (
        attrs.field(default=None, kw_only=True, repr=False)
    )
    _idle: list[AsyncConnection[Any]] = attrs.field(init=False, factory=list)
    _limit: anyio.Semaphore | None = attrs.field(init=False, default=None)
    _ready: bool = attrs.field(init=False, default=False)
    _migrate_lock: anyio.Lock | None = attrs.field(init=False, default=None)

    def __repr__(self) -> str:
        return f"<PostgresStore {safe_dsn(self.dsn)} schema={self.schema!r}>"

    @property
    def _s(self) -> str:
        return f'"{self.schema}"'

    # -- connections -------------------------------------------------------

    async def connect(self) -> AsyncConnection[Any]:
        """
        A new connection of this store's own (autocommit), for callers that
        need one for themselves; the schema is migrated first.
        """
        conn = await self._open()
        if not self._ready:
            try:
                await self._migrate(conn)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await conn.close()
                raise
        return conn

    async def _open(self) -> AsyncConnection[Any]:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover -- extra missing
            raise ConfigurationError(
                "PostgresStore needs the 'postgres' extra: "
                "pip install 'ecomsync[postgres]'"
            ) from exc
        try:
            return await psycopg.AsyncConnection.connect(
                self.dsn,
                autocommit=True,
                application_name=self.application_name,
                connect_timeout=10,
                prepare_threshold=5 if self.prepared_statements else None,
            )
        except psycopg.Error as exc:
            raise StateStoreError(
                f"cannot connect to the state store {safe_dsn(self.dsn)}: "
                f"{_message(exc)}"
            ) from exc
        except RuntimeError as exc:
            raise not_asyncio("PostgresStore", exc) from exc

    async def _migrate(self, conn: AsyncConnection[Any]) -> None:
        if self._migrate_lock is None:
            self._migrate_lock = anyio.Lock()
        async with self._migrate_lock:
            if self._ready:
                return
            await migrate(conn, self.schema)
            self._ready = True

    @asynccontextmanager
    async def _borrow(
        self,
    ) -> AsyncIterator[tuple[AsyncConnection[Any], bool]]:
        """
        A connection, and whether it was idle in the pool (it may have
        died meanwhile: a database restart, an idle timeout).
        """
        if self._limit is None:
            self._limit = anyio.Semaphore(self.max_connections)
        async with self._limit:
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else await self.connect()
            try:
                yield conn, reused
            finally:
                if _reusable(conn):
                    self._idle.append(conn)
                else:
                    with anyio.CancelScope(shield=True):
                        await conn.close()

    async def transact(
        self, fn: Callable[[AsyncConnection[Any]], Awaitable[T]]
    ) -> T:
        """
        Run *fn* on one of the store's connections in one transaction
        (unfenced); for *ecomsync*'s own tables beside the store's.
        """
        return await self._tx(fn)

    async def _write(
        self, fn: Callable[[AsyncConnection[Any]], Awaitable[T]]
    ) -> T:
        fence = self.fence
        if fence is None:
            return await self._tx(fn)

        async def fenced(conn: AsyncConnection[Any]) -> T:
            await fence(conn)
            return await fn(conn)

        return await self._tx(fenced)

    async def _tx(
        self, fn: Callable[[AsyncConnection[Any]], Awaitable[T]]
    ) -> T:
        """
        Run *fn* in one transaction.  Retry it when it loses a deadlock or
        a serialisation race, or when a pooled connection turns out dead.
        """
        import psycopg
        from psycopg import errors

        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._borrow() as (conn, reused):
                    try:
                        async with conn.transaction():
                            return await fn(conn)
                    except (
                        errors.DeadlockDetected,
                        errors.SerializationFailure,
                    ):
                        if attempt >= 5:
                            raise
                        await anyio.sleep(0.01 * 2**attempt)
                        continue
                    except psycopg.OperationalError:
                        if not reused or not conn.closed or attempt >= 5:
                            raise
                        # A connection that died while idle: every
                        # pooled one probably did (server restart).
                        await self._drop_idle()
                        continue
            except StateStoreError:
                raise
            except psycopg.Error as exc:
                raise StateStoreError(
                    f"state store {safe_dsn(self.dsn)}: {_message(exc)}"
                ) from exc

    async def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        with anyio.CancelScope(shield=True):
            for conn in idle:
                await conn.close()

    async def aclose(self) -> None:
        await self._drop_idle()

    async def schema_version(self) -> int:
        """
        The schema version of the database (after migrating).
        """

        async def get(conn: AsyncConnection[Any]) -> int:
            cur = await conn.execute(
                f"SELECT max(version) FROM {self._s}.schema_version"  # noqa: S608
            )
            row = await cur.fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return await self._tx(get)

    # -- links --------------------------------------------------------------

    async def get_links(
        self, platform: str, data_type: DataType, numbers: Sequence[str]
    ) -> dict[str, Link]:
        wanted = list(numbers)

        async def get(conn: AsyncConnection[Any]) -> dict[str, Link]:
            if not wanted:
                return {}
            cur = await conn.execute(
                f"SELECT number, platform_id, checksum FROM {self._s}.links "  # noqa: S608
                "WHERE platform = %s AND data_type = %s "
                "AND number = ANY(%s)",
                (platform, data_type.value, wanted),
            )
            return {n: Link(p, c) for n, p, c in await cur.fetchall()}

        return await self._tx(get)

    async def put_links(
        self, platform: str, data_type: DataType, links: Mapping[str, Link]
    ) -> None:
        # Sorted, so concurrent writers lock rows in the same order.
        rows = [
            (platform, data_type.value, n, link.platform_id, link.checksum)
            for n, link in sorted(links.items())
        ]

        async def put(conn: AsyncConnection[Any]) -> None:
            if not rows:
                return
            async with conn.cursor() as cur:
                await cur.executemany(
                    f"INSERT INTO {self._s}.links VALUES (%s, %s, %s, %s, %s) "  # noqa: S608
                    "ON CONFLICT (platform, data_type, number) DO UPDATE SET "
                    "platform_id = excluded.platform_id, "
                    "checksum = excluded.checksum",
                    rows,
                )

        await self._write(put)

    # -- media --------------------------------------------------------------

    async def get_media_id(self, platform: str, sha256: str) -> str | None:
        async def get(conn: AsyncConnection[Any]) -> str | None:
            cur = await conn.execute(
                f"SELECT media_id FROM {self._s}.media "  # noqa: S608
                "WHERE platform = %s AND sha256 = %s",
                (platform, sha256),
            )
            row = await cur.fetchone()
            return None if row is None else str(row[0])

        return await self._tx(get)

    async def put_media_id(
        self, platform: str, sha256: str, media_id: str
    ) -> None:
        await self._execute(
            f"INSERT INTO {self._s}.media VALUES (%s, %s, %s) "  # noqa: S608
            "ON CONFLICT (platform, sha256) DO UPDATE SET "
            "media_id = excluded.media_id",
            (platform, sha256, media_id),
        )

    async def add_pending(self, pending: PendingMedia) -> None:
        await self._execute(
            f"INSERT INTO {self._s}.pending VALUES (%s, %s, %s, %s, %s) "  # noqa: S608
            "ON CONFLICT (sha256) DO UPDATE SET size = excluded.size, "
            "registered_at = excluded.registered_at, "
            "registered_text = excluded.registered_text, "
            "meta = excluded.meta",
            (
                pending.sha256,
                pending.size,
                pending.registered_at,
                pending.registered_at.isoformat(),
                json.dumps(dict(pending.meta)),
            ),
        )

    async def remove_pending(self, sha256: str) -> None:
        await self._execute(
            f"DELETE FROM {self._s}.pending WHERE sha256 = %s",  # noqa: S608
            (sha256,),
        )

    async def list_pending(self) -> list[PendingMedia]:
        async def get(conn: AsyncConnection[Any]) -> list[PendingMedia]:
            cur = await conn.execute(
                "SELECT sha256, size, registered_text, meta "  # noqa: S608
                f"FROM {self._s}.pending "
                'ORDER BY registered_at, sha256 COLLATE "C"'
            )
            return [
                PendingMedia(
                    sha256=sha,
                    size=size,
                    registered_at=datetime.fromisoformat(at),
                    meta=json.loads(meta),
                )
                for sha, size, at, meta in await cur.fetchall()
            ]

        return await self._tx(get)

    # -- runs ---------------------------------------------------------------

    async def save_run(self, run: RunRecord) -> None:
        await self._execute(
            f"INSERT INTO {self._s}.runs (id, started_at, status, body) "  # noqa: S608
            "VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
            "status = excluded.status, body = excluded.body",
            (run.id, run.started_at, run.status.value, run_to_json(run)),
        )

    async def get_run(self, run_id: str) -> RunRecord | None:
        async def get(conn: AsyncConnection[Any]) -> RunRecord | None:
            cur = await conn.execute(
                f"SELECT body FROM {self._s}.runs WHERE id = %s",  # noqa: S608
                (run_id,),
            )
            row = await cur.fetchone()
            return None if row is None else run_from_json(row[0])

        return await self._tx(get)

    async def list_runs(self, *, limit: int = 50) -> list[RunRecord]:
        async def get(conn: AsyncConnection[Any]) -> list[RunRecord]:
            cur = await conn.execute(
                f"SELECT body FROM {self._s}.runs "  # noqa: S608
                'ORDER BY started_at DESC, id COLLATE "C" LIMIT %s',
                (max(limit, 0),),
            )
            return [run_from_json(body) for (body,) in await cur.fetchall()]

        return await self._tx(get)

    async def request_cancel(self, run_id: str) -> None:
        await self._execute(
            f"UPDATE {self._s}.runs SET cancel = true WHERE id = %s",  # noqa: S608
            (run_id,),
        )

    async def cancel_requested(self, run_id: str) -> bool:
        async def get(conn: AsyncConnection[Any]) -> bool:
            cur = await conn.execute(
                f"SELECT cancel FROM {self._s}.runs WHERE id = %s",  # noqa: S608
                (run_id,),
            )
            row = await cur.fetchone()
            return bool(row and row[0])

        return await self._tx(get)

    # -- watermarks ---------------------------------------------------------

    async def get_watermark(
        self, platform: str, data_type: DataType
    ) -> datetime | None:
        async def get(conn: AsyncConnection[Any]) -> datetime | None:
            cur = await conn.execute(
                f"SELECT moment FROM {self._s}.watermarks "  # noqa: S608
                "WHERE platform = %s AND data_type = %s",
                (platform, data_type.value),
            )
            row = await cur.fetchone()
            return None if row is None else datetime.fromisoformat(row[0])

        return await self._tx(get)

    async def set_watermark(
        self, platform: str, data_type: DataType, moment: datetime
    ) -> None:
        await self._execute(
            f"INSERT INTO {self._s}.watermarks VALUES (%s, %s, %s) "  # noqa: S608
            "ON CONFLICT (platform, data_type) DO UPDATE SET "
            "moment = excluded.moment",
            (platform, data_type.value, moment.isoformat()),
        )

    # -- failure ledger -----------------------------------------------------

    async def add_failures(
        self, platform: str, failures: Sequence[Failure]
    ) -> None:
        latest = {(f.data_type.value, f.number): f for f in failures}
        rows = [
            (platform, dt, number, f.message, f.field, f.run_id)
            for (dt, number), f in sorted(latest.items())
        ]

        async def put(conn: AsyncConnection[Any]) -> None:
            if not rows:
                return
            async with conn.cursor() as cur:
                await cur.executemany(
                    f"INSERT INTO {self._s}.failures "  # noqa: S608
                    "VALUES (%s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (platform, data_type, number) DO UPDATE "
                    "SET message = excluded.message, field = excluded.field, "
                    "run_id = excluded.run_id",
                    rows,
                )

        await self._write(put)

    async def list_failures(
        self, platform: str, data_type: DataType | None = None
    ) -> list[Failure]:
        async def get(conn: AsyncConnection[Any]) -> list[Failure]:
            query = (
                "SELECT data_type, number, message, field, run_id "  # noqa: S608
                f"FROM {self._s}.failures WHERE platform = %s"
            )
            args: tuple[Any, ...] = (platform,)
            if data_type is not None:
                query += " AND data_type = %s"
                args += (data_type.value,)
            cur = await conn.execute(
                query + ' ORDER BY data_type COLLATE "C", number COLLATE "C"',
                args,
            )
            return [
                Failure(
                    data_type=DataType(dt),
                    number=number,
                    message=message,
                    field=field,
                    run_id=run_id,
                )
                for dt, number, message, field, run_id in await cur.fetchall()
            ]

        return await self._tx(get)

    async def clear_failures(
        self, platform: str, data_type: DataType, numbers: Sequence[str]
    ) -> None:
        wanted = sorted(set(numbers))
        if wanted:
            await self._execute(
                f"DELETE FROM {self._s}.failures WHERE platform = %s "  # noqa: S608
                "AND data_type = %s AND number = ANY(%s)",
                (platform, data_type.value, wanted),
            )

    # -- schedules ----------------------------------------------------------

    async def save_schedule(self, schedule: Schedule) -> None:
        sid, spec, interval, due_text = schedule_to_row(schedule)
        await self._execute(
            f"INSERT INTO {self._s}.schedules "  # noqa: S608
            "(id, spec, interval_s, next_due, next_due_text) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
            "spec = excluded.spec, interval_s = excluded.interval_s, "
            "next_due = excluded.next_due, "
            "next_due_text = excluded.next_due_text",
            (sid, spec, interval, schedule.next_due, due_text),
        )

    async def list_schedules(self) -> list[Schedule]:
        async def get(conn: AsyncConnection[Any]) -> list[Schedule]:
            cur = await conn.execute(
                "SELECT id, spec, interval_s, next_due_text "  # noqa: S608
                f"FROM {self._s}.schedules "
                'ORDER BY next_due, id COLLATE "C"'
            )
            return [schedule_from_row(*row) for row in await cur.fetchall()]

        return await self._tx(get)

    async def claim_schedule(
        self, schedule_id: str, holder: str, until: datetime
    ) -> bool:
        now = datetime.now(until.tzinfo)

        async def claim(conn: AsyncConnection[Any]) -> bool:
            # Under READ COMMITTED a concurrent claimer waits for our row
            # lock and then re-checks the condition on the new row.
            cur = await conn.execute(
                f"UPDATE {self._s}.schedules "  # noqa: S608
                "SET holder = %s, claimed_until = %s "
                "WHERE id = %s AND (holder IS NULL OR claimed_until < %s)",
                (holder, until, schedule_id, now),
            )
            return cur.rowcount == 1

        return await self._write(claim)

    async def release_schedule(
        self, schedule_id: str, holder: str, next_due: datetime
    ) -> None:
        await self._execute(
            f"UPDATE {self._s}.schedules SET holder = NULL, "  # noqa: S608
            "claimed_until = NULL, next_due = %s, next_due_text = %s "
            "WHERE id = %s AND holder = %s",
            (next_due, next_due.isoformat(), schedule_id, holder),
        )

    # -- helpers ------------------------------------------------------------

    async def _execute(self, query: str, args: Sequence[Any]) -> None:
        async def run(conn: AsyncConnection[Any]) -> None:
            await conn.execute(query, args)

        await self._write(run)


async def migrate(conn: AsyncConnection[Any], schema: str) -> int:
    """
    Bring *schema* up to `SCHEMA_VERSION` on *conn*; return the version.

    Raises:
        StateStoreError: The database has a newer schema than this
            library knows.
    """
    import psycopg

    s = f'"{schema}"'
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                (_MIGRATION_LOCK, schema),
            )
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.schema_version ("
                "version integer PRIMARY KEY, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = await conn.execute(
                f"SELECT coalesce(max(version), 0) FROM {s}.schema_version"  # noqa: S608
            )
            row = await cur.fetchone()
            current = int(row[0]) if row else 0
            if current > SCHEMA_VERSION:
                raise StateStoreError(
                    f"the state store schema {schema!r} is at version "
                    f"{current}, newer than this ecomsync knows "
                    f"({SCHEMA_VERSION}); upgrade ecomsync"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                await conn.execute(MIGRATIONS[version - 1].format(s=s))
                await conn.execute(
                    f"INSERT INTO {s}.schema_version (version) VALUES (%s)",  # noqa: S608
                    (version,),
                )
    except psycopg.Error as exc:
        raise StateStoreError(
            f"cannot migrate the state store schema {schema!r}: "
            f"{_message(exc)}"
        ) from exc
    return SCHEMA_VERSION


def not_asyncio(what: str, exc: RuntimeError) -> Exception:
    """
    The error for psycopg's async driver running outside asyncio.
    """
    if "event loop" not in str(exc):
        return exc
    return ConfigurationError(
        f"{what} needs the asyncio event loop (psycopg's async driver "
        "does not run on trio); run the host with anyio's asyncio backend"
    )


def _reusable(conn: AsyncConnection[Any]) -> bool:
    from psycopg.pq import TransactionStatus

    return (
        not conn.closed
        and conn.info.transaction_status == TransactionStatus.IDLE
    )


def _message(exc: BaseException) -> str:
    """
    A driver error's first line (libpq messages name host and user, never
    the password).
    """
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
