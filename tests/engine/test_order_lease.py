"""
Order imports of one platform are held apart across processes sharing
the store (the lease "orders:<platform>"): one ERP order per shop order.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import anyio
import attrs
import pytest

from ecomsync import (
    All,
    DataType,
    LocalLicensePool,
    RunLease,
    RunOwner,
    RunRecord,
    RunStatus,
    SqliteStore,
    StateStoreError,
    SyncError,
    Synchronizer,
    SyncSpec,
    _order_lease,
    _ownership,
)
from ecomsync.events import RunFinished, RunStarted
from ecomsync.testing import demo_erp

from .._two_importers import (
    ORDERS,
    ErpClient,
    SharedErp,
    import_at_once,
    importer,
    placed,
)


pytestmark = pytest.mark.anyio

ORDERS_TYPE = DataType.ADDRESSES_AND_ORDERS


@pytest.fixture(autouse=True)
def _quick_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_order_lease, "POLL_INTERVAL", 0.02)


@pytest.fixture(name="store")
async def _store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "state.db")
    yield store
    await store.aclose()


def a_dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def held_by(owner: RunOwner | None, *, beat: datetime) -> RunLease:
    return RunLease(
        name="orders:shop",
        run_id="other-run",
        token=uuid.uuid4().hex,
        owner=owner,
        heartbeat_at=beat,
    )


class TestTwoProcesses:
    async def test_same_orders_at_once_make_one_erp_order_each(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Two synchronisers on two handles of one store file importing
        the same new orders at the same moment make one ERP order per
        shop order; the second waits for the first, then goes on."""
        erp, platform = SharedErp(), placed(3)
        caplog.set_level(logging.INFO, "ecomsync")

        async with (
            SqliteStore(tmp_path / "state.db") as one,
            SqliteStore(tmp_path / "state.db") as two,
            importer(erp, platform, one, tmp_path / "a") as a,
            importer(erp, platform, two, tmp_path / "b") as b,
        ):
            ended = await import_at_once(a, b)
            free = await one.lease_holder("orders:shop")

        assert {1} == set(erp.per_order().values())
        assert 3 == len(erp.per_order())
        assert [RunStatus.SUCCEEDED] * 2 == [r.status for r in ended]
        assert 3 == sum(r.counts[ORDERS_TYPE].created for r in ended)
        assert any("waits for run" in r.getMessage() for r in caplog.records)
        assert free is None

    async def test_other_platforms_import_at_once(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """The lease is per platform: another platform's import does not
        wait for it."""
        sync = importer(SharedErp(), placed(1), store, tmp_path / "a")
        elsewhere = held_by(_ownership.this_owner(), beat=datetime.now(UTC))
        await store.take_lease(
            attrs.evolve(elsewhere, name="orders:elsewhere"), seen=None
        )

        async with sync:
            with anyio.fail_after(10):
                run = await sync.execute(ORDERS)

        assert 1 == run.counts[ORDERS_TYPE].created


class TestHolderGone:
    async def test_killed_holder_is_taken_over(
        self,
        tmp_path: Path,
        store: SqliteStore,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A lease left by a killed process (its pid gone on this host)
        does not block: the run takes it over, says so, and imports."""
        erp = SharedErp()
        sync = importer(erp, placed(2), store, tmp_path / "a")
        dead = RunOwner(
            host=socket.gethostname(),
            pid=a_dead_pid(),
            pid_space=_ownership.pid_space(),
        )
        await store.take_lease(
            held_by(dead, beat=datetime.now(UTC)), seen=None
        )

        async with sync:
            with anyio.fail_after(10):
                run = await sync.execute(ORDERS)

        assert 2 == run.counts[ORDERS_TYPE].created
        assert 2 == len(erp.sales)
        assert any(
            "takes the lease orders:shop over from run other-run" in m
            and "is gone" in m
            for m in caplog.messages
        )
        assert await store.lease_holder("orders:shop") is None

    async def test_stalled_holder_is_taken_over(
        self,
        tmp_path: Path,
        store: SqliteStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A lease whose live holder has not beaten for the stale time
        (a stalled process) is taken over, once the waiter saw its beat
        stand still for two beats."""
        monkeypatch.setattr(_ownership, "STALE_AFTER", timedelta(seconds=1))
        monkeypatch.setattr(_ownership, "HEARTBEAT_INTERVAL", 0.05)
        sync = importer(SharedErp(), placed(1), store, tmp_path / "a")
        old = datetime.now(UTC) - timedelta(seconds=5)
        await store.take_lease(
            held_by(_ownership.this_owner(), beat=old), seen=None
        )

        async with sync:
            with anyio.fail_after(10):
                run = await sync.execute(ORDERS)

        assert 1 == run.counts[ORDERS_TYPE].created

    async def test_live_holder_behind_the_clock_is_not_taken_over(
        self,
        tmp_path: Path,
        store: SqliteStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A live holder whose beats read older than the stale time (a
        wall clock that stepped, or another host's skew) keeps its lease
        while it beats; once it stops beating, the waiter takes over."""
        monkeypatch.setattr(_ownership, "STALE_AFTER", timedelta(seconds=1))
        monkeypatch.setattr(_ownership, "HEARTBEAT_INTERVAL", 0.05)
        erp = SharedErp()
        sync = importer(erp, placed(1), store, tmp_path / "a")
        behind = timedelta(minutes=10)
        lease = held_by(
            RunOwner(host="elsewhere", pid=1), beat=datetime.now(UTC) - behind
        )
        await store.take_lease(lease, seen=None)
        beating = anyio.Event()

        async def beat() -> None:
            while not beating.is_set():
                await anyio.sleep(0.02)
                now = datetime.now(UTC) - behind
                assert await store.renew_lease("orders:shop", lease.token, now)

        async with sync:
            with anyio.fail_after(15):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(beat)
                    tg.start_soon(sync.execute, ORDERS)
                    await anyio.sleep(1.0)
                    waited = (
                        len(erp.sales),
                        await store.lease_holder("orders:shop"),
                    )
                    beating.set()

        assert 0 == waited[0]
        assert waited[1] is not None
        assert lease.token == waited[1].token
        assert 1 == len(erp.sales)

    async def test_holder_beats_while_it_imports(
        self,
        tmp_path: Path,
        store: SqliteStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A run holding the lease beats it, so a slow import is not taken
        for a stalled one."""
        monkeypatch.setattr(_ownership, "HEARTBEAT_INTERVAL", 0.05)
        erp = SharedErp(gap=2.0)
        sync = importer(erp, placed(1), store, tmp_path / "a")
        beats: list[datetime] = []

        async with sync, anyio.create_task_group() as tg:
            tg.start_soon(sync.execute, ORDERS)
            with anyio.fail_after(10):
                while len(beats) < 3:
                    await anyio.sleep(0.05)
                    held = await store.lease_holder("orders:shop")
                    if held is not None and held.heartbeat_at not in beats:
                        beats.append(held.heartbeat_at)

        assert 3 == len(set(beats))
        assert beats == sorted(beats)


class TestLost:
    async def test_run_that_loses_its_lease_fails_saying_why(
        self,
        tmp_path: Path,
        store: SqliteStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A run whose lease another run takes over (it stalled) stops at
        the next record boundary and ends failed, its record and
        RunFinished naming the lease and the run that took it, not
        cancelled without a reason."""
        monkeypatch.setattr(_ownership, "HEARTBEAT_INTERVAL", 0.05)
        erp = SharedErp(gap=0.5)
        sync = importer(erp, placed(3), store, tmp_path / "a")
        taker = held_by(
            RunOwner(host="elsewhere", pid=1), beat=datetime.now(UTC)
        )

        seen: list[object] = []

        async def take_over_while_it_imports() -> None:
            async with sync.run(ORDERS) as events:
                with anyio.fail_after(10):
                    held = None
                    while held is None:
                        await anyio.sleep(0.01)
                        held = await store.lease_holder("orders:shop")
                    assert await store.take_lease(taker, seen=held)
                    seen.extend([e async for e in events])

        async with sync:
            with pytest.raises(StateStoreError, match="lost the lease"):
                await take_over_while_it_imports()
            (record,) = await sync.runs(limit=1)

        finished = seen[-1]
        assert isinstance(finished, RunFinished)
        assert RunStatus.FAILED is finished.status
        error = finished.run.error or ""
        assert "orders:shop" in error
        assert "other-run" in error
        assert record.error == finished.run.error
        assert taker == await store.lease_holder("orders:shop")


class _Unrenewable(SqliteStore):
    """A store that cannot renew a lease (unreachable for the holder)."""

    async def renew_lease(self, name: str, token: str, at: datetime) -> bool:
        raise StateStoreError("the store went away")


class TestUnrenewable:
    async def test_holder_that_cannot_renew_stops_before_it_looks_stale(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A run that cannot renew its lease for half the stale time stops
        importing and fails saying so, before a run of another host could
        take the lease over and import the same orders beside it."""
        monkeypatch.setattr(_ownership, "STALE_AFTER", timedelta(seconds=0.4))
        monkeypatch.setattr(_ownership, "HEARTBEAT_INTERVAL", 0.05)
        store = _Unrenewable(tmp_path / "state.db")
        erp = SharedErp(gap=0.5)
        sync = importer(erp, placed(5), store, tmp_path / "a")

        async with sync:
            with (
                anyio.fail_after(10),
                pytest.raises(StateStoreError, match="could not renew"),
            ):
                await sync.execute(ORDERS)
            (run,) = await sync.runs(limit=1)
        await store.aclose()

        assert RunStatus.FAILED is run.status
        assert "could not renew the lease orders:shop" in (run.error or "")


class _TakeUnanswered(SqliteStore):
    """A store whose next lease take is written but answered with an
    error, as PostgresStore's when a COMMIT's reply is lost."""

    unanswered: ClassVar[list[bool]] = []
    #: Lease reads that fail next (the store still down).
    unreadable: ClassVar[list[bool]] = []

    async def lease_holder(self, name: str) -> RunLease | None:
        if self.unreadable and not self.unanswered:
            self.unreadable.pop()
            raise StateStoreError("the store went away")
        return await super().lease_holder(name)

    async def take_lease(
        self, lease: RunLease, *, seen: RunLease | None
    ) -> bool:
        took = await super().take_lease(lease, seen=seen)
        if self.unanswered:
            self.unanswered.pop()
            raise StateStoreError("the write may or may not be in the store")
        return took


class TestUnanswered:
    async def test_take_written_but_unanswered_imports(
        self, tmp_path: Path
    ) -> None:
        """A lease take whose outcome the store cannot tell is settled by
        reading the lease back: the run holds it, imports, and gives it
        up, instead of failing and leaving its lease to go stale."""
        store = _TakeUnanswered(tmp_path / "state.db")
        _TakeUnanswered.unanswered[:] = [True]
        erp = SharedErp()
        sync = importer(erp, placed(1), store, tmp_path / "a")

        async with sync:
            with anyio.fail_after(10):
                run = await sync.execute(ORDERS)
        left = await store.lease_holder("orders:shop")
        await store.aclose()

        assert 1 == run.counts[ORDERS_TYPE].created
        assert left is None

    async def test_take_unsettled_fails_and_gives_the_lease_up(
        self, tmp_path: Path
    ) -> None:
        """A lease take whose outcome cannot be read back either fails the
        run with the store's error and gives up what it may have taken,
        so the next run does not wait for a lease nobody holds."""
        store = _TakeUnanswered(tmp_path / "state.db")
        _TakeUnanswered.unanswered[:] = [True]
        _TakeUnanswered.unreadable[:] = [True]
        sync = importer(SharedErp(), placed(1), store, tmp_path / "a")

        async with sync:
            with anyio.fail_after(10), pytest.raises(StateStoreError):
                await sync.execute(ORDERS)
        left = await store.lease_holder("orders:shop")
        await store.aclose()

        assert left is None


class TestReleased:
    async def test_failed_import_gives_the_lease_up(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A run whose order import fails gives the lease up: the next run
        imports at once."""
        erp = SharedErp(down=SyncError("ERP went away"))
        sync = importer(erp, placed(1), store, tmp_path / "a")

        async with sync:
            with pytest.raises(SyncError, match="ERP went away"):
                await sync.execute(ORDERS)
            (failed,) = await sync.runs(limit=1)
            freed = await store.lease_holder("orders:shop")
            erp.down = None
            with anyio.fail_after(10):
                again = await sync.execute(ORDERS)

        assert RunStatus.FAILED is failed.status
        assert freed is None
        assert 1 == again.counts[ORDERS_TYPE].created


class TestWaiting:
    async def test_waiting_run_is_cancellable(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A run waiting for a live holder ends cancelled when asked, having
        imported nothing; the holder's lease stays."""
        erp = SharedErp()
        sync = importer(erp, placed(1), store, tmp_path / "a")
        live = held_by(_ownership.this_owner(), beat=datetime.now(UTC))
        await store.take_lease(live, seen=None)

        waiting = anyio.Event()
        handler = _OnMessage("waits for run other-run", waiting)
        logging.getLogger("ecomsync").addHandler(handler)
        try:
            async with sync, sync.run(ORDERS) as events:
                with anyio.fail_after(10):
                    await waiting.wait()
                    events.cancel()
                    async for _ in events:
                        pass
        finally:
            logging.getLogger("ecomsync").removeHandler(handler)

        assert RunStatus.CANCELLED is events.summary.status  # type: ignore[union-attr]
        assert [] == erp.sales
        assert live == await store.lease_holder("orders:shop")


async def _one_licence(
    store: SqliteStore, tmp_path: Path, timeout: float
) -> tuple[LocalLicensePool, SharedErp, Synchronizer, RunLease]:
    """An importer of one order, a pool of one licence taken within
    *timeout*, and the order lease held by a live run of this owner."""
    pool = LocalLicensePool(1)
    erp = SharedErp()
    sync = attrs.evolve(
        importer(erp, placed(1), store, tmp_path / "a"),
        licenses=pool,
        license_timeout=timeout,
    )
    live = held_by(_ownership.this_owner(), beat=datetime.now(UTC))
    await store.take_lease(live, seen=None)
    return pool, erp, sync, live


class TestLicenceWhileWaiting:
    async def test_waiting_run_gives_its_licence_back(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A run waiting for another run's order import holds no ERP
        licence meanwhile: with a pool of one, another run takes it and
        goes through; the waiting run imports once the lease is free."""
        pool, erp, sync, live = await _one_licence(store, tmp_path, 5.0)
        waiting = anyio.Event()
        handler = _OnMessage("waits for run other-run", waiting)
        logging.getLogger("ecomsync").addHandler(handler)
        try:
            async with sync:
                async with anyio.create_task_group() as tg:
                    with anyio.fail_after(20):
                        tg.start_soon(sync.execute, ORDERS)
                        await waiting.wait()
                        held_meanwhile = await pool.holders()
                        other = await sync.execute(
                            SyncSpec(types={DataType.CATEGORIES: All()})
                        )
                        await store.release_lease("orders:shop", live.token)
                ended = await sync.runs(limit=2)
        finally:
            logging.getLogger("ecomsync").removeHandler(handler)

        assert () == held_meanwhile
        assert RunStatus.SUCCEEDED is other.status
        assert [RunStatus.SUCCEEDED] * 2 == [r.status for r in ended]
        assert 1 == len(erp.sales)
        assert () == await pool.holders()

    async def test_licence_timeout_counts_from_the_end_of_the_wait(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A run that waited for the lease longer than its licence
        timeout still gets that whole timeout to take a licence again:
        a licence busy for a moment after the wait does not fail it."""
        pool, erp, sync, live = await _one_licence(store, tmp_path, 2.0)
        ran: list[RunRecord] = []

        async def orders() -> None:
            ran.append(await sync.execute(ORDERS))

        async with sync, anyio.create_task_group() as tg:
            with anyio.fail_after(20):
                tg.start_soon(orders)
                await anyio.sleep(2.5)  # longer than the licence timeout
                async with pool.lease("busy", timeout=0):
                    await store.release_lease("orders:shop", live.token)
                    await anyio.sleep(0.3)

        assert [RunStatus.SUCCEEDED] == [r.status for r in ran]
        assert 1 == len(erp.sales)

    async def test_run_goes_on_where_it_stopped(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A run that gave its licence back at its order import goes on
        there: it starts once, the types before are not moved again, and
        it has no ERP session open while it waits."""
        erp = SharedErp()
        client = _CountingClient(erp, demo_erp(articles=6, categories=3))
        platform = placed(1)
        sync = attrs.evolve(
            importer(erp, platform, store, tmp_path / "a"), erp=client
        )
        spec = SyncSpec(types={DataType.CATEGORIES: All(), ORDERS_TYPE: All()})
        live = held_by(_ownership.this_owner(), beat=datetime.now(UTC))
        await store.take_lease(live, seen=None)
        waiting = anyio.Event()
        handler = _OnMessage("waits for run other-run", waiting)
        logging.getLogger("ecomsync").addHandler(handler)
        seen: list[object] = []

        async def run() -> None:
            async with sync.run(spec) as events:
                seen.extend([e async for e in events])

        try:
            async with sync, anyio.create_task_group() as tg:
                with anyio.fail_after(20):
                    tg.start_soon(run)
                    await waiting.wait()
                    open_meanwhile = client.open
                    await store.release_lease("orders:shop", live.token)
        finally:
            logging.getLogger("ecomsync").removeHandler(handler)
        finished = seen[-1]

        assert 0 == open_meanwhile
        assert 2 == client.opened
        assert 1 == sum(isinstance(e, RunStarted) for e in seen)
        assert isinstance(finished, RunFinished)
        assert RunStatus.SUCCEEDED is finished.status
        categories = finished.counts[DataType.CATEGORIES]
        assert (3, 0) == (categories.created, categories.unchanged)
        assert 1 == finished.counts[ORDERS_TYPE].created
        assert 1 == len(erp.sales)


@attrs.define
class _CountingClient(ErpClient):
    """An ErpClient that counts the sessions open and ever opened."""

    open: int = 0
    opened: int = 0

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        async with ErpClient.session(self) as session:
            self.open += 1
            self.opened += 1
            try:
                yield session
            finally:
                self.open -= 1


class _OnMessage(logging.Handler):
    """
    Sets *event* when a record with *text* in its message is logged.
    """

    def __init__(self, text: str, event: anyio.Event) -> None:
        super().__init__()
        self.text, self.event = text, event

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()
