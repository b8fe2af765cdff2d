"""
A shop variant made anew by an article push (the ERP dropped the variant
and gave it back, or moved it to another article) gets the ERP's stock,
though that stock did not change: in the same run when it syncs stock,
else in the next run that does, a scheduled `ChangedSince` one included.
Only those variants: the store keeps the variants each article landed
with (`Link.variants`), and sends every variant's stock only where it
does not know them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from ecomsync import (
    All,
    Article,
    Category,
    ChangedSince,
    DataType,
    Link,
    MemoryErp,
    MemoryPlatform,
    RunStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
    Variant,
    _ownership,
)
from ecomsync.exceptions import StateStoreError

from .test_order_lease import _OnMessage, held_by


pytestmark = pytest.mark.anyio

ARTICLES, STOCK = DataType.ARTICLES, DataType.STOCK
BOTH = SyncSpec(types={ARTICLES: All(), STOCK: All()})
ONLY_ARTICLES = SyncSpec(types={ARTICLES: All()})
ONLY_STOCK = SyncSpec(types={STOCK: All()})
#: The ERP's stock, all of it in the shop.
ALL_STOCK = {"L-S": 5, "L-M": 7, "K-S": 3}


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


class DyingStore(SqliteStore):
    """
    A store whose process dies (once, when armed) as it is about to
    record which articles landed.
    """

    armed = False

    async def put_links(
        self, platform: str, data_type: DataType, links: Mapping[str, Link]
    ) -> None:
        # What landed carries checksums (the writer takes them back
        # before a push: that write is not the one dying here).
        landed = any(link.checksum for link in links.values())
        if self.armed and data_type is ARTICLES and landed:
            self.armed = False
            raise StateStoreError("the process died here")
        await super().put_links(platform, data_type, links)


@asynccontextmanager
async def synced(
    erp: MemoryErp, clock: Clock, platform: MemoryPlatform, store: SqliteStore
) -> AsyncIterator[Synchronizer]:
    """A synchroniser into *platform* that has pushed the ERP's all."""
    sync = Synchronizer(
        erp=erp, platforms={"shop": platform}, store=store, clock=clock
    )
    try:
        await sync.execute(
            SyncSpec(types={DataType.CATEGORIES: All(), **BOTH.types})
        )
        yield sync
    finally:
        await sync.store.aclose()


@pytest.fixture(name="shop")
async def _shop(
    erp: MemoryErp, clock: Clock, tmp_path: Path
) -> AsyncIterator[Synchronizer]:
    store = DyingStore(tmp_path / "state.db")
    async with synced(erp, clock, MemoryPlatform(), store) as sync:
        yield sync


def memory(sync: Synchronizer) -> MemoryPlatform:
    platform = sync.platforms["shop"]
    assert isinstance(platform, MemoryPlatform)
    return platform


def stock(sync: Synchronizer) -> dict[str, int | None]:
    platform = memory(sync)
    return {
        n: platform.stock.get(n, {}).get(None) for n in ("L-S", "L-M", "K-S")
    }


async def scheduled(sync: Synchronizer, spec: SyncSpec, clock: Clock) -> None:
    clock.tick()
    run = await sync.execute(spec, trigger=Trigger.SCHEDULED)
    assert RunStatus.SUCCEEDED == run.status


async def l_m_dropped_and_given_back(
    sync: Synchronizer, erp: MemoryErp, clock: Clock
) -> None:
    """After two scheduled runs, one without L-M in the shop, the ERP
    gives L-M back to its article (not pushed yet)."""
    await scheduled(sync, BOTH, clock)
    erp.put(shirt("L", "S"))
    await scheduled(sync, BOTH, clock)
    erp.put(shirt("L", "S", "M"))


def move_l_s_to_k(erp: MemoryErp) -> None:
    erp.put(shirt("L", "M"))
    erp.put(
        attrs.evolve(
            shirt("K", "S"),
            variants=[Variant(number="K-S"), Variant(number="L-S")],
        )
    )


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
    assert ALL_STOCK == stock(shop)
    assert [] == await shop.store.list_failures("shop")


async def test_regained_variants_get_their_stock_after_the_lease_wait(
    shop: Synchronizer, erp: MemoryErp, clock: Clock
) -> None:
    """A run that pushed articles, then waited for another process's
    order lease, still sends the stock of the variants it made anew."""
    await scheduled(shop, BOTH, clock)
    erp.put(shirt("L"))
    await scheduled(shop, BOTH, clock)
    erp.put(shirt("L", "S", "M"))
    clock.tick()
    spec = SyncSpec(
        types={
            ARTICLES: All(),
            DataType.ADDRESSES_AND_ORDERS: All(),
            STOCK: ChangedSince(clock.now),
        }
    )
    live = held_by(_ownership.this_owner(), beat=datetime.now(UTC))
    await shop.store.take_lease(live, seen=None)
    waiting, runs = anyio.Event(), []
    handler = _OnMessage("waits for run other-run", waiting)
    logging.getLogger("ecomsync").addHandler(handler)

    async def execute() -> None:
        runs.append(await shop.execute(spec))

    try:
        async with anyio.create_task_group() as tg:
            with anyio.fail_after(20):
                tg.start_soon(execute)
                await waiting.wait()
                await shop.store.release_lease("orders:shop", live.token)
    finally:
        logging.getLogger("ecomsync").removeHandler(handler)

    assert RunStatus.SUCCEEDED == runs[0].status
    assert ALL_STOCK == stock(shop)


async def test_a_moved_variant_gets_its_stock(
    shop: Synchronizer, erp: MemoryErp, clock: Clock
) -> None:
    """A variant moved to another article gets its stock, which did not
    change, in a scheduled run reading what changed."""
    await scheduled(shop, BOTH, clock)
    move_l_s_to_k(erp)
    await scheduled(shop, BOTH, clock)

    assert ALL_STOCK == stock(shop)


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

    assert ALL_STOCK == stock(shop)
    assert [] == await shop.store.list_failures("shop")


async def test_an_unchanged_article_costs_no_stock_write(
    shop: Synchronizer, erp: MemoryErp, clock: Clock
) -> None:
    """A run whose articles did not change writes no stock again."""
    before = writes(shop)

    run = await shop.execute(BOTH)

    assert before == writes(shop)
    assert 3 == run.counts[STOCK].unchanged


def writes(sync: Synchronizer) -> int:
    return memory(sync).calls["writes"]


async def writes_of(sync: Synchronizer, spec: SyncSpec, clock: Clock) -> int:
    """How many writes a scheduled run of *spec* costs."""
    before = writes(sync)
    await scheduled(sync, spec, clock)
    return writes(sync) - before


async def ledgered(sync: Synchronizer) -> list[str]:
    return sorted(f.number for f in await sync.store.list_failures("shop"))


@pytest.mark.parametrize("spec", [BOTH, ONLY_ARTICLES])
async def test_a_changed_article_with_its_variants_costs_no_stock(
    shop: Synchronizer, erp: MemoryErp, clock: Clock, spec: SyncSpec
) -> None:
    """An article that changed but kept its variants is written alone:
    no stock write, no ledger entry (the 1 % delta of the benchmark)."""
    await scheduled(shop, BOTH, clock)
    erp.put(attrs.evolve(shirt("L", "S", "M"), name="Shirt L, new"))

    assert 1 == await writes_of(shop, spec, clock)

    assert [] == await ledgered(shop)
    assert ALL_STOCK == stock(shop)


async def test_only_the_regained_variant_is_sent(
    shop: Synchronizer, erp: MemoryErp, clock: Clock
) -> None:
    """Of an article's variants, the one dropped and given back gets its
    stock again; the one it kept does not."""
    await l_m_dropped_and_given_back(shop, erp, clock)
    await scheduled(shop, ONLY_ARTICLES, clock)
    assert ["L-M"] == await ledgered(shop)

    assert 1 == await writes_of(shop, ONLY_STOCK, clock)

    assert ALL_STOCK == stock(shop)
    assert [] == await ledgered(shop)


async def test_a_moved_variant_alone_is_sent(
    shop: Synchronizer, erp: MemoryErp, clock: Clock
) -> None:
    """A variant moved to another article gets its stock again; the
    variants both articles kept do not."""
    await scheduled(shop, BOTH, clock)
    move_l_s_to_k(erp)
    await scheduled(shop, ONLY_ARTICLES, clock)
    assert ["L-S"] == await ledgered(shop)

    assert 1 == await writes_of(shop, ONLY_STOCK, clock)

    assert ALL_STOCK == stock(shop)


async def test_an_article_without_variants_sells_its_own_number(
    shop: Synchronizer, erp: MemoryErp, clock: Clock
) -> None:
    """An article without variants sells under its own number: its stock
    is sent again when it loses its variants, not when it gains them."""
    plain = Article(
        number="P", name="Plain", price=Decimal(1), categories=("C-1",)
    )
    erp.put(plain)
    erp.put(StockLevel(number="P", quantity=4))
    await scheduled(shop, BOTH, clock)
    platform = memory(shop)
    erp.put(attrs.evolve(plain, name="Plain, new"))
    await scheduled(shop, ONLY_ARTICLES, clock)
    erp.put(attrs.evolve(plain, variants=[Variant(number="P-1")]))
    await scheduled(shop, ONLY_ARTICLES, clock)
    assert [] == await ledgered(shop)
    erp.put(plain)
    await scheduled(shop, ONLY_ARTICLES, clock)
    assert ["P"] == await ledgered(shop)

    await scheduled(shop, ONLY_STOCK, clock)

    assert {None: 4} == platform.stock["P"]


async def test_links_from_before_send_every_variant(
    shop: Synchronizer, erp: MemoryErp, clock: Clock
) -> None:
    """Article links that do not know their variants (written before
    stores kept them) send the stock of every variant of a changed
    article, once: the push records its variants."""
    await scheduled(shop, BOTH, clock)
    links = await shop.store.get_links("shop", ARTICLES, ["L", "K"])
    await shop.store.put_links(
        "shop",
        ARTICLES,
        {
            n: Link(link.platform_id, link.checksum)
            for n, link in links.items()
        },
    )
    erp.put(attrs.evolve(shirt("L", "S", "M"), name="Shirt L, new"))
    await scheduled(shop, ONLY_ARTICLES, clock)
    assert ["L-M", "L-S"] == await ledgered(shop)
    (link,) = (await shop.store.get_links("shop", ARTICLES, ["L"])).values()
    assert ("L-S", "L-M") == link.variants
    await scheduled(shop, ONLY_STOCK, clock)

    erp.put(attrs.evolve(shirt("L", "S", "M"), name="Shirt L, newer"))
    await scheduled(shop, ONLY_ARTICLES, clock)

    assert [] == await ledgered(shop)
    assert ALL_STOCK == stock(shop)


async def test_a_crash_before_the_article_is_recorded_keeps_the_restock(
    shop: Synchronizer, erp: MemoryErp, clock: Clock
) -> None:
    """A run that dies after the push, before the store records the
    article's new variants, leaves the regained variant's stock to the
    next run syncing stock."""
    await l_m_dropped_and_given_back(shop, erp, clock)
    assert isinstance(shop.store, DyingStore)
    shop.store.armed = True
    clock.tick()
    with pytest.raises(StateStoreError, match="died"):
        await shop.execute(ONLY_ARTICLES, trigger=Trigger.SCHEDULED)

    await scheduled(shop, ONLY_STOCK, clock)

    assert ALL_STOCK == stock(shop)


@pytest.mark.parametrize("trigger", [Trigger.MANUAL, Trigger.SCHEDULED])
async def test_the_plan_counts_the_stock_sent_again(
    shop: Synchronizer, erp: MemoryErp, clock: Clock, trigger: Trigger
) -> None:
    """A plan counts the stock of a regained variant as a stock update
    (and its requests), as the run does; the variants kept count none."""
    await l_m_dropped_and_given_back(shop, erp, clock)
    erp.put(attrs.evolve(shirt("K", "S"), name="Shirt K, new"))
    clock.tick()

    plan = await shop.plan(BOTH, trigger=trigger)
    run = await shop.execute(BOTH, trigger=trigger)

    assert ["K", "L"] == sorted(plan.types[ARTICLES].update)
    assert ("L-M",) == plan.types[STOCK].update
    assert "L-M" not in plan.types[STOCK].unchanged
    assert 0 < plan.types[STOCK].requests
    assert 1 == run.counts[STOCK].updated


@attrs.define(repr=False)
class RenewingIds(MemoryPlatform):
    """
    A shop whose ids are not derived from numbers: a product made anew
    (deleted in the shop, then pushed again) gets a new id.
    """

    made: dict[str, int] = attrs.Factory(dict)

    def delete_by_hand(self, number: str) -> None:
        article = self.held(ARTICLES).pop(number)
        assert isinstance(article, Article)
        for n in (number, *(v.number for v in article.variants)):
            self.stock.pop(n, None)
            self.held(STOCK).pop(n, None)

    async def push(self, data_type: DataType, records: Any) -> Any:
        fresh = {
            o.record.number
            for o in records
            if o.record.number not in self.held(data_type)
        }
        outcomes = await super().push(data_type, records)
        for number in fresh:
            self.made[number] = self.made.get(number, 0) + 1
        return [
            attrs.evolve(
                o, platform_id=f"{o.platform_id}.{self.made[o.number]}"
            )
            if o.ok and o.number in self.made
            else o
            for o in outcomes
        ]


async def test_a_product_made_anew_gets_every_variants_stock(
    erp: MemoryErp, clock: Clock, tmp_path: Path
) -> None:
    """A product deleted in the shop and made anew by its changed
    article's push (the shop answers a new id) gets the stock of every
    variant, which did not change in the ERP."""
    platform = RenewingIds()
    store = SqliteStore(tmp_path / "state.db")
    async with synced(erp, clock, platform, store) as sync:
        await scheduled(sync, BOTH, clock)
        platform.delete_by_hand("L")
        erp.put(attrs.evolve(shirt("L", "S", "M"), name="Shirt L, new"))

        await scheduled(sync, BOTH, clock)

        assert ALL_STOCK == stock(sync)
        assert [] == await sync.store.list_failures("shop")
