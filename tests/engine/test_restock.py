"""
A shop variant made anew by an article push (the ERP dropped the variant
and gave it back, or moved it to another article) gets the ERP's stock,
though that stock did not change: in the same run when it syncs stock,
else in the next run that does, a scheduled `ChangedSince` one included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MemoryErp,
    MemoryPlatform,
    RunStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
    Variant,
)


pytestmark = pytest.mark.anyio

ARTICLES, STOCK = DataType.ARTICLES, DataType.STOCK
BOTH = SyncSpec(types={ARTICLES: All(), STOCK: All()})
ONLY_ARTICLES = SyncSpec(types={ARTICLES: All()})
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


def shirt(number: str, *sizes: str) -> Article:
    return Article(
        number=number,
        name=f"Shirt {number}",
        price=Decimal("19.90"),
        categories=("C-1",),
        variants=[Variant(number=f"{number}-{s}") for s in sizes],
    )


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock()


@pytest.fixture(name="erp")
def _erp(clock: Clock) -> MemoryErp:
    return MemoryErp(
        [
            Category(number="C-1", name="Shirts"),
            shirt("L", "S", "M"),
            shirt("K", "S"),
            StockLevel(number="L-S", quantity=5),
            StockLevel(number="L-M", quantity=7),
            StockLevel(number="K-S", quantity=3),
        ],
        clock=clock,
    )


@pytest.fixture(name="shop")
async def _shop(
    erp: MemoryErp, clock: Clock, tmp_path: Path
) -> AsyncIterator[Synchronizer]:
    platform = MemoryPlatform()
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        clock=clock,
    )
    await sync.execute(
        SyncSpec(types={DataType.CATEGORIES: All(), **BOTH.types})
    )
    yield sync
    await sync.store.aclose()


def stock(sync: Synchronizer) -> dict[str, int | None]:
    platform = sync.platforms["shop"]
    assert isinstance(platform, MemoryPlatform)
    return {
        n: platform.stock.get(n, {}).get(None) for n in ("L-S", "L-M", "K-S")
    }


async def scheduled(sync: Synchronizer, spec: SyncSpec, clock: Clock) -> None:
    clock.tick()
    run = await sync.execute(spec, trigger=Trigger.SCHEDULED)
    assert RunStatus.SUCCEEDED == run.status


@pytest.mark.parametrize("trigger", [Trigger.MANUAL, Trigger.SCHEDULED])
async def test_regained_variants_get_their_stock_in_the_same_run(
    shop: Synchronizer, erp: MemoryErp, clock: Clock, trigger: Trigger
) -> None:
    """Variants dropped and given back get the ERP's unchanged stock in
    the run that makes them anew, manual or scheduled (ChangedSince)."""
    await scheduled(shop, BOTH, clock)  # the watermarks are set
    erp.put(shirt("L"))
    await scheduled(shop, BOTH, clock)
    assert {"L-S": None, "L-M": None, "K-S": 3} == stock(shop)

    erp.put(shirt("L", "S", "M"))
    clock.tick()
    run = await shop.execute(BOTH, trigger=trigger)

    assert RunStatus.SUCCEEDED == run.status
    assert {"L-S": 5, "L-M": 7, "K-S": 3} == stock(shop)
    assert [] == await shop.store.list_failures("shop")


async def test_a_moved_variant_gets_its_stock(
    shop: Synchronizer, erp: MemoryErp, clock: Clock
) -> None:
    """A variant moved to another article gets its stock, which did not
    change, in a scheduled run reading what changed."""
    await scheduled(shop, BOTH, clock)
    erp.put(shirt("L", "M"))
    erp.put(
        Article(
            number="K",
            name="Shirt K",
            price=Decimal("19.90"),
            categories=("C-1",),
            variants=[Variant(number="K-S"), Variant(number="L-S")],
        )
    )
    await scheduled(shop, BOTH, clock)

    assert {"L-S": 5, "L-M": 7, "K-S": 3} == stock(shop)


async def test_stock_follows_in_the_next_stock_run(
    shop: Synchronizer, erp: MemoryErp, clock: Clock
) -> None:
    """A run of articles alone that makes variants anew leaves their
    stock to the next run syncing stock, a scheduled ChangedSince one
    that reads no changed stock."""
    await scheduled(shop, BOTH, clock)
    erp.put(shirt("L"))
    await scheduled(shop, ONLY_ARTICLES, clock)
    erp.put(shirt("L", "S", "M"))
    await scheduled(shop, ONLY_ARTICLES, clock)
    assert {"L-S": None, "L-M": None, "K-S": 3} == stock(shop)
    ledger = await shop.store.list_failures("shop", STOCK)
    assert ["L-M", "L-S"] == sorted(f.number for f in ledger)

    await scheduled(shop, ONLY_STOCK, clock)

    assert {"L-S": 5, "L-M": 7, "K-S": 3} == stock(shop)
    assert [] == await shop.store.list_failures("shop")


async def test_an_unchanged_article_costs_no_stock_write(
    shop: Synchronizer, erp: MemoryErp, clock: Clock
) -> None:
    """A run whose articles did not change writes no stock again."""
    platform = shop.platforms["shop"]
    assert isinstance(platform, MemoryPlatform)
    writes = platform.calls["writes"]

    run = await shop.execute(BOTH)

    assert writes == platform.calls["writes"]
    assert 3 == run.counts[STOCK].unchanged
