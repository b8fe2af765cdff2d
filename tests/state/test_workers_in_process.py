"""
Partitioned runs worked in this process: two workers finish a run, a lost
licence or partition stops its part, order statuses of one platform, the
licence given back while a partition waits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import anyio
import attrs
import pytest

from ecomsync import (
    Article,
    LocalLicensePool,
    MemoryErp,
    MemoryPlatform,
    OrderState,
    OrderStatus,
    RunLease,
    RunRecord,
    RunStarted,
    RunStatus,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync._ownership import this_owner
from ecomsync._partition import submit_partitioned
from ecomsync._spec import All, ChangedSince, DataType
from ecomsync.events import Event, RunFinished
from ecomsync.licensing import PostgresLicensePool
from ecomsync.state._board import board_for
from ecomsync.state._postgres import PostgresStore
from ecomsync.telemetry import NoInstrumentation
from ecomsync.testing import capture_events, shop_orders

from . import _pg_shop
from ._workers import (
    T0,
    _store,
    _workers,
    scalar,
    submit,
    wait_for,
)


pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

#: The fixtures "store" and "workers".
__all__ = ["_store", "_workers"]


class TestWorkInProcess:
    async def test_two_workers_finish_a_run(
        self, store: PostgresStore
    ) -> None:
        """Two workers in one process share the partitions of a run and
        finish it; each record is written once."""
        from ecomsync._worker import work

        run_id = await submit(store)
        closed: list[int] = []

        async def one() -> None:
            sync = _pg_shop.make_sync(
                store=store, licenses=PostgresLicensePool(store.dsn, size=2)
            )
            try:
                closed.append(
                    await work(
                        sync,
                        heartbeat=0.2,
                        stale_after=2,
                        poll_interval=0.05,
                        exit_when_idle=True,
                    )
                )
            finally:
                await sync.platforms["shop"].aclose()

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(one)
                tg.start_soon(one)
        assert sum(closed) == 10
        run = await store.get_run(run_id)
        assert run is not None
        assert run.status is RunStatus.SUCCEEDED
        assert run.counts[DataType.ARTICLES].created == 200
        assert scalar(store.dsn, "SELECT count(*) FROM shop_writes") == 200
        assert [r.id for r in await store.list_runs()] == [run_id]

    async def test_lost_licence_hands_the_partition_back(
        self, store: PostgresStore
    ) -> None:
        """A worker whose licence is lost mid-partition (its connection
        cut, another process taking the licence) stops that partition,
        hands it back, waits for a licence and finishes the run."""
        from ecomsync._worker import work

        run_id = await submit(store, size=200)
        sync = _pg_shop.make_sync(
            store=store, licenses=PostgresLicensePool(store.dsn, size=2)
        )
        thief = PostgresLicensePool(store.dsn, size=2)

        async def steal() -> None:
            await wait_for(
                lambda: (
                    scalar(store.dsn, "SELECT count(*) FROM shop_writes") >= 20
                ),
                30,
                "writes",
            )
            # the free licence first, then the worker's once it is cut
            async with thief.lease("thief-1", timeout=5):
                scalar(
                    store.dsn,
                    "SELECT count(pg_terminate_backend(pid)) "
                    "FROM pg_stat_activity WHERE application_name = "
                    "'ecomsync-licence:default' AND pid <> ("
                    "SELECT backend_pid FROM ecomsync.licence_holders "
                    "WHERE holder = 'thief-1')",
                )
                async with thief.lease("thief-2", timeout=5):
                    await anyio.sleep(1.5)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(steal)
                closed = await work(
                    sync,
                    heartbeat=0.2,
                    stale_after=2,
                    poll_interval=0.05,
                    exit_when_idle=True,
                )
        await sync.platforms["shop"].aclose()

        run = await store.get_run(run_id)
        assert run is not None
        assert RunStatus.SUCCEEDED == run.status
        assert 1 == closed
        assert 200 == scalar(
            store.dsn, "SELECT count(DISTINCT number) FROM shop_writes"
        )

    async def test_lost_partition_stops_its_run(
        self, store: PostgresStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A worker whose partition is taken over stops its run and does
        not close the partition; its run's end and its log say the claim
        went to the other worker (they said "asked through the state
        store", as if an operator had cancelled the run)."""
        from ecomsync._worker import work

        await submit(store, size=200)
        ended: list[RunRecord] = []

        class Ends(NoInstrumentation):
            def event(self, event: Event) -> None:
                if isinstance(event, RunFinished):
                    ended.append(event.run)

        sync = attrs.evolve(
            _pg_shop.make_sync(
                store=store, licenses=PostgresLicensePool(store.dsn, size=2)
            ),
            instrumentation=Ends(),
        )

        async def steal() -> None:
            await wait_for(
                lambda: (
                    scalar(store.dsn, "SELECT count(*) FROM shop_writes") >= 20
                ),
                30,
                "writes",
            )
            await store.transact(
                lambda conn: conn.execute(
                    "UPDATE ecomsync.partitions SET worker = 'thief', "
                    "token = nextval('ecomsync.fencing_tokens')"
                )
            )

        closed: list[int] = []
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(steal)
                # The thief never finishes: the worker keeps polling.
                with anyio.move_on_after(5):
                    closed.append(
                        await work(
                            sync,
                            heartbeat=0.1,
                            stale_after=30,
                            poll_interval=0.05,
                            exit_when_idle=True,
                        )
                    )
        await sync.platforms["shop"].aclose()
        assert closed == []
        (end,) = ended
        assert end.error is not None
        assert "state store" not in end.error
        assert "claim was lost: taken over by worker 'thief'" in end.error
        assert any(
            "taken over by worker 'thief'" in r.getMessage()
            for r in caplog.records
            if r.name == "ecomsync.worker"
        )
        assert scalar(store.dsn, "SELECT count(*) FROM shop_writes") < 200
        assert (
            scalar(
                store.dsn,
                "SELECT count(*) FROM ecomsync.partitions "
                "WHERE worker = 'thief' AND state = 'todo'",
            )
            == 1
        )


class TestOrderStatusOfOnePlatform:
    async def test_other_platforms_orders_fail_nothing(
        self, store: PostgresStore
    ) -> None:
        """A partitioned order-status run of changed orders pushes this
        platform's "1001" and fails nothing: another platform's "1002" is
        not cut into a partition, whose run failed it as unknown."""
        from ecomsync._worker import work

        erp = MemoryErp()
        erp.add(
            OrderStatus(
                number="1001", state=OrderState.SHIPPED, platform="shop"
            )
        )
        erp.add(
            OrderStatus(number="1002", state=OrderState.SHIPPED, platform="b")
        )
        platform = MemoryPlatform()
        (order,) = shop_orders(1, articles=2)
        for number in ("1001", "1002"):
            platform.place_order(attrs.evolve(order, number=number))
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            licenses=PostgresLicensePool(store.dsn, size=2),
        )
        spec = SyncSpec(types={DataType.ORDER_STATUS: ChangedSince(T0)})
        run_id = await submit_partitioned(sync, spec, partition_size=1)

        with anyio.fail_after(30):
            closed = await work(
                sync, heartbeat=0.2, poll_interval=0.05, exit_when_idle=True
            )

        run = await store.get_run(run_id)
        assert run is not None
        counts = run.counts[DataType.ORDER_STATUS]
        assert (1, 0) == (counts.created, counts.failed)
        assert 1 == closed
        assert ["1001"] == list(platform.held(DataType.ORDER_STATUS))


async def _order_run_behind_a_lease(
    store: PostgresStore, license_timeout: float
) -> tuple[Synchronizer, LocalLicensePool, str]:
    """
    A partitioned import of one shop order, submitted, with a pool of one
    licence, while another run holds the shop's order lease: the
    synchroniser, its pool and the run's id.
    """
    platform = MemoryPlatform()
    (order,) = shop_orders(1, articles=2)
    platform.place_order(order)
    pool = LocalLicensePool(1)
    sync = Synchronizer(
        erp=MemoryErp(),
        platforms={"shop": platform},
        store=store,
        licenses=pool,
        license_timeout=license_timeout,
    )
    spec = SyncSpec(types={DataType.ADDRESSES_AND_ORDERS: All()})
    run_id = await submit_partitioned(sync, spec)
    live = RunLease(
        name="orders:shop",
        run_id="other-run",
        token="t",
        owner=this_owner(),
        heartbeat_at=datetime.now(UTC),
    )
    await store.take_lease(live, seen=None)
    return sync, pool, run_id


async def _partition_waiting(store: PostgresStore) -> None:
    """Return once a worker claimed the partition and waits for the lease."""
    await wait_for(
        lambda: scalar(
            store.dsn,
            "SELECT count(*) FROM ecomsync.partitions "
            "WHERE worker IS NOT NULL",
        ),
        10,
        "the claim",
    )
    await anyio.sleep(0.5)  # the partition waits for the lease


class TestLicenceWhileWaiting:
    async def test_waiting_partition_gives_the_licence_back(
        self, store: PostgresStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A partition whose order import waits for another run's lease
        gives its worker's licence back meanwhile, as an ordinary run does
        (it kept it: with a pool of one, every other run failed with
        NoFreeLicense for the whole of the other import), and takes one
        again to import once the lease is free."""
        from ecomsync import _order_lease
        from ecomsync._worker import work

        monkeypatch.setattr(_order_lease, "POLL_INTERVAL", 0.02)
        sync, pool, run_id = await _order_run_behind_a_lease(store, 5)
        meanwhile: list[tuple[str, ...]] = []

        async def other_run() -> None:
            await _partition_waiting(store)
            async with pool.lease("other", timeout=2):
                meanwhile.append(await pool.holders())
            await store.release_lease("orders:shop", "t")

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(other_run)
                closed = await work(
                    sync,
                    heartbeat=0.2,
                    poll_interval=0.05,
                    exit_when_idle=True,
                )

        run = await store.get_run(run_id)
        assert [("other",)] == meanwhile
        assert run is not None
        assert RunStatus.SUCCEEDED is run.status, run.error
        # Imported after the wait (it fails: the ERP has no articles).
        counts = run.counts[DataType.ADDRESSES_AND_ORDERS]
        assert 1 == counts.created + counts.failed
        assert 1 == closed
        assert () == await pool.holders()

    async def test_no_licence_after_the_wait_hands_the_partition_back(
        self, store: PostgresStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A partition that gave its licence back to wait and finds none
        free within its licence timeout afterwards is handed back to the
        board and run again, not closed as failed (the whole run failed
        with NoFreeLicense)."""
        from ecomsync import _order_lease
        from ecomsync._worker import work

        monkeypatch.setattr(_order_lease, "POLL_INTERVAL", 0.02)
        sync, pool, run_id = await _order_run_behind_a_lease(store, 0.5)

        async def other_run() -> None:
            await _partition_waiting(store)
            async with pool.lease("other", timeout=2):
                await store.release_lease("orders:shop", "t")
                await anyio.sleep(1.5)  # past the partition's timeout

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(other_run)
                closed = await work(
                    sync,
                    heartbeat=0.2,
                    poll_interval=0.05,
                    exit_when_idle=True,
                )

        run = await store.get_run(run_id)
        assert run is not None
        assert RunStatus.SUCCEEDED is run.status, run.error
        counts = run.counts[DataType.ADDRESSES_AND_ORDERS]
        assert 1 == counts.created + counts.failed
        assert 1 == closed


#: The mapping before the partitioned run (`_Laid`).
OLD = '{"WH1":"Old"}'


@attrs.define(repr=False)
class _Laid(MemoryPlatform):
    """
    A platform whose settings decide where stock goes
    (`~ecomsync.typing.SupportsStockLayout`); *broken*: the stock of
    that number fails its run.
    """

    layout: str = '{"WH1":"New"}'
    broken: str | None = None

    def stock_layout(self) -> str:
        return self.layout

    async def push(self, data_type: DataType, items: Any) -> Any:
        if data_type is DataType.STOCK and any(
            i.record.number == self.broken for i in items
        ):
            raise RuntimeError("shop down")
        return await super().push(data_type, items)


class TestStockLayoutOfAPartitionedRun:
    """
    After the mapping changed, a partitioned run of all stock keeps the
    platform's stock layout once every stock partition went through
    under it, as an unpartitioned one does: the next scheduled run reads
    only changes.
    """

    async def _worked(
        self,
        store: PostgresStore,
        shop: _Laid,
        broken: str | None = None,
        *,
        submit_only: bool = False,
    ) -> tuple[Synchronizer, str]:
        from ecomsync._worker import work

        sync = Synchronizer(
            erp=MemoryErp(
                [
                    record
                    for n in ("A-1", "B-1", "C-1")
                    for record in (
                        Article(number=n, name=n, price=1),
                        StockLevel(number=n, quantity=3, warehouse="WH1"),
                    )
                ]
            ),
            platforms={"shop": shop},
            store=store,
            licenses=PostgresLicensePool(store.dsn, size=2),
        )
        await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
        # The first scheduled run, under the old mapping, keeps it.
        layout, shop.layout = shop.layout, OLD
        await self._scheduled(sync)
        shop.layout, shop.broken = layout, broken
        spec = SyncSpec(types={DataType.STOCK: All()})
        run_id = await submit_partitioned(sync, spec, partition_size=1)
        if submit_only:
            return sync, run_id
        with anyio.fail_after(30):
            await work(
                sync, heartbeat=0.2, poll_interval=0.05, exit_when_idle=True
            )
        return sync, run_id

    async def _scheduled(self, sync: Synchronizer) -> Mapping[DataType, str]:
        spec = SyncSpec(types={DataType.STOCK: All()})
        async with capture_events(
            sync, spec, trigger=Trigger.SCHEDULED
        ) as run:
            pass
        (started,) = run.of(RunStarted)
        return started.widened

    async def test_every_partition_through_keeps_the_layout(
        self, store: PostgresStore
    ) -> None:
        """Three stock partitions went through under the new mapping: it
        is kept, and the scheduled run after reads only changes."""
        shop = _Laid()
        sync, run_id = await self._worked(store, shop)

        kept = await store.get_stock_layout("shop")
        widened = await self._scheduled(sync)

        run = await store.get_run(run_id)
        assert run is not None
        assert RunStatus.SUCCEEDED is run.status
        assert 3 == run.counts[DataType.STOCK].updated
        assert shop.layout == kept
        assert {} == widened

    async def test_a_failed_partition_keeps_none(
        self, store: PostgresStore
    ) -> None:
        """One stock partition failed: the old layout stays kept, so the
        next scheduled run reads all stock once more."""
        shop = _Laid()
        sync, run_id = await self._worked(store, shop, broken="B-1")
        shop.broken = None

        kept = await store.get_stock_layout("shop")
        widened = await self._scheduled(sync)

        run = await store.get_run(run_id)
        assert run is not None
        assert RunStatus.FAILED is run.status
        assert OLD == kept
        assert DataType.STOCK in widened

    async def test_partitions_under_two_layouts_keep_none(
        self, store: PostgresStore
    ) -> None:
        """The stock partitions went through under two mappings (workers
        with other settings): neither is kept, the next scheduled run
        reads all stock once more."""
        shop = _Laid()
        sync, run_id = await self._worked(store, shop, submit_only=True)
        board = board_for(store)

        for worker, layout in (("w1", shop.layout), ("w2", "other")) * 2:
            claim = await board.claim(worker, stale_after=30)
            if claim is None:
                break
            record = RunRecord(
                id=claim.sub_run_id,
                trigger=Trigger.MANUAL,
                platform="shop",
                spec=claim.spec,
                status=RunStatus.SUCCEEDED,
                started_at=T0,
                ended_at=T0,
            )
            await board.finish(claim, record, None, stock_layout=layout)
        kept = await store.get_stock_layout("shop")
        widened = await self._scheduled(sync)

        run = await store.get_run(run_id)
        assert run is not None
        assert RunStatus.SUCCEEDED is run.status
        assert OLD == kept
        assert DataType.STOCK in widened
