"""
PostgresStore when a transaction cannot end cleanly: a call cancelled
inside its transaction, a connection that dies before its COMMIT, a
cancelled run's cleanup waiting for a row lock.  No
connection may go back to the pool inside a transaction (the next call
would nest in it as a savepoint and never commit), and no lock may stay
held.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

import anyio
import psycopg
import pytest

from ecomsync import Link
from ecomsync._closing import hurried
from ecomsync._spec import DataType
from ecomsync.exceptions import StateStoreError
from ecomsync.state._postgres import PostgresStore


pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


def _victims(dsn: str) -> list[tuple[str, str | None]]:
    """The state and open transaction's start of the store's sessions."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT state, xact_start::text FROM pg_stat_activity "
            "WHERE application_name = 'victim'"
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _links(dsn: str) -> set[str]:
    """The record numbers of the links committed, seen from elsewhere."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT number FROM ecomsync.links").fetchall()
    return {r[0] for r in rows}


async def test_cancelled_write_leaves_no_transaction_open(
    postgres_dsn: str,
) -> None:
    """A write cancelled while it waits inside its transaction leaves no
    session idle in a transaction (or holding locks), and the store's next
    write is committed, not nested in the stale transaction."""
    store = PostgresStore(
        postgres_dsn, application_name="victim", max_connections=1
    )
    await store.put_links("shop", DataType.ARTICLES, {"A": Link("1", "a")})
    with psycopg.connect(postgres_dsn) as blocker:
        blocker.execute("LOCK TABLE ecomsync.links IN ACCESS EXCLUSIVE MODE")
        with anyio.move_on_after(0.5) as scope:
            await store.put_links(
                "shop", DataType.ARTICLES, {"B": Link("2", "b")}
            )
        assert scope.cancelled_caught
        blocker.rollback()
    await anyio.sleep(0.1)
    assert all(xact is None for _, xact in _victims(postgres_dsn))

    await store.put_links("shop", DataType.ARTICLES, {"C": Link("3", "c")})
    assert {"A", "C"} == _links(postgres_dsn)
    assert all(xact is None for _, xact in _victims(postgres_dsn))
    await store.aclose()


async def test_connection_dead_before_commit(postgres_dsn: str) -> None:
    """A transaction whose connection dies before its COMMIT (so neither
    COMMIT nor ROLLBACK can be sent) is a StateStoreError saying why, its
    rows are not kept, and the store's next call works on a new
    connection."""
    store = PostgresStore(
        postgres_dsn, application_name="victim", max_connections=1
    )

    async def write_then_lose(conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(
            "INSERT INTO ecomsync.links "
            "(platform, data_type, number, platform_id, checksum) "
            "VALUES ('shop', 'articles', 'B', '2', 'b')"
        )
        with psycopg.connect(postgres_dsn, autocommit=True) as other:
            other.execute(
                "SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,)
            )
        await anyio.sleep(0.1)

    # The store's first connection: not a pooled one that may have died
    # while idle, so the failure is told, not retried.
    with pytest.raises(StateStoreError, match=r"terminat|closed"):
        await store.transact(write_then_lose)
    assert set() == _links(postgres_dsn)

    await store.put_links("shop", DataType.ARTICLES, {"C": Link("3", "c")})
    assert {"C"} == _links(postgres_dsn)
    assert all(xact is None for _, xact in _victims(postgres_dsn))
    await store.aclose()


class _Faulty(psycopg.AsyncConnection[Any]):
    """A connection whose armed commands (``b"COMMIT"``, ``b"ROLLBACK"``)
    fail once on the client side, leaving the server's transaction open,
    as when the reply is lost."""

    failing: ClassVar[set[bytes]] = set()

    def _exec_command(
        self, command: Any, *args: Any
    ) -> Generator[Any, Any, Any]:
        if command in self.failing:
            self.failing.discard(command)
            return self._fail(command)
        return super()._exec_command(command, *args)

    @staticmethod
    def _fail(command: bytes) -> Generator[Any, Any, Any]:
        raise psycopg.OperationalError(f"{command.decode()} lost")
        yield  # a generator, as psycopg's commands are


@pytest.fixture(name="failing")
def _failing(monkeypatch: pytest.MonkeyPatch) -> set[bytes]:
    monkeypatch.setattr(psycopg, "AsyncConnection", _Faulty)
    _Faulty.failing.clear()
    return _Faulty.failing


async def test_failed_commit_leaves_no_transaction_open(
    postgres_dsn: str, failing: set[bytes]
) -> None:
    """A write whose COMMIT fails (and ROLLBACK would too) with the
    connection still up is a StateStoreError; the connection is not
    pooled inside its transaction: no session stays idle in a transaction,
    the rows are not kept, the next write is committed."""
    store = PostgresStore(
        postgres_dsn, application_name="victim", max_connections=1
    )
    await store.put_links("shop", DataType.ARTICLES, {"A": Link("1", "a")})
    failing.update({b"COMMIT", b"ROLLBACK"})

    with pytest.raises(StateStoreError, match="COMMIT lost"):
        await store.put_links("shop", DataType.ARTICLES, {"B": Link("2", "b")})
    await anyio.sleep(0.1)
    assert all(xact is None for _, xact in _victims(postgres_dsn))

    await store.put_links("shop", DataType.ARTICLES, {"C": Link("3", "c")})
    assert {"A", "C"} == _links(postgres_dsn)
    await store.aclose()


async def test_failed_rollback_leaves_no_transaction_open(
    postgres_dsn: str, failing: set[bytes]
) -> None:
    """A write rejected inside its transaction (a fence) whose ROLLBACK
    fails raises the rejection; the connection, still inside the
    transaction, is closed rather than pooled, so the next write is
    committed and nothing stays idle in a transaction."""
    rejecting = [True]

    async def fence(conn: psycopg.AsyncConnection[Any]) -> None:
        if rejecting.pop() if rejecting else False:
            raise StateStoreError("fenced off")

    store = PostgresStore(
        postgres_dsn, application_name="victim", max_connections=1, fence=fence
    )
    await store.schema_version()
    failing.add(b"ROLLBACK")

    with pytest.raises(StateStoreError, match="fenced off"):
        await store.put_links("shop", DataType.ARTICLES, {"B": Link("2", "b")})
    await anyio.sleep(0.1)
    assert all(xact is None for _, xact in _victims(postgres_dsn))

    await store.put_links("shop", DataType.ARTICLES, {"C": Link("3", "c")})
    assert {"C"} == _links(postgres_dsn)
    await store.aclose()


async def test_cleanup_gives_up_on_a_held_row_lock(postgres_dsn: str) -> None:
    """A shielded cleanup step of a cancelled run whose UPDATE waits for a
    row another session locks gives up at the cleanup's deadline with a
    StateStoreError (it waited as long as the lock was held, for ever if
    never let go), leaves no transaction open, and the store works
    after."""
    store = PostgresStore(
        postgres_dsn, application_name="victim", max_connections=1
    )
    await store.put_links("shop", DataType.ARTICLES, {"A": Link("1", "a")})
    with psycopg.connect(postgres_dsn) as blocker:
        blocker.execute(
            "SELECT 1 FROM ecomsync.links WHERE number = 'A' FOR UPDATE"
        )

        async def let_go() -> None:
            # Only so that a store that waits for ever fails the test.
            await anyio.sleep(6)
            blocker.rollback()

        async with anyio.create_task_group() as tg:
            tg.start_soon(let_go)
            began = anyio.current_time()
            with (
                hurried(0.5),
                anyio.CancelScope(shield=True),
                pytest.raises(StateStoreError, match="lock timeout"),
            ):
                await store.put_links(
                    "shop", DataType.ARTICLES, {"A": Link("2", "b")}
                )
            took = anyio.current_time() - began
            tg.cancel_scope.cancel()
        blocker.rollback()

    assert took < 3
    assert all(xact is None for _, xact in _victims(postgres_dsn))
    await store.put_links("shop", DataType.ARTICLES, {"C": Link("3", "c")})
    assert {"A", "C"} == _links(postgres_dsn)
    await store.aclose()
