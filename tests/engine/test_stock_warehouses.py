"""
Stock kept per warehouse: one article's levels are one unit of change
detection, so they land together or the article fails by name, and the
store never records a checksum for levels that did not land.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from ecomsync import (
    All,
    Article,
    ChangedSince,
    DataType,
    MemoryErp,
    MemoryPlatform,
    Outcome,
    Outgoing,
    RecordFailed,
    RecordSynced,
    RunStarted,
    RunStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
    Variant,
)
from ecomsync._changes import Change, chunks
from ecomsync._fingerprint import checksum
from ecomsync._model import Record
from ecomsync._selection import _whole_units
from ecomsync.exceptions import EcomsyncError
from ecomsync.testing import capture_events


pytestmark = pytest.mark.anyio

STOCK = DataType.STOCK
ONLY_STOCK = SyncSpec(types={STOCK: All()})


class Clock:
    """
    A clock the test moves.
    """

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(hours=1)


def articles() -> list[Record]:
    return [
        Article(number="A-1", name="Hammer", price=1),
        Article(number="B-1", name="Saw", price=2),
    ]


def levels(a1: tuple[int, int] = (5, 7), b1: int = 3) -> list[Record]:
    return [
        StockLevel(number="A-1", quantity=a1[0], warehouse="WH1"),
        StockLevel(number="A-1", quantity=a1[1], warehouse="WH2"),
        StockLevel(number="B-1", quantity=b1, warehouse="WH1"),
    ]


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock()


@pytest.fixture(name="erp")
def _erp(clock: Clock) -> MemoryErp:
    return MemoryErp([*articles(), *levels()], clock=clock)


@pytest.fixture(name="platform")
def _platform() -> MemoryPlatform:
    return MemoryPlatform()


@pytest.fixture(name="sync")
async def _sync(
    erp: MemoryErp, platform: MemoryPlatform, clock: Clock, tmp_path: Path
) -> AsyncIterator[Synchronizer]:
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        clock=clock,
        overlap=timedelta(0),
    )
    await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
    yield sync
    await sync.store.aclose()


async def scheduled(sync: Synchronizer, clock: Clock) -> Any:
    clock.tick()
    async with capture_events(
        sync, ONLY_STOCK, trigger=Trigger.SCHEDULED
    ) as run:
        pass
    return run


class TestOneUnit:
    async def test_one_changed_level_keeps_both(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: MemoryPlatform,
        clock: Clock,
    ) -> None:
        """Only one warehouse's level changes: the shop ends with both
        levels exact, the article counts once, and a full read finds
        everything in sync."""
        await scheduled(sync, clock)
        clock.tick()
        erp.put(StockLevel(number="A-1", quantity=9, warehouse="WH2"))

        changed = await scheduled(sync, clock)
        writes = platform.calls["writes"]
        full = await sync.execute(ONLY_STOCK)

        assert {"WH1": 5, "WH2": 9} == platform.stock["A-1"]
        assert {"WH1": 3} == platform.stock["B-1"]
        assert ["A-1"] == [e.number for e in changed.of(RecordSynced)]
        assert 1 == changed.summary.counts[STOCK].updated
        assert writes == platform.calls["writes"]
        assert 2 == full.counts[STOCK].unchanged

    async def test_a_warehouse_the_erp_drops_leaves_the_shop(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: MemoryPlatform,
        clock: Clock,
    ) -> None:
        """The ERP no longer gives A-1 a level in WH2 (it stopped counting
        the warehouse): MemoryPlatform's stock of A-1 is WH1's level
        alone, where it kept WH2's last figure on sale beside it."""
        await scheduled(sync, clock)
        clock.tick()
        erp.remove(STOCK, "A-1")
        erp.put(StockLevel(number="A-1", quantity=5, warehouse="WH1"))

        dropped = await scheduled(sync, clock)

        assert ["A-1"] == [e.number for e in dropped.of(RecordSynced)]
        assert {"WH1": 5} == platform.stock["A-1"]
        assert {"WH1": 3} == platform.stock["B-1"]

    async def test_checksum_covers_every_level(
        self, sync: Synchronizer, erp: MemoryErp, clock: Clock
    ) -> None:
        """The stored checksum is the article's, not one level's: a
        change in either warehouse is seen by a full read."""
        await sync.execute(ONLY_STOCK)
        links = await sync.store.get_links("shop", STOCK, ["A-1", "B-1"])
        for level in levels():
            assert checksum(level) != links["A-1"].checksum
        # A unit of one keeps its record's own checksum.
        assert checksum(levels()[2]) == links["B-1"].checksum

        for warehouse in ("WH1", "WH2"):
            erp.put(StockLevel(number="A-1", quantity=1, warehouse=warehouse))
            result = await sync.execute(ONLY_STOCK)
            assert 1 == result.counts[STOCK].updated, warehouse

    async def test_one_level_fails_the_article_by_name(
        self,
        erp: MemoryErp,
        platform: MemoryPlatform,
        sync: Synchronizer,
        clock: Clock,
    ) -> None:
        """The shop refuses one warehouse's level: the article fails,
        naming that warehouse; the other level lands; the failure stays in
        the ledger and a later scheduled run heals it without any ERP
        change."""
        platform.reject = lambda r: (
            "location closed"
            if isinstance(r, StockLevel) and r.warehouse == "WH2"
            else None
        )

        first = await scheduled(sync, clock)
        ledger = await sync.store.list_failures("shop", STOCK)
        links = await sync.store.get_links("shop", STOCK, ["A-1"])
        platform.reject = None
        healed = await scheduled(sync, clock)

        (failed,) = first.of(RecordFailed)
        assert "A-1" == failed.number
        assert ["A-1"] == [f.number for f in ledger]
        assert "'WH2'" in failed.message
        assert "location closed" in failed.message
        assert "1 of 2 warehouses landed" in failed.message
        assert ["B-1"] == [e.number for e in first.of(RecordSynced)]
        assert {} == links
        assert ["A-1"] == [e.number for e in healed.of(RecordSynced)]
        assert {"WH1": 5, "WH2": 7} == platform.stock["A-1"]
        assert [] == await sync.store.list_failures("shop", STOCK)

    async def test_invalid_level_sends_no_level(
        self, erp: MemoryErp, platform: MemoryPlatform, sync: Synchronizer
    ) -> None:
        """An invalid level (not a whole number) refuses the whole
        article, naming the warehouse; none of its levels is written."""
        erp.put(StockLevel(number="A-1", quantity=1.5, warehouse="WH2"))  # type: ignore[arg-type]

        async with capture_events(sync, ONLY_STOCK) as run:
            pass

        (failed,) = run.of(RecordFailed)
        assert ("A-1", "quantity") == (failed.number, failed.field)
        assert "in 'WH2'" in failed.message
        assert "A-1" not in platform.stock
        assert {"WH1": 3} == platform.stock["B-1"]

    async def test_two_levels_in_one_warehouse(
        self, erp: MemoryErp, platform: MemoryPlatform, sync: Synchronizer
    ) -> None:
        """Two levels of one article in one warehouse: neither which to
        keep nor their sum is known, so the article fails by name."""
        erp.add(StockLevel(number="A-1", quantity=2, warehouse="WH1"))

        async with capture_events(sync, ONLY_STOCK) as run:
            pass

        (failed,) = run.of(RecordFailed)
        assert ("A-1", "warehouse") == (failed.number, failed.field)
        assert "two stock levels in warehouse 'WH1'" in failed.message
        assert "A-1" not in platform.stock


class TestBatches:
    @pytest.mark.parametrize("batch_size", [1, 2])
    async def test_levels_cut_by_the_read_stay_one_unit(
        self,
        erp: MemoryErp,
        platform: MemoryPlatform,
        tmp_path: Path,
        batch_size: int,
    ) -> None:
        """An ERP batch that ends inside an article's levels does not
        split the article: one push and one event per article."""
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=SqliteStore(tmp_path / "s.db"),
            batch_size=batch_size,
        )
        await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))

        async with capture_events(sync, ONLY_STOCK) as run:
            pass
        plan = await sync.plan(ONLY_STOCK)
        await sync.store.aclose()

        # batches are written concurrently: events come in any order
        assert ["A-1", "B-1"] == sorted(e.number for e in run.of(RecordSynced))
        assert {"WH1": 5, "WH2": 7} == platform.stock["A-1"]
        assert ["A-1", "B-1"] == sorted(plan.types[STOCK].unchanged)

    async def test_levels_apart_in_the_read_fail(self, tmp_path: Path) -> None:
        """An ERP that yields an article's levels in two places of a read
        gets both parts failed (the first one already sent loses its
        checksum): the store never holds half an article."""
        wh1, wh2, b1 = levels()
        wh3 = StockLevel(number="A-1", quantity=1, warehouse="WH3")
        erp = Scrambled(MemoryErp(articles()), [[wh1, b1], [wh2, wh3]])
        platform = MemoryPlatform()
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=SqliteStore(tmp_path / "s.db"),
        )
        await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))

        plan = await sync.plan(ONLY_STOCK)
        async with capture_events(sync, ONLY_STOCK) as run:
            pass
        links = await sync.store.get_links("shop", STOCK, ["A-1"])
        await sync.store.aclose()

        failed = run.of(RecordFailed)
        assert ["A-1", "A-1"] == [e.number for e in failed]
        assert "the stock of 'A-1' came in 2 parts" in failed[0].message
        assert ["B-1"] == [e.number for e in run.of(RecordSynced)]
        assert "" == links["A-1"].checksum
        assert ["A-1", "A-1"] == [r.number for r in plan.types[STOCK].invalid]
        assert ("B-1",) == plan.types[STOCK].create


class TestSummed:
    async def test_summed_levels_unchanged(self, tmp_path: Path) -> None:
        """The summed default (no warehouse) keeps one unit per record
        with the record's own checksum, as before."""
        erp = MemoryErp([*articles(), StockLevel(number="A-1", quantity=4)])
        platform = MemoryPlatform()
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=SqliteStore(tmp_path / "s.db"),
        )
        await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))

        result = await sync.execute(ONLY_STOCK)
        links = await sync.store.get_links("shop", STOCK, ["A-1"])
        await sync.store.aclose()

        assert 1 == result.counts[STOCK].created
        assert {None: 4} == platform.stock["A-1"]
        assert checksum(StockLevel(number="A-1", quantity=4)) == (
            links["A-1"].checksum
        )


@attrs.define
class Scrambled:
    """
    An ERP that yields stock in the batches given, in that order.
    """

    erp: MemoryErp
    stock: list[list[Record]]

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        async with self.erp.session() as inner:
            yield _ScrambledSession(inner, self.stock)


@attrs.define
class _ScrambledSession:
    inner: Any
    stock: list[list[Record]]

    async def read(
        self, data_type: DataType, selection: Any, *, batch_size: int
    ) -> AsyncIterator[Sequence[Record]]:
        if data_type is not STOCK:
            async for batch in self.inner.read(
                data_type, selection, batch_size=batch_size
            ):
                yield batch
            return
        for batch in self.stock:
            yield batch

    async def count(self, data_type: DataType, selection: Any) -> int | None:
        if data_type is STOCK:
            return sum(map(len, self.stock))
        return await self.inner.count(data_type, selection)  # type: ignore[no-any-return]

    async def read_media(self, ref: Any) -> bytes:
        return await self.inner.read_media(ref)  # type: ignore[no-any-return]

    async def import_orders(self, orders: Any) -> Any:
        return await self.inner.import_orders(orders)


class TestParts:
    def test_chunks_never_split_an_article(self) -> None:
        """Chunks hold at most the platform's batch of records, an
        article's levels always in one; one larger than the batch goes
        alone."""
        one = Change(StockLevel(number="S", quantity=1), "c")
        wide = Change(
            StockLevel(number="W", quantity=1, warehouse="1"),
            "c",
            also=tuple(
                StockLevel(number="W", quantity=1, warehouse=str(i))
                for i in range(2, 5)
            ),
        )

        got = chunks([one, wide, one, one, wide], 3)

        assert [[1], [4], [1, 1], [4]] == [
            [len(c.records) for c in chunk] for chunk in got
        ]

    async def test_batches_read_one_behind(self) -> None:
        """A batch that ends inside an article waits for the next; empty
        batches are passed over; the last one comes at the end."""

        async def read() -> AsyncIterator[Sequence[Record]]:
            for batch in (
                [StockLevel(number="A", quantity=1, warehouse="1")],
                [],
                [
                    StockLevel(number="A", quantity=1, warehouse="2"),
                    StockLevel(number="B", quantity=1, warehouse="1"),
                ],
                [StockLevel(number="C", quantity=1, warehouse="1")],
            ):
                yield batch

        got = [
            [(r.number, getattr(r, "warehouse", None)) for r in batch]
            async for batch in _whole_units(read())
        ]

        assert [
            [("A", "1"), ("A", "2"), ("B", "1")],
            [("C", "1")],
        ] == got

    async def test_memory_erp_reads_every_level_of_a_change(
        self, erp: MemoryErp, clock: Clock
    ) -> None:
        """MemoryErp: a change in one warehouse reads the article's every
        level for ChangedSince."""
        moment = clock.now + timedelta(minutes=30)
        clock.tick()
        erp.put(StockLevel(number="A-1", quantity=1, warehouse="WH2"))

        async with erp.session() as session:
            got = [
                r
                async for batch in session.read(
                    STOCK, ChangedSince(moment), batch_size=10
                )
                for r in batch
            ]

        assert [("A-1", "WH1"), ("A-1", "WH2")] == sorted(
            (r.number, getattr(r, "warehouse", None)) for r in got
        )

    async def test_memory_platform_takes_a_variants_stock(self) -> None:
        """MemoryPlatform holds stock for a variant's number."""
        platform = MemoryPlatform()
        await platform.push(
            DataType.ARTICLES,
            [
                Outgoing(
                    record=Article(
                        number="SHIRT",
                        name="Shirt",
                        price=1,
                        variants=[Variant(number="SHIRT-S")],
                    )
                )
            ],
        )

        ok, missing = await platform.push(
            STOCK,
            [
                Outgoing(record=StockLevel(number="SHIRT-S", quantity=2)),
                Outgoing(record=StockLevel(number="SHIRT-X", quantity=2)),
            ],
        )

        assert ok.ok
        assert "article SHIRT-X does not exist" == missing.error
        assert {"SHIRT-S": {None: 2}} == platform.stock


@attrs.define(repr=False)
class Mapped(MemoryPlatform):
    """
    A platform whose warehouse -> location mapping a test changes
    (`~ecomsync.typing.SupportsStockLayout`).
    """

    layout: str = ""

    def stock_layout(self) -> str:
        return self.layout


class TestLayout:
    async def _synced(self, tmp_path: Path, layout: str) -> Synchronizer:
        sync = Synchronizer(
            erp=MemoryErp([*articles(), *levels()]),
            platforms={"shop": Mapped(layout=layout)},
            store=SqliteStore(tmp_path / "s.db"),
        )
        await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
        await sync.execute(ONLY_STOCK)
        return sync

    async def test_changed_mapping_sends_every_level(
        self, tmp_path: Path
    ) -> None:
        """After the platform's mapping changed, the next stock run
        writes every article's levels again; with it unchanged, none."""
        sync = await self._synced(tmp_path, '{"WH1":"Warehouse"}')
        platform = sync.platforms["shop"]
        assert isinstance(platform, Mapped)

        same = await sync.execute(ONLY_STOCK)
        platform.layout = '{"WH1":"Second"}'
        moved = await sync.execute(ONLY_STOCK)
        again = await sync.execute(ONLY_STOCK)
        await sync.store.aclose()

        assert 2 == same.counts[STOCK].unchanged
        assert 2 == moved.counts[STOCK].updated
        assert 2 == again.counts[STOCK].unchanged

    async def test_plan_says_what_the_run_does(self, tmp_path: Path) -> None:
        """A plan under a mapping says the levels are unchanged where the
        run finds them so, and to be updated once the mapping moved."""
        sync = await self._synced(tmp_path, '{"WH1":"Warehouse"}')
        platform = sync.platforms["shop"]
        assert isinstance(platform, Mapped)

        same = (await sync.plan(ONLY_STOCK)).types[STOCK]
        platform.layout = '{"WH1":"Second"}'
        moved = (await sync.plan(ONLY_STOCK)).types[STOCK]
        await sync.store.aclose()

        assert ((), ("A-1", "B-1")) == (same.update, same.unchanged)
        assert (("A-1", "B-1"), ()) == (moved.update, moved.unchanged)

    async def test_no_mapping_keeps_stored_checksums(
        self, tmp_path: Path
    ) -> None:
        """Without a mapping a level's stored checksum is its own, as
        before the hook: an upgrade sends nothing again."""
        sync = await self._synced(tmp_path, "")
        links = await sync.store.get_links("shop", STOCK, ["B-1"])
        await sync.store.aclose()

        assert checksum(levels()[2]) == links["B-1"].checksum


@attrs.define(repr=False)
class Placed(Mapped):
    """
    A mapped platform that notes under which mapping each level was
    last written (where the shop now sells it); *broken*: its stock
    writes fail the run.
    """

    placed: dict[str, str] = attrs.field(factory=dict)
    broken: bool = False
    #: Stock numbers whose writes the platform refuses.
    refused: set[str] = attrs.field(factory=set)

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Any]:
        if data_type is STOCK:
            if self.broken:
                raise RuntimeError("shop down")
            refused = [i for i in items if i.record.number in self.refused]
            items = [i for i in items if i not in refused]
            for item in items:
                self.placed[item.record.number] = self.layout
            return [
                *await super().push(data_type, items),
                *(
                    Outcome(number=i.record.number, error="refused")
                    for i in refused
                ),
            ]
        return await super().push(data_type, items)


class TestLayoutScheduled:
    """
    A changed mapping reaches the shop with the next scheduled run, which
    otherwise reads only the ERP's changes.
    """

    @pytest.fixture(name="shop")
    def _shop(self) -> Placed:
        return Placed(layout='{"WH1":"Old"}')

    @pytest.fixture(name="laid")
    async def _laid(
        self, erp: MemoryErp, shop: Placed, clock: Clock, tmp_path: Path
    ) -> AsyncIterator[Synchronizer]:
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": shop},
            store=SqliteStore(tmp_path / "state.db"),
            clock=clock,
            overlap=timedelta(0),
        )
        await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
        await scheduled(sync, clock)  # the first: reads all
        yield sync
        await sync.store.aclose()

    async def test_scheduled_run_moves_stock(
        self, laid: Synchronizer, shop: Placed, clock: Clock
    ) -> None:
        """After the mapping changed, the next scheduled run writes every
        level where it now points and says why it read all stock; the one
        after reads only changes again."""
        same = await scheduled(laid, clock)
        shop.layout = '{"WH1":"New"}'

        moved = await scheduled(laid, clock)
        again = await scheduled(laid, clock)

        assert {"A-1": '{"WH1":"New"}', "B-1": '{"WH1":"New"}'} == shop.placed
        (started,) = moved.of(RunStarted)
        assert isinstance(started.spec.types[STOCK], All)
        assert "stock layout changed" in started.widened[STOCK]
        assert 2 == moved.summary.counts[STOCK].updated
        assert isinstance(moved.summary.spec.types[STOCK], All)
        for quiet in (same, again):
            (started,) = quiet.of(RunStarted)
            assert {} == started.widened
            assert isinstance(started.spec.types[STOCK], ChangedSince)
            assert 0 == quiet.summary.counts[STOCK].updated

    async def test_failed_run_widens_again(
        self, laid: Synchronizer, shop: Placed, clock: Clock
    ) -> None:
        """A scheduled run after a mapping change that fails leaves the
        old layout kept: the next one reads all stock again and moves
        it."""
        shop.layout = '{"WH1":"New"}'
        shop.broken = True
        with pytest.raises(EcomsyncError, match="shop down"):
            await scheduled(laid, clock)
        shop.broken = False

        retried = await scheduled(laid, clock)

        failed = (await laid.store.list_runs(limit=2))[1]
        assert RunStatus.FAILED == failed.status
        assert (
            "stock layout changed" in retried.of(RunStarted)[0].widened[STOCK]
        )
        assert {"A-1": '{"WH1":"New"}', "B-1": '{"WH1":"New"}'} == shop.placed

    async def test_failing_level_does_not_widen_again(
        self, laid: Synchronizer, shop: Placed, clock: Clock
    ) -> None:
        """A level that keeps failing after a mapping change does not make
        every scheduled run read all stock: the run that moved it keeps
        the new layout, the runs after read only changes and the failed
        level."""
        shop.layout = '{"WH1":"New"}'
        shop.refused = {"B-1"}
        moved = await scheduled(laid, clock)
        after = [await scheduled(laid, clock) for _ in range(4)]
        shop.refused = set()
        healed = await scheduled(laid, clock)

        assert 1 == moved.summary.counts[STOCK].failed
        assert STOCK in moved.of(RunStarted)[0].widened
        for run in after:
            (started,) = run.of(RunStarted)
            assert {} == started.widened
            assert isinstance(started.spec.types[STOCK], ChangedSince)
            assert 1 == run.summary.counts[STOCK].failed
            assert 0 == run.summary.counts[STOCK].unchanged
        assert 1 == healed.summary.counts[STOCK].updated
        assert {"A-1": '{"WH1":"New"}', "B-1": '{"WH1":"New"}'} == shop.placed
        assert '{"WH1":"New"}' == await laid.store.get_stock_layout("shop")

    async def test_no_mapping_kept_as_where_stock_is(
        self, erp: MemoryErp, clock: Clock, tmp_path: Path
    ) -> None:
        """Stock first written without a mapping keeps that layout (""):
        once a mapping is set, the next scheduled run reads all stock,
        saying the layout changed, and keeps the new one."""
        shop = Placed()
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": shop},
            store=SqliteStore(tmp_path / "state.db"),
            clock=clock,
            overlap=timedelta(0),
        )
        await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
        await scheduled(sync, clock)  # the first: reads all
        first = await sync.store.get_stock_layout("shop")
        shop.layout = '{"WH1":"New"}'

        moved = await scheduled(sync, clock)
        now = await sync.store.get_stock_layout("shop")
        await sync.store.aclose()

        assert "" == first
        assert '{"WH1":"New"}' == now
        assert "stock layout changed" in moved.of(RunStarted)[0].widened[STOCK]
        assert {"A-1": '{"WH1":"New"}', "B-1": '{"WH1":"New"}'} == shop.placed

    async def test_upgraded_store_says_no_layout_recorded(
        self, erp: MemoryErp, shop: Placed, clock: Clock, tmp_path: Path
    ) -> None:
        """A store that kept no layout yet (from before the release) with
        a mapping set: the next scheduled run reads all stock once and
        says no layout was recorded (not that it changed); then only
        changes."""
        path = tmp_path / "state.db"
        old = Synchronizer(
            erp=erp,
            platforms={"shop": shop},
            store=_NoLayouts(path),
            clock=clock,
            overlap=timedelta(0),
        )
        await old.execute(SyncSpec(types={DataType.ARTICLES: All()}))
        await scheduled(old, clock)
        await old.store.aclose()
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": shop},
            store=SqliteStore(path),
            clock=clock,
            overlap=timedelta(0),
        )

        upgraded = await scheduled(sync, clock)
        after = await scheduled(sync, clock)
        await sync.store.aclose()

        why = upgraded.of(RunStarted)[0].widened[STOCK]
        assert "no stock layout recorded yet" in why
        assert "changed" not in why
        assert {} == after.of(RunStarted)[0].widened

    async def test_failed_level_retried_from_the_ledger(
        self, laid: Synchronizer, shop: Placed, clock: Clock
    ) -> None:
        """On a platform that empties other places itself, a level that
        failed after a mapping change is retried from the ledger: the run
        after reads only changes and it."""
        shop.layout = '{"WH1":"New"}'
        shop.refused = {"B-1"}
        await scheduled(laid, clock)
        shop.refused = set()

        retried = await scheduled(laid, clock)

        assert {} == retried.of(RunStarted)[0].widened
        assert 1 == retried.summary.counts[STOCK].updated
        assert {"A-1": '{"WH1":"New"}', "B-1": '{"WH1":"New"}'} == shop.placed

    async def test_plan_says_what_the_run_does(
        self, laid: Synchronizer, shop: Placed
    ) -> None:
        """A scheduled plan after a mapping change reads all stock and
        updates every level, as the run does; before it, nothing."""
        before = await laid.plan(ONLY_STOCK, trigger=Trigger.SCHEDULED)
        shop.layout = '{"WH1":"New"}'

        after = await laid.plan(ONLY_STOCK, trigger=Trigger.SCHEDULED)
        planned_twice = await laid.plan(ONLY_STOCK, trigger=Trigger.SCHEDULED)

        assert isinstance(before.spec.types[STOCK], ChangedSince)
        assert () == before.types[STOCK].update
        for plan in (after, planned_twice):  # a plan keeps nothing
            assert isinstance(plan.spec.types[STOCK], All)
            assert ("A-1", "B-1") == plan.types[STOCK].update

    async def test_manual_all_keeps_the_layout(
        self, laid: Synchronizer, shop: Placed, clock: Clock
    ) -> None:
        """A manual run of all stock after the change moves it and keeps
        the layout: the scheduled run after it reads only changes."""
        shop.layout = '{"WH1":"New"}'
        await laid.execute(ONLY_STOCK)

        after = await scheduled(laid, clock)

        assert {} == after.of(RunStarted)[0].widened
        assert {"A-1": '{"WH1":"New"}', "B-1": '{"WH1":"New"}'} == shop.placed

    async def test_store_without_the_role(
        self, erp: MemoryErp, shop: Placed, clock: Clock, tmp_path: Path
    ) -> None:
        """With a store that keeps no layout, a scheduled run reads only
        the ERP's changes as before; a manual run of all stock moves it."""
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": shop},
            store=_NoLayouts(tmp_path / "state.db"),
            clock=clock,
            overlap=timedelta(0),
        )
        await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
        await scheduled(sync, clock)
        shop.layout = '{"WH1":"New"}'

        quiet = await scheduled(sync, clock)
        stayed = dict(shop.placed)
        await sync.execute(ONLY_STOCK)
        await sync.store.aclose()

        assert {} == quiet.of(RunStarted)[0].widened
        assert {"A-1": '{"WH1":"Old"}', "B-1": '{"WH1":"Old"}'} == stayed
        assert {"A-1": '{"WH1":"New"}', "B-1": '{"WH1":"New"}'} == shop.placed


class _NoLayouts(SqliteStore):
    """A store without the `StockLayouts` role (a store of one's own)."""

    get_stock_layout = None
    set_stock_layout = None
