"""
PostgresStore when a COMMIT's reply is lost: the server committed, the
connection died before it answered.  The store must not run the write
again (a compare-and-set would then fail against its own write, a claim
would take a second partition), but say that its outcome is unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import anyio
import psycopg
import pytest

from ecomsync import (
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    RunFinished,
    RunLease,
    RunStatus,
    Synchronizer,
    SyncSpec,
)
from ecomsync._spec import All, DataType
from ecomsync.exceptions import StateStoreError
from ecomsync.state._pg_partitions import PostgresPartitionBoard
from ecomsync.state._postgres import PostgresStore
from ecomsync.testing._store_contract._data import a_run


pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

UNKNOWN = "may or may not be in the store"


class _CommitsThenDies(psycopg.AsyncConnection[Any]):
    """A connection whose armed COMMIT reaches the server and commits,
    after which the connection is gone before the reply is read (a server
    restart, a network cut at the wrong moment)."""

    armed: ClassVar[int] = 0

    def _exec_command(
        self, command: Any, *args: Any
    ) -> Generator[Any, Any, Any]:
        if command == b"COMMIT" and type(self).armed:
            type(self).armed -= 1
            return self._commit_then_die(command, *args)
        return super()._exec_command(command, *args)

    def _commit_then_die(
        self, command: Any, *args: Any
    ) -> Generator[Any, Any, Any]:
        yield from super()._exec_command(command, *args)
        self.pgconn.finish()
        raise psycopg.OperationalError(
            "server closed the connection unexpectedly"
        )


@pytest.fixture(name="store")
async def _store(postgres_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(psycopg, "AsyncConnection", _CommitsThenDies)
    _CommitsThenDies.armed = 0
    store = PostgresStore(postgres_dsn, max_connections=1)
    # A pooled connection: the kind whose death the store retries.
    await store.schema_version()
    yield store
    await store.aclose()


def _lease(token: str) -> RunLease:
    return RunLease(
        name="orders:shop",
        run_id="run-1",
        token=token,
        owner=None,
        heartbeat_at=datetime.now(UTC),
    )


async def test_lease_taken_but_unanswered_is_not_reported_lost(
    store: PostgresStore,
) -> None:
    """A lease take whose COMMIT went through unanswered is not run again
    and told "taken by another" (the compare-and-set failing on its own
    row): it says its outcome is unknown, and the lease is this one."""
    mine = _lease("t-mine")
    _CommitsThenDies.armed = 1

    with pytest.raises(StateStoreError, match=UNKNOWN):
        await store.take_lease(mine, seen=None)

    assert mine == await store.lease_holder("orders:shop")


async def test_claim_unanswered_does_not_claim_a_second_partition(
    store: PostgresStore,
) -> None:
    """A partition claim whose COMMIT went through unanswered is not run
    again, which would claim a second partition for the worker while the
    first stays claimed by nobody who knows."""
    board = PostgresPartitionBoard(store)
    spec = SyncSpec(types={DataType.ARTICLES: All()})
    await board.create(a_run("run-1"), [(0, spec), (0, spec)])
    _CommitsThenDies.armed = 1

    with pytest.raises(StateStoreError, match=UNKNOWN):
        await board.claim("w", stale_after=60)

    async def claimed(conn: psycopg.AsyncConnection[Any]) -> int:
        cur = await conn.execute(
            "SELECT count(*) FROM ecomsync.partitions WHERE worker IS NOT NULL"
        )
        row = await cur.fetchone()
        return int(row[0]) if row else -1

    assert 1 == await store.transact(claimed)


async def test_run_created_unanswered_is_not_a_duplicate_key(
    store: PostgresStore,
) -> None:
    """A partitioned run's creation whose COMMIT went through unanswered is
    not run again into a duplicate-key error that says it failed; the
    error says the outcome is unknown, and the run is there once."""
    board = PostgresPartitionBoard(store)
    spec = SyncSpec(types={DataType.ARTICLES: All()})
    _CommitsThenDies.armed = 1

    with pytest.raises(StateStoreError, match=UNKNOWN):
        await board.create(a_run("run-1"), [(0, spec)])

    assert await store.get_run("run-1") is not None


async def test_read_unanswered_is_read_again(store: PostgresStore) -> None:
    """A read whose COMMIT went unanswered has nothing to repeat wrongly:
    it is read again on a new connection and answers."""
    mine = _lease("t-mine")
    await store.take_lease(mine, seen=None)
    _CommitsThenDies.armed = 1

    assert mine == await store.lease_holder("orders:shop")
    assert 0 == _CommitsThenDies.armed


class _FirstClaimUnanswered:
    """*store* whose first schedule claim commits unanswered."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self.claims = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def claim_schedule(self, *args: Any, **kwargs: Any) -> bool:
        self.claims += 1
        _CommitsThenDies.armed = int(self.claims == 1)
        return await self._store.claim_schedule(*args, **kwargs)


async def test_schedule_claimed_unanswered_runs_at_the_next_poll(
    store: PostgresStore,
    erp: MemoryErp,
    platform: MemoryPlatform,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """serve() whose schedule claim went through unanswered lets that claim
    go and claims the schedule again at the next poll, and it runs (the
    claim, serve()'s own, kept it from running until its lease ended, an
    hour)."""
    wrapped = _FirstClaimUnanswered(store)
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=wrapped,  # type: ignore[arg-type]
        staging=MediaStaging(tmp_path / "staging"),
    )
    await sync.add_schedule(
        SyncSpec(types={DataType.CATEGORIES: All()}),
        every=timedelta(hours=1),
    )
    ended: list[RunFinished] = []

    def seen(event: object) -> None:
        if isinstance(event, RunFinished):
            ended.append(event)

    with anyio.move_on_after(10), caplog.at_level(logging.WARNING):
        await sync.serve(
            poll_interval=0.05, on_event=seen, until=lambda: bool(ended)
        )

    assert any(UNKNOWN in r.getMessage() for r in caplog.records)
    assert [RunStatus.SUCCEEDED] == [e.status for e in ended]
