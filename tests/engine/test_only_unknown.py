"""
`Only` numbers that select nothing are failures naming them; a
variant's number selects its article.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import attrs
import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    MemoryErp,
    MemoryPlatform,
    Only,
    OrderState,
    OrderStatus,
    Progress,
    Record,
    RecordFailed,
    Selection,
    SqliteStore,
    StockLevel,
    Synchronizer,
    Trigger,
    TypeStarted,
    Variant,
)
from ecomsync.testing import capture_events

from .._shop_orders import orders_for
from .._unnamed_erp import Unnamed, UnnamedSession
from ._support import ARTICLES, spec


pytestmark = pytest.mark.anyio

STOCK = DataType.STOCK
STATUS = DataType.ORDER_STATUS


def _shirt(erp: MemoryErp) -> None:
    erp.put(
        Article(
            number="A-100",
            name="Shirt",
            price=Decimal("20.00"),
            categories=("C-2",),
            variants=(
                Variant(number="A-100-RED", options=(("Colour", "red"),)),
                Variant(number="A-100-BLUE", options=(("Colour", "blue"),)),
            ),
        )
    )
    erp.put(StockLevel(number="A-100-RED", quantity=3))
    erp.put(StockLevel(number="A-100-BLUE", quantity=4))


class TestVariantNumber:
    async def test_selects_its_article(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Syncing "A-100-RED" pushes article A-100 with its variants, and
        fails nothing (it synced nothing and reported nothing)."""
        _shirt(erp)

        async with capture_events(
            sync, spec(articles=Only(["A-100-RED"]))
        ) as run:
            failed = run.of(RecordFailed)

        assert [] == failed
        assert ["A-100"] == list(platform.held(ARTICLES))
        assert run.summary is not None
        assert 1 == run.summary.counts[ARTICLES].created

    async def test_article_number_selects_its_stock(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Syncing "A-100" with its stock pushes its variants' levels and
        fails nothing."""
        _shirt(erp)

        summary = await sync.execute(
            spec(articles=Only(["A-100"]), stock=Only(["A-100"]))
        )

        assert {"A-100-RED", "A-100-BLUE"} == set(platform.held(STOCK))
        assert [] == list(summary.failures)


class TestUnknownNumber:
    async def test_fails_naming_it_the_rest_goes_on(
        self, sync: Synchronizer, store: SqliteStore, platform: MemoryPlatform
    ) -> None:
        """A number the ERP does not know fails on its own, named, counted
        and in the run's failures; the known ones sync; the ledger (what
        a scheduled run retries) stays empty: there is no record."""
        async with capture_events(
            sync, spec(articles=Only(["A-1", "A-1OO", "A-3"]))
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert ("A-1OO", "number") == (failed.number, failed.field)
        assert "A-1OO" in failed.message
        assert "article" in failed.message
        assert {"A-1", "A-3"} == set(platform.held(ARTICLES))
        assert run.summary is not None
        counts = run.summary.counts[ARTICLES]
        assert (2, 1) == (counts.created, counts.failed)
        assert ["A-1OO"] == [f.number for f in run.summary.failures]
        assert [] == await store.list_failures("shop")

    @pytest.mark.parametrize(
        ("data_type", "known", "unknown"),
        [
            (DataType.CATEGORIES, "C-2", "C-99"),
            (STOCK, "A-100", "A-100-GREEN"),
            (DataType.ORDER_STATUS, None, "SO-404"),
        ],
    )
    async def test_every_erp_type(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        data_type: DataType,
        known: str | None,
        unknown: str,
    ) -> None:
        """Categories, stock (also by article number) and order status
        report an unknown number too, and only that one."""
        _shirt(erp)
        await sync.execute(spec(articles=Only(["A-100"])))
        numbers = [unknown] if known is None else [known, unknown]

        summary = await sync.execute(spec(**{data_type.value: Only(numbers)}))

        assert [(data_type, unknown)] == [
            (f.data_type, f.number) for f in summary.failures
        ]
        assert 1 == summary.counts[data_type].failed

    async def test_unknown_order(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """An order number the platform does not show fails naming it;
        the known order is imported."""
        (order,) = orders_for(1, articles=6)
        platform.place_order(order)

        summary = await sync.execute(
            spec(addresses_and_orders=Only([order.number, "NO-SUCH"]))
        )

        assert [order.number] == list(erp.orders)
        assert ["NO-SUCH"] == [f.number for f in summary.failures]
        assert "platform" in summary.failures[0].message

    async def test_deleted_record_retried_by_a_schedule_is_quiet(
        self, sync: Synchronizer, erp: MemoryErp, store: SqliteStore
    ) -> None:
        """A ledgered record deleted since it failed is not reported as an
        unknown number by the scheduled run that retries it (it leaves
        the ledger, as before)."""
        erp.put(Article(number="A-7", name="Bad", price=Decimal("-1")))
        await sync.execute(spec(articles=Only(["A-7"])))
        assert ["A-7"] == [f.number for f in await store.list_failures("shop")]
        erp.remove(ARTICLES, "A-7")

        await sync.execute(spec(articles=Only(["A-1"])))  # a watermark
        scheduled = await sync.execute(
            spec(articles=Only(["A-1"])), trigger=Trigger.SCHEDULED
        )

        assert [] == list(scheduled.failures)
        assert [] == await store.list_failures("shop")

    async def test_a_plan_says_so_too(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """A plan of the same run lists the unknown number as invalid on
        number (the run would fail it), and writes nothing."""
        plan = await sync.plan(spec(articles=Only(["A-1", "A-1OO"])))

        (invalid,) = plan.types[ARTICLES].invalid
        assert ("A-1OO", "number") == (invalid.number, invalid.field)
        assert "A-1OO" in invalid.reason
        assert ("A-1",) == plan.types[ARTICLES].create
        assert {} == platform.held(ARTICLES)


class _ReadNamed(Unnamed):
    """
    An ERP adapter whose ``read`` takes the platform and whose ``count``
    does not: the engine checks each method on its own.
    """

    def __init__(self, erp: MemoryErp) -> None:
        super().__init__(erp)
        self.platforms: list[str | None] = []  # what each read was given

    @asynccontextmanager
    async def session(self) -> AsyncIterator[UnnamedSession]:
        async with self.erp.session() as inner:
            yield _ReadNamedSession(inner, self.platforms)


class _ReadNamedSession(UnnamedSession):
    def __init__(self, inner: Any, platforms: list[str | None]) -> None:
        super().__init__(inner)
        self.platforms = platforms

    def read(  # type: ignore[override]
        self,
        data_type: DataType,
        selection: Selection,
        *,
        batch_size: int,
        platform: str | None = None,
    ) -> AsyncIterator[Sequence[Record]]:
        self.platforms.append(platform)
        return self.inner.read(  # type: ignore[no-any-return]
            data_type, selection, batch_size=batch_size, platform=platform
        )


def _twins(erp: MemoryErp, platform: MemoryPlatform) -> None:
    """
    Order "1001" of this platform ("shop") and of another; "1002" only
    the other's; "1003" imported before the ERP kept platforms.  The shop
    has orders with all three numbers: a wrong push would land.
    """
    (order,) = orders_for(1, articles=6)
    for number in ("1001", "1002", "1003"):
        platform.place_order(attrs.evolve(order, number=number))
    shipped = OrderState.SHIPPED
    erp.add(OrderStatus(number="1001", state=shipped, platform="shop"))
    erp.add(OrderStatus(number="1001", state=OrderState.OPEN, platform="b"))
    erp.add(OrderStatus(number="1002", state=shipped, platform="b"))
    erp.add(OrderStatus(number="1003", state=shipped))


class TestAnotherPlatformsOrder:
    @pytest.mark.parametrize("legacy", [False, True], ids=["named", "legacy"])
    async def test_fails_by_name(
        self,
        erp: MemoryErp,
        platform: MemoryPlatform,
        store: SqliteStore,
        legacy: bool,
    ) -> None:
        """Order status Only(["1002"]) where the ERP has "1002" of another
        platform only fails naming it (it pushed nothing and reported
        nothing); "1001" pushes this platform's state, not the other's.
        Also through an ERP adapter whose reads take no platform."""
        _twins(erp, platform)
        source: Any = Unnamed(erp) if legacy else erp
        sync = Synchronizer(
            erp=source, platforms={"shop": platform}, store=store
        )

        summary = await sync.execute(spec(order_status=Only(["1001", "1002"])))

        assert [(STATUS, "1002", "number")] == [
            (f.data_type, f.number, f.field) for f in summary.failures
        ]
        assert "1002" in summary.failures[0].message
        held = platform.held(STATUS)
        assert ["1001"] == list(held)
        assert OrderState.SHIPPED is getattr(held["1001"], "state", None)
        assert (1, 1) == (
            summary.counts[STATUS].created,
            summary.counts[STATUS].failed,
        )

    async def test_a_plan_says_so_too(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """A plan lists another platform's order number as invalid on
        number."""
        _twins(erp, platform)

        plan = await sync.plan(spec(order_status=Only(["1001", "1002"])))

        (invalid,) = plan.types[STATUS].invalid
        assert ("1002", "number") == (invalid.number, invalid.field)
        assert ("1001",) == plan.types[STATUS].create

    async def test_total_counts_this_platforms_orders(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """The run's total of order statuses counts what goes to this
        platform (its own "1001" and the unnamed "1003"), not the other
        platform's "1001" and "1002": the progress bar ended at 2 of 4."""
        _twins(erp, platform)

        async with capture_events(sync, spec(order_status=All())) as run:
            (started,) = run.of(TypeStarted)

        assert 2 == started.total
        assert ["1001", "1003"] == sorted(platform.held(STATUS))

    async def test_count_without_the_keyword(
        self, erp: MemoryErp, platform: MemoryPlatform, store: SqliteStore
    ) -> None:
        """An adapter whose read takes the platform and whose count does
        not: the read gets it, the count counts every platform's (the
        total starts high), and the final progress is what was done."""
        _twins(erp, platform)
        source = _ReadNamed(erp)
        sync = Synchronizer(
            erp=source, platforms={"shop": platform}, store=store
        )

        async with capture_events(sync, spec(order_status=All())) as run:
            (started,) = run.of(TypeStarted)
            final = run.of(Progress)[-1]

        assert ["shop"] == source.platforms
        assert 4 == started.total
        assert (2, 2) == (final.done, final.total)
        assert ["1001", "1003"] == sorted(platform.held(STATUS))
