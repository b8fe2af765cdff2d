"""
Partitioned runs on PostgreSQL, the board: a run submitted in partitions
(selections, equal numbers and twins in one partition), each claimed
exactly once, a stale one reclaimed and fenced, a poison one failed,
cancels, resume refused; the partition store's view of a claim.  Workers
in this process: test_workers_in_process; worker processes:
test_worker_processes.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import attrs
import httpx
import pytest

from ecomsync import (
    Article,
    Link,
    MemoryErp,
    MemoryPlatform,
    RunRecord,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync._partition import submit_partitioned
from ecomsync._spec import All, DataType, NumberRange, Only
from ecomsync.exceptions import ConfigurationError, SpecError
from ecomsync.licensing import PostgresLicensePool
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.state._board import PartitionLost
from ecomsync.state._pg_partitions import (
    PostgresPartitionBoard as PartitionBoard,
)
from ecomsync.state._postgres import PostgresStore
from ecomsync.testing.woocommerce import WooCommerceEmulator

from . import _pg_shop
from ._workers import (
    SPEC,
    T0,
    _store,
    _workers,
    scalar,
    submit,
)


pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

#: The fixtures "store" and "workers".
__all__ = ["_store", "_workers"]

TWINS = ["9", "A-01", "A-01 ", "B-01"]


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
