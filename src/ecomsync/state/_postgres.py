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

import re
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
)
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

import anyio
import attrs

from .._closing import current_hurry
from .._contracts import needs_extra
from .._settings import at_least, flag, name
from ..exceptions import ConfigurationError, StateStoreError
from ._dialect import (
    Dialect,
    Op,
    Result,
    postgres,
)
from ._media_rows import MediaForgetOps
from ._schema import (
    POSTGRES_MIGRATIONS,
    NewerSchemaError,
    pending_steps,
)
from ._sql import SqlStore


if TYPE_CHECKING:
    from psycopg import AsyncConnection


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore"]

T = TypeVar("T")
Fence = Callable[["AsyncConnection[Any]"], Awaitable[None]]

MIGRATIONS = POSTGRES_MIGRATIONS
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
        # The hosts as written: libpq takes several ("h1:5432,h2:5433"),
        # which urlsplit's port cannot read.
        hosts = parts.netloc.rpartition("@")[2] or "localhost"
        return f"{parts.scheme}://{hosts}{parts.path}"
    # key=value form: keep only host, port and dbname.
    kept = [
        item
        for item in dsn.split()
        if item.split("=", 1)[0] in ("host", "port", "dbname")
    ]
    return " ".join(kept) or "<dsn>"


@attrs.define
class PostgresStore(SqlStore, MediaForgetOps):
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

    Its connections send TCP keepalives: a database host that vanished
    is noticed within about 25 s.

    Connect directly or through a session-pooling proxy.  The store also
    works behind transaction pooling (with *prepared_statements* off on
    old PgBouncers); `PostgresLicensePool` never does.

    Raises:
        ConfigurationError: A setting out of its range, naming it (never
            the DSN's value): an empty *dsn* or *application_name*, a
            schema name PostgreSQL would need quoted, *max_connections*
            not a whole number of at least 1, *prepared_statements* not
            ``True`` or ``False``.

    .. versionadded:: 26.1.0
    """

    dsn: str = attrs.field(repr=False, validator=name(secret=True))
    schema: str = attrs.field(default="ecomsync", validator=_schema_name)
    max_connections: int = attrs.field(default=4, validator=at_least(1))
    application_name: str = attrs.field(default="ecomsync", validator=name())
    prepared_statements: bool = attrs.field(default=True, validator=flag)
    fence: Callable[[AsyncConnection[Any]], Awaitable[None]] | None = (
        attrs.field(default=None, kw_only=True, repr=False)
    )
    _idle: list[AsyncConnection[Any]] = attrs.field(init=False, factory=list)
    _limit: anyio.Semaphore | None = attrs.field(init=False, default=None)
    _ready: bool = attrs.field(init=False, default=False)
    _migrate_lock: anyio.Lock | None = attrs.field(init=False, default=None)
    _closed: bool = attrs.field(init=False, default=False)

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
        where = safe_dsn(self.dsn)
        return await connect(
            "PostgresStore",
            self.dsn,
            lambda message: StateStoreError(
                f"cannot connect to the state store {where}: {message}"
            ),
            autocommit=True,
            application_name=self.application_name,
            connect_timeout=10,
            prepare_threshold=5 if self.prepared_statements else None,
            # A server host that vanished is noticed in ~25 s, not hours:
            # a run's end and its journal's cleanup wait shielded.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )

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
                if _reusable(conn) and not self._closed:
                    self._idle.append(conn)
                else:
                    with anyio.CancelScope(shield=True):
                        await conn.close()

    async def request_cancel(
        self, run_id: str, reason: str | None = None
    ) -> None:
        await super().request_cancel(run_id, reason)
        # A partitioned run's partitions nobody holds end with it now.
        from ._pg_partitions import PostgresPartitionBoard

        await PostgresPartitionBoard(self).cancelled(run_id)

    async def transact(
        self, fn: Callable[[AsyncConnection[Any]], Awaitable[T]]
    ) -> T:
        """
        Run *fn* on one of the store's connections in one transaction
        (unfenced); for *ecomsync*'s own tables beside the store's.
        """
        return await self._tx(fn)

    async def _write(
        self,
        fn: Callable[[AsyncConnection[Any]], Awaitable[T]],
        fence: Fence | None = None,
    ) -> T:
        fence = fence or self.fence
        if fence is None:
            return await self._tx(fn)
        check = fence

        async def fenced(conn: AsyncConnection[Any]) -> T:
            await check(conn)
            return await fn(conn)

        return await self._tx(fenced)

    async def _tx(
        self,
        fn: Callable[[AsyncConnection[Any]], Awaitable[T]],
        *,
        reads_only: bool = False,
    ) -> T:
        """
        Run *fn* in one transaction.  Retry it when it loses a deadlock or
        a serialisation race, or when a pooled connection turns out dead
        before its COMMIT; a connection lost during the COMMIT is a
        `StateStoreError` saying the outcome is unknown, unless *fn*
        *reads_only* (then it is run again).
        """
        import psycopg
        from psycopg import errors

        self._ensure_open()
        attempt = 0
        while True:
            attempt += 1
            committing = False
            try:
                async with self._borrow() as (conn, reused):
                    try:
                        async with conn.transaction():
                            await _bound_waits(conn)
                            result = await fn(conn)
                            committing = True
                    except (
                        errors.DeadlockDetected,
                        errors.SerializationFailure,
                    ):
                        if attempt >= 5:
                            raise
                        await anyio.sleep(0.01 * 2**attempt)
                        continue
                    except psycopg.OperationalError as exc:
                        if committing and not reads_only:
                            # The server may have committed: running the
                            # transaction again would repeat a write that
                            # is not idempotent (a claim, a CAS on its own
                            # token), so say so instead.
                            raise StateStoreError(
                                f"state store {safe_dsn(self.dsn)}: the "
                                "connection was lost while it committed "
                                f"({_message(exc)}); the write may or may "
                                "not be in the store"
                            ) from exc
                        if not reused or not conn.closed or attempt >= 5:
                            raise
                        # A connection that died while idle: every
                        # pooled one probably did (server restart).
                        await self._drop_idle()
                        continue
                    else:
                        return result
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

    async def _close(self) -> None:
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

        return await self._tx(get, reads_only=True)

    @property
    def _dialect(self) -> Dialect:
        return postgres(self.schema)

    async def _perform(self, op: Op[T], *, fence: Fence | None = None) -> T:
        """
        Run *op* in one transaction, a write after *fence* (or the
        store's own).
        """

        async def perform(conn: AsyncConnection[Any]) -> T:
            results = []
            for stmt in op.stmts:
                async with conn.cursor() as cur:
                    if stmt.rows is not None:
                        await cur.executemany(stmt.sql, stmt.rows)
                    else:
                        await cur.execute(stmt.sql, stmt.args)
                    rows = await cur.fetchall() if cur.description else []
                    results.append(Result(rows, cur.rowcount))
            return op.result(results)

        if not op.stmts:
            return op.result([])
        if op.write:
            return await self._write(perform, fence)
        return await self._tx(perform, reads_only=True)


async def _bound_waits(conn: AsyncConnection[Any]) -> None:
    """
    In a cancelled run's cleanup, bound the transaction's lock waits and
    statements by what is left of the cleanup's deadline (`Hurry`): its
    steps are shielded from the cancel, and an UPDATE waiting for a row
    another session holds would wait for ever.  Past the deadline, a
    statement still gets a millisecond for a lock (what takes none
    lands), and a second to run.
    """
    hurry = current_hurry()
    left = None if hurry is None else hurry.remaining()
    if left is None:
        return
    locks = max(1, round(left * 1000))
    await conn.execute(
        "SELECT set_config('lock_timeout', %s, true), "
        "set_config('statement_timeout', %s, true)",
        (f"{locks}ms", f"{locks + 1000}ms"),
    )


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
            try:
                steps = pending_steps(current, SCHEMA_VERSION)
            except NewerSchemaError:
                raise StateStoreError(
                    f"the state store schema {schema!r} is at version "
                    f"{current}, newer than this ecomsync knows "
                    f"({SCHEMA_VERSION}); upgrade ecomsync"
                ) from None
            for version in steps:
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


async def connect(
    who: str,
    dsn: str,
    unreachable: Callable[[str], Exception],
    **options: Any,
) -> AsyncConnection[Any]:
    """
    A psycopg connection to *dsn* for *who* (`PostgresStore`,
    `PostgresLicensePool`), with psycopg's *options*.

    Raises:
        ConfigurationError: The ``postgres`` extra is missing, or the
            event loop is not asyncio.
        Exception: *unreachable* of the driver's first line when the
            server cannot be reached.
    """
    with needs_extra(who, "postgres"):
        import psycopg
    try:
        return await psycopg.AsyncConnection.connect(dsn, **options)
    except psycopg.Error as exc:
        message = connect_message(exc, dsn)
        if message == _message(exc):
            raise unreachable(message) from exc
    except RuntimeError as exc:
        raise not_asyncio(who, exc) from exc
    # The driver's error quoted the password: raised outside the handler,
    # so that it is neither the cause nor the context of ours.
    raise unreachable(message)


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


_KEYWORD_PASSWORD = re.compile(
    r"password\s*=\s*('(?:[^'\\]|\\.)*'?|\S+)", re.IGNORECASE
)
_QUERY_PASSWORD = re.compile(r"[?&]password=([^&]*)", re.IGNORECASE)


def dsn_secrets(dsn: str) -> list[str]:
    """
    The strings of *dsn* that give its password away, as libpq's messages
    about a malformed connection string may quote them (the user info of
    a URL, a ``password=`` value; raw and percent-decoded), longest first.
    """
    found: list[str] = []
    if "://" in dsn:
        authority = dsn.split("://", 1)[1]
        userinfo, at, _ = authority.rpartition("@")
        _, colon, password = userinfo.partition(":")
        if at and colon:  # a user alone is no secret (and often the host)
            found.append(userinfo)
            found.append(password)
        found += _QUERY_PASSWORD.findall(dsn)
    else:
        found += [v.strip("'") for v in _KEYWORD_PASSWORD.findall(dsn)]
    found += [unquote(s) for s in found]
    return sorted({s for s in found if s}, key=len, reverse=True)


def connect_message(exc: BaseException, dsn: str) -> str:
    """
    The first line of a driver error raised while connecting to *dsn*,
    with every part of its password replaced by ``***``: libpq repeats
    what it cannot parse (``invalid percent-encoded token: "pa%ss"``),
    and a password is often what it cannot parse.
    """
    message = _message(exc)
    for secret in dsn_secrets(dsn):
        message = message.replace(secret, "***")
    return message
