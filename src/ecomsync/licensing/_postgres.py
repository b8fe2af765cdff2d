"""
`PostgresLicensePool`: ERP licences shared by every process using one
PostgreSQL database, as session-level advisory locks.

Licence *slot* of pool *name* is the advisory lock ``(ns, slot)`` where
*ns* is derived from the schema and pool name.  Each lease holds its lock
on a connection of its own: when the holder dies, its connection dies and
PostgreSQL drops the lock, so the licence is free again at once.  Never
behind a transaction-pooling proxy (PgBouncer ``pool_mode=transaction``):
a session lock would stay with whichever client borrows the connection.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from .._anyio_util import task_group
from .._closing import AsyncResource
from .._contracts import Lease
from .._settings import at_least, seconds
from .._settings import name as text
from ..exceptions import ConfigurationError, LicenseError
from ..state._postgres import (
    _message,
    _schema_name,
    connect,
    migrate,
    safe_dsn,
)
from ._polling import poll_for_slot


if TYPE_CHECKING:
    from psycopg import AsyncConnection


__all__ = ["PostgresLicensePool"]

log = logging.getLogger("ecomsync.licensing")

#: Seconds a lease's connection has to answer its check; one that does
#: not counts as cut.
CHECK_TIMEOUT = 5.0


def _backend_pid(conn: AsyncConnection[Any]) -> int | None:
    """
    The server process of *conn*, if it can still be told.
    """
    import psycopg

    try:
        return conn.info.backend_pid or None
    except psycopg.Error:
        return None


@attrs.define
class PostgresLicensePool(AsyncResource):
    """
    *size* ERP licences shared by every process, on every machine, that
    uses this database, *schema* and pool *name*.

    A lease is an advisory lock held on a dedicated connection: it is
    returned when its block ends and, if the holder dies (``kill -9``,
    crash, lost machine), as soon as PostgreSQL notices the connection is
    gone: at once for a dead process, after the TCP keepalive timeouts
    (about 25 s) for a vanished machine.  Waiting holders poll with
    exponential backoff (*poll_interval* up to *max_poll_interval*).

    A holder checks its lease's connection every *check_interval*
    seconds (above 0, else `ConfigurationError`).  One that was cut (a
    database restart, a proxy or an administrator ending it) lost its
    lock with it: the holder takes its
    licence back on a new connection, or, when another holder took it
    meanwhile, its block is cancelled and the lease raises
    `LicenseError`, so that no more runs use the ERP than there are
    licences (for at most *check_interval* seconds two may).

    The pool's size is recorded in the database the first time it is
    used; a process that says otherwise is refused with
    `ConfigurationError`, because mixed sizes would hand out more licences
    than exist.

    Raises:
        ConfigurationError: A setting out of its range, naming it (never
            the DSN's value): an empty *dsn* or *name*, a size that is
            not a whole number of at least 1, an interval that is not a
            number of seconds above 0.

    .. versionadded:: 26.1.0
    """

    dsn: str = attrs.field(repr=False, validator=text(secret=True))
    _size: int = attrs.field(validator=at_least(1), alias="size")
    name: str = attrs.field(default="default", validator=text())
    schema: str = attrs.field(default="ecomsync", validator=_schema_name)
    poll_interval: float = attrs.field(default=0.05, validator=seconds())
    max_poll_interval: float = attrs.field(default=1.0, validator=seconds())
    check_interval: float = attrs.field(
        default=1.0, kw_only=True, validator=seconds()
    )
    _ready: bool = attrs.field(init=False, default=False)
    _closed: bool = attrs.field(init=False, default=False)

    def __repr__(self) -> str:
        return (
            f"<PostgresLicensePool {self.name!r} size={self._size} "
            f"{safe_dsn(self.dsn)}>"
        )

    @property
    def size(self) -> int:
        return self._size

    @property
    def namespace(self) -> int:
        """
        The first advisory lock key of this pool's slots.
        """
        return zlib.crc32(f"{self.schema}:{self.name}".encode()) & 0x7FFFFFFF

    @property
    def _s(self) -> str:
        return f'"{self.schema}"'

    async def _connect(self) -> AsyncConnection[Any]:
        where = safe_dsn(self.dsn)
        conn = await connect(
            "PostgresLicensePool",
            self.dsn,
            lambda message: LicenseError(
                f"cannot reach the licence pool at {where}: {message}"
            ),
            autocommit=True,
            application_name=f"ecomsync-licence:{self.name}"[:63],
            connect_timeout=10,
            # The client notices a dead server, too.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
        try:
            # The server notices a vanished client machine within ~25 s.
            await conn.execute(
                "SET tcp_keepalives_idle = 10; "
                "SET tcp_keepalives_interval = 5; "
                "SET tcp_keepalives_count = 3"
            )
            if not self._ready:
                await migrate(conn, self.schema)
                await self._check_size(conn)
                self._ready = True
        except BaseException:
            with anyio.CancelScope(shield=True):
                await conn.close()
            raise
        return conn

    async def _check_size(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute(
            f"INSERT INTO {self._s}.licence_pools VALUES (%s, %s) "  # noqa: S608
            "ON CONFLICT (pool) DO NOTHING",
            (self.name, self._size),
        )
        cur = await conn.execute(
            f"SELECT size FROM {self._s}.licence_pools WHERE pool = %s",  # noqa: S608
            (self.name,),
        )
        row = await cur.fetchone()
        recorded = int(row[0]) if row else self._size
        if recorded != self._size:
            raise ConfigurationError(
                f"licence pool {self.name!r} has {recorded} licence(s) in "
                f"the database but this process was configured with "
                f"{self._size}; stop every worker and change the size "
                f"with `{self._s}.licence_pools`, or fix the configuration"
            )

    async def holders(self) -> tuple[str, ...]:
        """
        Who holds licences right now (only live holders: a dead holder's
        lock is gone, so it is not listed).
        """
        conn = await self._connect()
        try:
            return await self._holders(conn)
        finally:
            with anyio.CancelScope(shield=True):
                await conn.close()

    async def _holders(self, conn: AsyncConnection[Any]) -> tuple[str, ...]:
        cur = await conn.execute(
            f"SELECT h.holder FROM {self._s}.licence_holders h "  # noqa: S608
            "JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted "
            "AND l.classid = %s::bigint::oid AND l.objid = h.slot::oid "
            "AND l.objsubid = 2 AND l.pid = h.backend_pid "
            "AND l.database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database()) "
            "WHERE h.pool = %s ORDER BY h.slot",
            (self.namespace, self.name),
        )
        return tuple(str(h) for (h,) in await cur.fetchall())

    async def in_use(self) -> int:
        """
        How many licences are held right now.
        """
        return len(await self.holders())

    @asynccontextmanager
    async def lease(
        self, holder: str, *, timeout: float
    ) -> AsyncIterator[Lease]:
        """
        Hold one licence for the block, an advisory lock on a connection
        of its own; wait up to *timeout* seconds.

        Raises:
            NoFreeLicense: Every licence stayed held for the whole wait;
                names the size and the holders.
        """
        self._ensure_open()
        import psycopg

        held = [await self._connect()]
        try:
            try:
                slot = await self._acquire(held[0], holder, timeout)
            except psycopg.Error as exc:
                raise LicenseError(
                    f"the licence pool at {safe_dsn(self.dsn)} failed "
                    f"while {holder} waited: {_message(exc)}"
                ) from exc
            try:
                async with task_group() as tg:
                    tg.start_soon(self._hold, held, holder, slot)
                    try:
                        yield Lease(holder, slot)
                    finally:
                        tg.cancel_scope.cancel()
            finally:
                with anyio.CancelScope(shield=True):
                    await self._release(held[0], slot)
        finally:
            with anyio.CancelScope(shield=True):
                await held[0].close()

    async def _hold(
        self, held: list[AsyncConnection[Any]], holder: str, slot: int
    ) -> None:
        """
        Check the connection holding *slot* for *holder* (``held[0]``)
        every *check_interval* seconds.  One that was cut took the lock
        with it: take the slot again on a new connection (waiting while
        the database cannot be reached: nobody can take it then), or
        raise `LicenseError` if that fails (`_lost` says why).
        """
        while True:
            await anyio.sleep(self.check_interval)
            old = _backend_pid(held[0])
            why = await self._check(held[0])
            if why is None:
                continue
            log.warning(
                "the connection holding licence %d of pool %r for %s %s; "
                "taking the licence back",
                slot + 1,
                self.name,
                holder,
                why,
            )
            conn, taken = await self._retake(holder, slot)
            try:
                now = (
                    None
                    if taken is not None
                    else await self._locker(conn, slot)
                )
            except BaseException:
                # The lease ended meanwhile: nobody else would close it.
                with anyio.CancelScope(shield=True):
                    await conn.close()
                raise
            lost, held[0] = held[0], conn
            with anyio.CancelScope(shield=True):
                await lost.close()
            if taken is None:
                raise LicenseError(self._lost(holder, slot, why, old, now))

    async def _check(self, conn: AsyncConnection[Any]) -> str | None:
        """
        ``None`` if *conn* answers a query within `CHECK_TIMEOUT`
        seconds, else what went wrong.
        """
        import psycopg

        # Shielded: a query cancelled in flight makes psycopg close the
        # connection (and warn); the check takes a millisecond.
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(CHECK_TIMEOUT),
        ):
            try:
                await conn.execute("SELECT 1")
            except psycopg.Error as exc:
                return f"failed its check ({_message(exc)})"
            else:
                return None
        return f"did not answer its check within {CHECK_TIMEOUT:g} s"

    async def _locker(
        self, conn: AsyncConnection[Any], slot: int
    ) -> tuple[int, str | None] | None:
        """
        The server process holding *slot*'s lock and, if it registered,
        its holder's name; ``None`` if nobody holds it or it cannot be
        told (only for the message: never raises).
        """
        import psycopg

        try:
            cur = await conn.execute(
                f"SELECT l.pid, h.holder FROM pg_locks l "  # noqa: S608
                f"LEFT JOIN {self._s}.licence_holders h ON h.pool = %s "
                "AND h.slot = %s AND h.backend_pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.classid = %s::bigint::oid AND l.objid = %s::oid "
                "AND l.objsubid = 2 AND l.database = (SELECT oid FROM "
                "pg_database WHERE datname = current_database())",
                (self.name, slot, self.namespace, slot),
            )
            row = await cur.fetchone()
        except psycopg.Error:
            return None
        return (int(row[0]), row[1]) if row else None

    def _lost(
        self,
        holder: str,
        slot: int,
        why: str,
        old: int | None,
        now: tuple[int, str | None] | None,
    ) -> str:
        """
        Why *holder* stopped: its connection *why*, and the lock could
        not be taken again because *now* (server process, holder) has it.
        """
        head = (
            f"{holder} lost licence {slot + 1} of {self._size} in pool "
            f"{self.name!r}: its connection to {safe_dsn(self.dsn)} {why}"
        )
        stop = f"stopped so that no more than {self._size} use the ERP"
        if now is not None and old is not None and now[0] == old:
            # Nobody else has it: the database still keeps the old
            # session (and the lock) of a connection this side gave up.
            return (
                f"{head}, and its old session (server process {old}) "
                f"still holds the licence: the database has not noticed "
                f"that connection is gone (a network or proxy in between "
                f"dropping or stalling it; the server ends such a session "
                f"after its TCP keepalives, about 25 s). No other holder "
                f"has the licence; {stop}. It is free again when that "
                f"session ends (SELECT pg_terminate_backend({old}) ends it "
                f"at once); if this recurs, look at the network between "
                f"this process and the database"
            )
        other = "another holder"
        if now is not None:
            other = f"{now[1]!r}" if now[1] else f"server process {now[0]}"
        return (
            f"{head} (a database restart?) and {other} took the licence "
            f"meanwhile; {stop}"
        )

    async def _retake(
        self, holder: str, slot: int
    ) -> tuple[AsyncConnection[Any], int | None]:
        """
        A new connection and *slot* taken on it for *holder* (`None`:
        another holder has it), waiting while the database cannot be
        reached or cuts the new connection too (a restart in progress).
        """
        import psycopg

        while True:
            try:
                conn = await self._connect()
            except LicenseError:
                await anyio.sleep(self.check_interval)
                continue
            try:
                return conn, await self._take(conn, holder, slot)
            except psycopg.OperationalError:
                # Cut as well (a restart in progress): wait, then anew.
                with anyio.CancelScope(shield=True):
                    await conn.close()
            except psycopg.Error as exc:
                with anyio.CancelScope(shield=True):
                    await conn.close()
                raise LicenseError(
                    f"the licence pool at {safe_dsn(self.dsn)} failed "
                    f"while {holder} took licence {slot + 1} back: "
                    f"{_message(exc)}"
                ) from exc
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await conn.close()
                raise
            await anyio.sleep(self.check_interval)

    async def _take(
        self, conn: AsyncConnection[Any], holder: str, slot: int
    ) -> int | None:
        """
        Take *slot* for *holder* on *conn* if it is free.
        """
        cur = await conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (self.namespace, slot)
        )
        row = await cur.fetchone()
        if not (row and row[0]):
            return None
        await conn.execute(
            f"INSERT INTO {self._s}.licence_holders "  # noqa: S608
            "VALUES (%s, %s, %s, pg_backend_pid(), now()) "
            "ON CONFLICT (pool, slot) DO UPDATE SET "
            "holder = excluded.holder, "
            "backend_pid = excluded.backend_pid, "
            "since = excluded.since",
            (self.name, slot, holder),
        )
        return slot

    async def _acquire(
        self, conn: AsyncConnection[Any], holder: str, timeout: float
    ) -> int:
        async def try_slot(slot: int) -> int | None:
            return await self._take(conn, holder, slot)

        return await poll_for_slot(
            try_slot,
            size=self._size,
            timeout=timeout,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
            holders=lambda: self._holders(conn),
        )

    async def _release(self, conn: AsyncConnection[Any], slot: int) -> None:
        if conn.closed:
            return
        try:
            await conn.execute(
                f"DELETE FROM {self._s}.licence_holders "  # noqa: S608
                "WHERE pool = %s AND slot = %s "
                "AND backend_pid = pg_backend_pid()",
                (self.name, slot),
            )
            await conn.execute(
                "SELECT pg_advisory_unlock(%s, %s)", (self.namespace, slot)
            )
        except Exception:
            return
