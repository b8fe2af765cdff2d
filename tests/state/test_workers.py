"""
Partitioned runs: claimed exactly once, heartbeats, fencing, workers in
processes that die, cancellation from the monitoring view.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import anyio
import attrs
import httpx
import psycopg
import pytest

from ecomsync import (
    Article,
    Link,
    LocalLicensePool,
    MemoryErp,
    MemoryPlatform,
    OrderState,
    OrderStatus,
    RunLease,
    RunRecord,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync._ownership import this_owner
from ecomsync._partition import submit_partitioned
from ecomsync._spec import All, ChangedSince, DataType, NumberRange, Only
from ecomsync.events import Event, RunFinished
from ecomsync.exceptions import ConfigurationError, SpecError
from ecomsync.licensing import PostgresLicensePool
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.state._board import PartitionLost
from ecomsync.state._pg_partitions import (
    PostgresPartitionBoard as PartitionBoard,
)
from ecomsync.state._postgres import PostgresStore
from ecomsync.telemetry import NoInstrumentation
from ecomsync.testing import shop_orders
from ecomsync.testing.woocommerce import WooCommerceEmulator

from . import _pg_shop


T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
SPEC = SyncSpec(types={DataType.ARTICLES: All()})
TWINS = ["9", "A-01", "A-01 ", "B-01"]


@pytest.fixture(name="store")
async def _store(postgres_dsn: str) -> AsyncIterator[PostgresStore]:
    _pg_shop.create_tables(postgres_dsn)
    store = PostgresStore(postgres_dsn)
    yield store
    await store.aclose()


@pytest.fixture(name="workers")
def _workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def worker(
    dsn: str, logs: Path, *, stall: bool = False, idle_exit: bool = True
) -> subprocess.Popen[str]:
    env = dict(os.environ, ECOMSYNC_TEST_STALL="1" if stall else "0")
    args = [
        sys.executable,
        "-m",
        "ecomsync._worker",
        "--store",
        dsn,
        "--app",
        "tests.state._pg_shop:make_sync",
        "--licences",
        "2",
        "--heartbeat",
        "0.3",
        "--stale-after",
        "1.5",
        "--poll-interval",
        "0.1",
    ]
    if idle_exit:
        args.append("--exit-when-idle")
    logs.mkdir(exist_ok=True)
    with (logs / f"worker-{time.monotonic_ns()}.log").open("w") as sink:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, text=True, stderr=sink
        )


async def exited(proc: subprocess.Popen[str], logs: Path) -> None:
    code = await anyio.to_thread.run_sync(proc.wait, 60)
    if code != 0:
        text = "\n".join(p.read_text() for p in sorted(logs.iterdir()))
        pytest.fail(f"worker exited with {code}:\n{text[-5000:]}")


def scalar(dsn: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0] or 0)


async def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await anyio.sleep(0.05)


async def submit(store: PostgresStore, size: int = 20) -> str:
    sync = _pg_shop.make_sync(
        store=store, licenses=PostgresLicensePool(store.dsn, size=2)
    )
    return await submit_partitioned(sync, SPEC, partition_size=size)


def _holds(selection: object, number: str) -> bool:
    if isinstance(selection, Only):
        return number in selection.numbers
    assert isinstance(selection, NumberRange)
    return number in selection


class TestBoard:
    async def test_submit(self, store: PostgresStore) -> None:
        """A run is cut into number ranges and queued in the monitoring
        view."""
        run_id = await submit(store, size=30)
        run = await store.get_run(run_id)
        assert run is not None
        assert run.status is RunStatus.QUEUED
        board = PartitionBoard(store)
        claims = []
        while (claim := await board.claim("w", stale_after=60)) is not None:
            claims.append(claim)
        assert len(claims) == 7
        assert claims[0].spec.types[DataType.ARTICLES] == NumberRange(
            "A-1", "A-30"
        )
        assert claims[-1].spec.types[DataType.ARTICLES] == NumberRange(
            "A-181", "A-200"
        )

    async def test_only_selection(self, store: PostgresStore) -> None:
        """A selection of numbers is cut into smaller selections."""
        sync = _pg_shop.make_sync(
            store=store, licenses=PostgresLicensePool(store.dsn, size=2)
        )
        spec = SyncSpec(types={DataType.ARTICLES: Only({"A-5", "A-7", "A-9"})})
        await submit_partitioned(sync, spec, partition_size=2)
        board = PartitionBoard(store)
        first = await board.claim("w", stale_after=60)
        second = await board.claim("w", stale_after=60)
        assert first is not None
        assert second is not None
        assert first.spec.types[DataType.ARTICLES] == Only({"A-5", "A-7"})
        assert second.spec.types[DataType.ARTICLES] == Only({"A-9"})

    async def test_only_unknown_number_has_a_partition(
        self, store: PostgresStore
    ) -> None:
        """A number of the selection the ERP does not know goes to a
        partition too, whose run fails it naming it, instead of being
        dropped unseen when the selection is cut."""
        sync = _pg_shop.make_sync(
            store=store, licenses=PostgresLicensePool(store.dsn, size=2)
        )
        spec = SyncSpec(
            types={DataType.ARTICLES: Only({"A-5", "NOPE-1", "A-7", "A-9"})}
        )
        await submit_partitioned(sync, spec, partition_size=2)
        board = PartitionBoard(store)
        first = await board.claim("w", stale_after=60)
        second = await board.claim("w", stale_after=60)
        assert first is not None
        assert second is not None
        assert first.spec.types[DataType.ARTICLES] == Only({"A-5", "A-7"})
        assert second.spec.types[DataType.ARTICLES] == Only({"A-9", "NOPE-1"})

    async def test_equal_numbers_share_a_partition(
        self, store: PostgresStore
    ) -> None:
        """Numbers natural order holds equal ("0010" and "10") are never
        cut apart: a range ending at one holds the other, so both
        partitions would write both."""
        numbers = ["9", "0010", "10", "010", "11", "A-01", "A-1"]
        sync = Synchronizer(
            erp=MemoryErp(
                [
                    Article(number=n, name=n, price=Decimal("1"))
                    for n in numbers
                ]
            ),
            platforms={"shop": MemoryPlatform()},
            store=store,
        )
        await submit_partitioned(sync, SPEC, partition_size=1)
        board = PartitionBoard(store)
        selections = []
        while (claim := await board.claim("w", stale_after=60)) is not None:
            selections.append(claim.spec.types[DataType.ARTICLES])
        assert len(selections) == 4
        for number in numbers:
            assert sum(number in s for s in selections) == 1, number

    @pytest.mark.parametrize(
        ("numbers", "together", "partitions"),
        [
            (TWINS, ["A-01", "A-01 "], 3),
            # "A-1" sorts between the twins (natural order holds it equal
            # to "A-01"): the twins are no neighbours.
            (
                ["9", "A-01", "A-1", "A-01 ", "B-01"],
                ["A-01", "A-1", "A-01 "],
                3,
            ),
            # Case twins: far apart in number order, partitions between.
            (["9", "A-01", "B-01", "C-01", "a-01"], ["A-01", "a-01"], 4),
            # The far twin takes "a-1" along: a range of it holds "a-01".
            (
                ["9", "A-01", "B-01", "a-01", "a-1", "b"],
                ["A-01", "a-01", "a-1"],
                4,
            ),
        ],
    )
    @pytest.mark.parametrize("selection", [All(), Only])
    async def test_twins_share_a_partition(
        self,
        store: PostgresStore,
        selection: All | type[Only],
        numbers: list[str],
        together: list[str],
        partitions: int,
    ) -> None:
        """Numbers the shop takes for one ("A-01", "A-01 " and "a-01": one
        SKU to WooCommerce) are never cut apart, wherever number order
        puts them: partitions running side by side would each send one,
        and the second would overwrite the first's product instead of
        both failing.  Every number is in exactly one partition."""
        if selection is Only:
            selection = Only(numbers)
        emu = WooCommerceEmulator("ck_p", "cs_p")
        platform = WooCommerce(
            "https://shop.test",
            "ck_p",
            "cs_p",
            transport=httpx.ASGITransport(app=emu.app),
        )
        sync = Synchronizer(
            erp=MemoryErp(
                [
                    Article(number=n, name=n, price=Decimal("1"))
                    for n in numbers
                ]
            ),
            platforms={"shop": platform},
            store=store,
        )
        spec = SyncSpec(types={DataType.ARTICLES: selection})
        await submit_partitioned(sync, spec, partition_size=1)
        await platform.aclose()
        board = PartitionBoard(store)
        selections = []
        while (claim := await board.claim("w", stale_after=60)) is not None:
            selections.append(claim.spec.types[DataType.ARTICLES])
        for number in numbers:
            assert sum(_holds(s, number) for s in selections) == 1, number
        held = [s for s in selections if _holds(s, "A-01")]
        assert all(_holds(held[0], n) for n in together)
        assert len(selections) == partitions

    async def test_claimed_exactly_once(self, store: PostgresStore) -> None:
        """Many workers claiming at once get every partition exactly
        once."""
        await submit(store, size=5)
        stores = [PostgresStore(store.dsn) for _ in range(8)]
        got: list[int] = []

        async def claimer(handle: PostgresStore, name: str) -> None:
            board = PartitionBoard(handle)
            while (
                claim := await board.claim(name, stale_after=60)
            ) is not None:
                got.append(claim.index)

        async with anyio.create_task_group() as tg:
            for i, handle in enumerate(stores):
                tg.start_soon(claimer, handle, f"w{i}")
        assert sorted(got) == list(range(40))
        for handle in stores:
            await handle.aclose()

    async def test_stale_partition_reclaimed_and_fenced(
        self, store: PostgresStore
    ) -> None:
        """A partition whose heartbeat went stale is claimed again with a
        new token; the old holder's writes, heartbeat and close are
        rejected."""
        await submit(store)
        board = PartitionBoard(store)
        old = await board.claim("old", stale_after=60)
        assert old is not None
        assert await board.heartbeat(old)
        assert await board.claim("new", stale_after=60) is not old
        await store.transact(
            lambda conn: conn.execute(
                "UPDATE ecomsync.partitions SET heartbeat = "
                "now() - interval '1 hour' WHERE idx = 0"
            )
        )
        new = await board.claim("new", stale_after=60)
        assert new is not None
        assert new.index == old.index
        assert new.token > old.token
        fenced = PostgresStore(store.dsn, fence=board.fence(old))
        with pytest.raises(PartitionLost, match="no longer held by old"):
            await fenced.put_links(
                "shop", DataType.ARTICLES, {"A-1": Link("x", "y")}
            )
        assert await store.get_links("shop", DataType.ARTICLES, ["A-1"]) == {}
        assert await board.heartbeat(old) is False
        with pytest.raises(PartitionLost):
            await board.finish(old, None, None)
        mine = PostgresStore(store.dsn, fence=board.fence(new))
        await mine.put_links(
            "shop", DataType.ARTICLES, {"A-1": Link("x", "y")}
        )
        await fenced.aclose()
        await mine.aclose()

    async def test_poison_partition_fails(self, store: PostgresStore) -> None:
        """A partition whose workers keep dying is closed as failed, and
        so is its run once the rest is done."""
        run_id = await submit(store, size=200)
        board = PartitionBoard(store)
        assert await board.claim("w", stale_after=60) is not None
        await store.transact(
            lambda conn: conn.execute(
                "UPDATE ecomsync.partitions SET attempts = 5, "
                "heartbeat = now() - interval '1 hour'"
            )
        )
        await board.sweep(stale_after=60, max_attempts=5)
        run = await store.get_run(run_id)
        assert run is not None
        assert run.status is RunStatus.FAILED
        assert run.error is not None
        assert "died 5 times" in run.error
        assert await board.has_work() is False

    async def test_cancel_unclaimed(self, store: PostgresStore) -> None:
        """A run cancelled before any worker took a partition ends as
        cancelled at the next sweep, saying who asked (its error was
        None: the parent's record named no one)."""
        run_id = await submit(store)
        await store.request_cancel(run_id, "ecomsync cancel by ops@erp")
        board = PartitionBoard(store)
        assert await board.has_work() is False
        assert await board.claim("w", stale_after=60) is None
        await board.sweep(stale_after=60, max_attempts=5)
        run = await store.get_run(run_id)
        assert run is not None
        assert run.status is RunStatus.CANCELLED
        assert (
            "asked through the state store: ecomsync cancel by ops@erp"
            == run.error
        )

    async def test_cancel_ends_a_queued_run_at_once(
        self, store: PostgresStore
    ) -> None:
        """A partitioned run no worker has started yet ends cancelled at
        once when cancelled, as a queued run does (it stayed "queued"
        until some worker's sweep: for ever with no worker running); one
        partition a worker holds is left to that worker."""
        run_id = await submit(store, size=50)
        claim = await PartitionBoard(store).claim("w", stale_after=60)
        assert claim is not None
        other = await submit(store, size=200)

        await store.request_cancel(other, "ops")
        await store.request_cancel(run_id, "ops")

        ended = await store.get_run(other)
        assert ended is not None
        assert (RunStatus.CANCELLED, "asked through the state store: ops") == (
            ended.status,
            ended.error,
        )
        going = await store.get_run(run_id)
        assert going is not None
        assert going.status is RunStatus.QUEUED
        assert 1 == scalar(
            store.dsn,
            "SELECT count(*) FROM ecomsync.partitions "
            f"WHERE run_id = '{run_id}' AND state = 'todo'",
        )

    async def test_not_resumed(self, store: PostgresStore) -> None:
        """A partitioned run is its workers' to run: resume refuses it,
        naming them, and touches nothing.  It ran the whole spec in this
        process beside the workers, and its queued save cleared a cancel
        request the workers were to stop on."""
        run_id = await submit(store)
        # A worker holds a partition: the cancelled run is still going.
        assert await PartitionBoard(store).claim("w", stale_after=60)
        await store.request_cancel(run_id)
        sync = _pg_shop.make_sync(
            store=store, licenses=PostgresLicensePool(store.dsn, size=2)
        )

        with pytest.raises(SpecError, match="partitioned run; its workers"):
            async with sync.resume(run_id):
                pass  # pragma: no cover

        assert await store.cancel_requested(run_id) is True
        run = await store.get_run(run_id)
        assert run is not None
        assert RunStatus.QUEUED == run.status


class TestPartitionStore:
    async def test_view_of_a_claim(self, store: PostgresStore) -> None:
        """The partition's run record goes to its partition, its cancel
        and cancel flag to the parent run, its beat to its claim; other
        runs pass through to the store."""
        run_id = await submit(store, size=50)
        board = PartitionBoard(store)
        claim = await board.claim("w", stale_after=60)
        assert claim is not None
        view = board.view(claim)
        other = RunRecord(
            id="other",
            trigger=Trigger.MANUAL,
            platform="shop",
            spec=claim.spec,
            status=RunStatus.RUNNING,
            started_at=T0,
        )

        await view.save_run(other)
        await view.save_run(attrs.evolve(other, id=claim.sub_run_id))
        beats = (
            await view.beat(claim.sub_run_id, T0),
            await view.beat("other", T0),
        )
        await view.request_cancel(claim.sub_run_id)
        flags = (
            await view.cancel_requested(claim.sub_run_id),
            await view.cancel_requested("other"),
        )
        view.lost = True
        lost_beat = await view.beat(claim.sub_run_id, T0)
        await view.aclose()

        assert attrs.evolve(other, heartbeat_at=T0) == await store.get_run(
            "other"
        )
        assert await store.get_run(claim.sub_run_id) is None
        assert (True, True) == beats
        assert await store.cancel_requested(run_id)
        assert (True, False) == flags
        assert lost_beat is False
        assert claim.sub_run_id in repr(view)
        assert [] == await store.list_failures("shop")

    async def test_needs_postgres(self, tmp_path: Path) -> None:
        """Partitioned runs on a store that cannot hold partitions are
        refused, naming the store."""
        sync = Synchronizer(
            erp=MemoryErp([]),
            platforms={"shop": MemoryPlatform()},
            store=SqliteStore(tmp_path / "s.db"),
        )

        with pytest.raises(ConfigurationError, match="not SqliteStore"):
            await submit_partitioned(
                sync, SyncSpec(types={DataType.STOCK: All()})
            )


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


class TestWorkers:
    @pytest.mark.slow
    async def test_worker_killed_mid_run(
        self,
        store: PostgresStore,
        workers: list[subprocess.Popen[str]],
        tmp_path: Path,
    ) -> None:
        """Three workers, two licences, one killed with SIGKILL mid-run:
        the run completes, every record is written exactly once, and at
        no instant are more than two ERP sessions open."""
        dsn = store.dsn
        run_id = await submit(store)
        victim = worker(dsn, tmp_path, stall=True)
        workers.append(victim)
        await wait_for(
            lambda: scalar(dsn, "SELECT count(*) FROM stalls") == 1,
            30,
            "the victim to stall in its partition",
        )
        workers.append(worker(dsn, tmp_path))
        workers.append(worker(dsn, tmp_path))
        await wait_for(
            lambda: scalar(dsn, "SELECT count(*) FROM shop_writes") >= 40,
            30,
            "the other workers to write",
        )
        os.kill(victim.pid, signal.SIGKILL)
        for proc in workers[1:]:
            await exited(proc, tmp_path)
        run = await store.get_run(run_id)
        assert run is not None
        assert run.status is RunStatus.SUCCEEDED, run
        counts = run.counts[DataType.ARTICLES]
        # What the victim wrote before it died counts as unchanged when
        # its partition is redone.
        assert counts.done == _pg_shop.ARTICLES
        assert counts.failed == 0
        assert counts.created >= _pg_shop.ARTICLES - 20
        assert scalar(dsn, "SELECT count(*) FROM shop_articles") == 200
        assert scalar(dsn, "SELECT count(*) FROM shop_writes") == 200
        assert scalar(dsn, "SELECT max(writes) FROM shop_articles") == 1
        assert scalar(dsn, "SELECT max(n) FROM erp_seen") <= 2
        assert (
            scalar(
                dsn,
                "SELECT count(*) FROM ecomsync.partitions "
                "WHERE state <> 'done'",
            )
            == 0
        )
        # The victim's partition was run a second time, by another worker.
        assert (
            scalar(dsn, "SELECT max(attempts) FROM ecomsync.partitions") == 2
        )
        links = await store.get_links(
            "shop",
            DataType.ARTICLES,
            [f"A-{i}" for i in range(1, 201)],
        )
        assert len(links) == 200

    @pytest.mark.slow
    async def test_worker_killed_anywhere(
        self,
        store: PostgresStore,
        workers: list[subprocess.Popen[str]],
        tmp_path: Path,
    ) -> None:
        """A worker killed at an arbitrary moment (maybe between a write
        to the shop and its commit): the run completes, every record is
        in the shop once, and at most the batches in flight were sent
        twice."""
        dsn = store.dsn
        run_id = await submit(store)
        victim = worker(dsn, tmp_path)
        workers.append(victim)
        await wait_for(
            lambda: (
                scalar(
                    dsn,
                    "SELECT count(*) FROM shop_writes "
                    f"WHERE pid = {victim.pid}",
                )
                >= 5
            ),
            30,
            "the victim to write",
        )
        workers.append(worker(dsn, tmp_path))
        workers.append(worker(dsn, tmp_path))
        await wait_for(
            lambda: (
                scalar(dsn, "SELECT count(*) FROM shop_writes") >= 60
                and scalar(
                    dsn,
                    "SELECT count(*) FROM ecomsync.partitions WHERE "
                    f"state = 'todo' AND worker LIKE '%:{victim.pid}:%'",
                )
                == 1
            ),
            30,
            "the victim to be inside a partition, the others writing",
        )
        os.kill(victim.pid, signal.SIGKILL)
        for proc in workers[1:]:
            await exited(proc, tmp_path)
        run = await store.get_run(run_id)
        assert run is not None
        assert run.status is RunStatus.SUCCEEDED, run
        assert scalar(dsn, "SELECT count(*) FROM shop_articles") == 200
        assert scalar(dsn, "SELECT max(writes) FROM shop_articles") <= 2
        extra = scalar(dsn, "SELECT count(*) FROM shop_writes") - 200
        # Up to write_concurrency (4) batches of 10 may have been in flight.
        assert 0 <= extra <= 40
        assert scalar(dsn, "SELECT max(n) FROM erp_seen") <= 2

    @pytest.mark.slow
    async def test_sigterm_hands_partition_back(
        self,
        store: PostgresStore,
        workers: list[subprocess.Popen[str]],
        tmp_path: Path,
    ) -> None:
        """A worker stopped with SIGTERM exits cleanly and its partition
        is claimable at once, without waiting for it to go stale."""
        dsn = store.dsn
        await submit(store)
        stopped = worker(dsn, tmp_path, stall=True)
        workers.append(stopped)
        await wait_for(
            lambda: scalar(dsn, "SELECT count(*) FROM stalls") == 1,
            30,
            "the worker to be inside its partition",
        )
        stopped.send_signal(signal.SIGTERM)
        await exited(stopped, tmp_path)
        assert (
            scalar(
                dsn,
                "SELECT count(*) FROM ecomsync.partitions "
                "WHERE worker IS NOT NULL",
            )
            == 0
        )
        board = PartitionBoard(store)
        claim = await board.claim("next", stale_after=3600)
        assert claim is not None
        assert claim.index == 0

    def test_bad_app(self, postgres_dsn: str) -> None:
        """A worker whose --app cannot be loaded says so and exits 2, the
        exit code of every command's configuration errors."""
        from ecomsync._worker import main

        code = main(
            [
                "--store",
                postgres_dsn,
                "--app",
                "no_such_module:make",
                "--licences",
                "1",
            ]
        )
        assert code == 2

    @pytest.mark.slow
    async def test_cancel_stops_all_workers(
        self,
        store: PostgresStore,
        workers: list[subprocess.Popen[str]],
        tmp_path: Path,
    ) -> None:
        """Cancelling the run from the monitoring view stops every worker
        on it; the run ends cancelled."""
        dsn = store.dsn
        run_id = await submit(store, size=10)
        workers.append(worker(dsn, tmp_path))
        workers.append(worker(dsn, tmp_path))
        await wait_for(
            lambda: scalar(dsn, "SELECT count(*) FROM shop_writes") >= 20,
            30,
            "the workers to write",
        )
        sync = _pg_shop.make_sync(
            store=store, licenses=PostgresLicensePool(dsn, size=2)
        )
        await sync.cancel(run_id)
        cancelled = time.monotonic()
        for proc in workers:
            await exited(proc, tmp_path)
        assert time.monotonic() - cancelled < 10
        written = scalar(dsn, "SELECT count(*) FROM shop_writes")
        assert written < 200
        await anyio.sleep(0.5)
        assert scalar(dsn, "SELECT count(*) FROM shop_writes") == written
        run = await store.get_run(run_id)
        assert run is not None
        assert run.status is RunStatus.CANCELLED
        assert run.ended_at is not None
