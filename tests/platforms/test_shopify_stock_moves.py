"""
A warehouse moved to another Shopify location: the next stock run, a
scheduled one too, writes its stock at the new location and sets it to 0
at the one it left, in the same call, so it is never on sale twice; a
location ecomsync never wrote to keeps what the merchant put there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    MemoryErp,
    RecordFailed,
    RunStarted,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync.platforms.shopify import Shopify
from ecomsync.testing import capture_events
from ecomsync.testing.shopify import ShopifyEmulator
from ecomsync.testing.shopify._views import parse_gid

from ._adapters import shopify_emulator, shopify_on


pytestmark = pytest.mark.anyio

TOKEN = "shpat_moves-S3CR3T"
STOCK = DataType.STOCK
BEFORE = {"WH1": "Warehouse", "WH2": "Second"}
AFTER = {"WH1": "Warehouse", "WH2": "Third"}


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _available(emu: ShopifyEmulator, sku: str) -> dict[str, int]:
    """The SKU's available quantity per location name."""
    shop = emu.shop
    (item,) = [v["_item"] for v in shop.variants.values() if v["sku"] == sku]
    return {
        shop.locations[loc]["name"]: q["available"]
        for (it, loc), q in shop.levels.items()
        if it == item and loc in shop.locations
    }


def _stock_at(emu: ShopifyEmulator, sku: str, location: str, qty: int) -> None:
    """The merchant stocks *sku* at *location* in Shopify, *qty* on sale."""
    shop = emu.shop
    (item,) = [v["_item"] for v in shop.variants.values() if v["sku"] == sku]
    place = parse_gid(location, "Location") or 0
    shop.levels[(item, place)] = {"available": qty, "on_hand": qty}


class Moved:
    """One ERP, store and emulator; a Shopify adapter per mapping."""

    def __init__(self, tmp_path: Path) -> None:
        self.emu = shopify_emulator(TOKEN)
        self.third = self.emu.shop.add_location("Third")
        self.store_loc = self.emu.shop.add_location("Store")
        self.emu.shop.add_location("Second")
        self.clock = Clock()
        self.erp = MemoryErp(
            [
                Article(number="A-1", name="Hammer", price=1),
                StockLevel(number="A-1", quantity=5, warehouse="WH1"),
                StockLevel(number="A-1", quantity=7, warehouse="WH2"),
            ],
            clock=self.clock,
        )
        self.store = SqliteStore(tmp_path / "state.db")
        self.shops: list[Shopify] = []

    def sync(self, locations: dict[str, str], **kw: Any) -> Synchronizer:
        self.shops.append(shopify_on(self.emu, TOKEN, locations=locations))
        return Synchronizer(
            erp=self.erp,
            platforms={"shop": self.shops[-1]},
            store=self.store,
            clock=self.clock,
            overlap=timedelta(0),
            **kw,
        )

    async def scheduled(self, sync: Synchronizer) -> Any:
        self.clock.now += timedelta(hours=1)
        async with capture_events(
            sync, SyncSpec(types={STOCK: All()}), trigger=Trigger.SCHEDULED
        ) as run:
            pass
        return run


@pytest.fixture(name="moved")
async def _moved(tmp_path: Path) -> AsyncIterator[Moved]:
    moved = Moved(tmp_path)
    before = moved.sync(BEFORE)
    await before.execute(SyncSpec(types={DataType.ARTICLES: All()}))
    await moved.scheduled(before)  # the first: all stock
    yield moved
    for shop in moved.shops:
        await shop.aclose()
    await moved.store.aclose()


async def test_scheduled_run_moves_the_warehouse(moved: Moved) -> None:
    """WH2 moved from Second to Third: the next scheduled run writes its
    level at Third and 0 at Second; the merchant's own stock at Store
    stays; the run after writes nothing."""
    emu = moved.emu
    first = _available(emu, "A-1")
    # The merchant stocks the item at Third, and sells 4 of their own at
    # Store (a location ecomsync never wrote to).
    _stock_at(emu, "A-1", moved.third, 0)
    _stock_at(emu, "A-1", moved.store_loc, 4)
    after = moved.sync(AFTER)

    run = await moved.scheduled(after)
    now = _available(emu, "A-1")
    sent = len(emu.requests)
    again = await moved.scheduled(after)

    assert {"Warehouse": 5, "Second": 7} == first
    assert {"Warehouse": 5, "Second": 0, "Third": 7, "Store": 4} == now
    assert STOCK in run.of(RunStarted)[0].widened
    assert [] == run.of(RecordFailed)
    assert 0 == again.summary.counts[STOCK].updated
    assert now == _available(emu, "A-1")
    assert sent == len(emu.requests)


async def test_refused_at_the_new_place_keeps_the_old(moved: Moved) -> None:
    """The item is not stocked at Third (the merchant did not activate
    it there): the WH2 level fails naming it, and Second keeps selling
    its 7 instead of dropping to 0, run after run (none of which reads
    all stock again); once activated, the next scheduled run retries it
    and moves it."""
    emu = moved.emu
    after = moved.sync(AFTER)

    refused = await moved.scheduled(after)
    again = [await moved.scheduled(after) for _ in range(3)]
    kept = _available(emu, "A-1")
    _stock_at(emu, "A-1", moved.third, 0)
    healed = await moved.scheduled(after)

    (failed,) = refused.of(RecordFailed)
    assert "not stocked at Shopify location" in failed.message
    assert STOCK in refused.of(RunStarted)[0].widened
    for run in [*again, healed]:
        assert {} == run.of(RunStarted)[0].widened
    assert {"Warehouse": 5, "Second": 7} == kept
    assert [] == healed.of(RecordFailed)
    assert {"Warehouse": 5, "Second": 0, "Third": 7} == _available(emu, "A-1")


async def test_refused_move_sells_nothing_twice(moved: Moved) -> None:
    """Both warehouses move and the item is not stocked at WH2's new
    location: WH1's stock does not arrive at its new location either
    (its level fails too, saying why), so neither is on sale at its old
    and its new location at once; once stocked there, all of it moves."""
    emu = moved.emu
    _stock_at(emu, "A-1", moved.third, 0)
    after = moved.sync({"WH1": "Third", "WH2": "Store"})

    refused = await moved.scheduled(after)
    kept = _available(emu, "A-1")
    _stock_at(emu, "A-1", moved.store_loc, 0)
    healed = await moved.scheduled(after)

    (failed,) = refused.of(RecordFailed)
    assert "not stocked at Shopify location" in failed.message
    assert "'WH1'" in failed.message
    assert {"Warehouse": 5, "Second": 7, "Third": 0} == kept
    assert [] == healed.of(RecordFailed)
    now = {k: v for k, v in _available(emu, "A-1").items() if v}
    assert {"Third": 5, "Store": 7} == now


async def test_refused_move_still_updates_where_it_stays(
    moved: Moved,
) -> None:
    """WH2 moves to a location that does not stock the item while WH1
    stays: WH1's new quantity is written where it stays (not left stale
    there), Second keeps WH2's stock on sale."""
    emu = moved.emu
    moved.erp.put(StockLevel(number="A-1", quantity=4, warehouse="WH1"))
    after = moved.sync({"WH1": "Warehouse", "WH2": "Store"})

    run = await moved.scheduled(after)

    (failed,) = run.of(RecordFailed)
    assert "not stocked at Shopify location" in failed.message
    assert "'WH1'" not in failed.message
    assert {"Warehouse": 4, "Second": 7} == _available(emu, "A-1")


async def test_first_setting_takes_stock_off_the_primary(
    tmp_path: Path,
) -> None:
    """Stock first written without location settings (at the primary
    location): once the merchant sets a location, the next scheduled
    run moves it there and sets the primary to 0, not on sale twice."""
    moved = Moved(tmp_path)
    moved.erp = MemoryErp(
        [
            Article(number="A-1", name="Hammer", price=1),
            StockLevel(number="A-1", quantity=5),
        ],
        clock=moved.clock,
    )

    def sync(**settings: Any) -> Synchronizer:
        moved.shops.append(shopify_on(moved.emu, TOKEN, **settings))
        return Synchronizer(
            erp=moved.erp,
            platforms={"shop": moved.shops[-1]},
            store=moved.store,
            clock=moved.clock,
            overlap=timedelta(0),
        )

    plain = sync()
    await plain.execute(SyncSpec(types={DataType.ARTICLES: All()}))
    await moved.scheduled(plain)  # the first: all stock, at the primary
    first = _available(moved.emu, "A-1")
    _stock_at(moved.emu, "A-1", moved.third, 0)

    run = await moved.scheduled(sync(location=moved.third))
    for shop in moved.shops:
        await shop.aclose()
    await moved.store.aclose()

    assert {"Warehouse": 5} == first
    assert [] == run.of(RecordFailed)
    assert {"Warehouse": 0, "Third": 5} == _available(moved.emu, "A-1")


async def test_old_location_gone_from_the_shop(moved: Moved) -> None:
    """The location a warehouse moved from was deleted in Shopify: the
    move writes the new location and fails nothing (the 0 for the
    location gone, which Shopify refuses, is dropped)."""
    emu = moved.emu
    (second,) = [
        n for n, loc in emu.shop.locations.items() if loc["name"] == "Second"
    ]
    del emu.shop.locations[second]
    _stock_at(emu, "A-1", moved.third, 0)
    after = moved.sync(AFTER)

    run = await moved.scheduled(after)

    assert [] == run.of(RecordFailed)
    assert {"Warehouse": 5, "Third": 7} == _available(emu, "A-1")


async def test_location_newer_than_the_process_is_taken_off(
    moved: Moved,
) -> None:
    """A long-lived process read the shop's locations before the
    merchant added "Outlet"; a process with the new map wrote WH2 there.
    When the old process writes the article again, it sets Outlet to 0
    as its link says, instead of leaving WH2's stock on sale at Outlet
    and Second."""
    emu = moved.emu
    old = moved.sync(BEFORE)
    moved.erp.put(StockLevel(number="A-1", quantity=4, warehouse="WH1"))
    await old.execute(SyncSpec(types={STOCK: All()}))  # its locations read
    outlet = emu.shop.add_location("Outlet")
    _stock_at(emu, "A-1", outlet, 0)
    new = moved.sync({"WH1": "Warehouse", "WH2": "Outlet"})
    await new.execute(SyncSpec(types={STOCK: All()}))
    moved_there = _available(emu, "A-1")
    moved.erp.put(StockLevel(number="A-1", quantity=6, warehouse="WH2"))

    await old.execute(SyncSpec(types={STOCK: All()}))

    assert {"Warehouse": 4, "Second": 0, "Outlet": 7} == moved_there
    assert {"Warehouse": 4, "Second": 6, "Outlet": 0} == _available(emu, "A-1")


async def test_warehouse_taken_out_of_the_map_goes_to_zero(
    moved: Moved,
) -> None:
    """WH2 taken out of the map: its level fails naming it, and its old
    location goes to 0 with WH1's write rather than keep selling a
    figure nothing updates any more."""
    run = await moved.scheduled(moved.sync({"WH1": "Warehouse"}))

    (failed,) = run.of(RecordFailed)
    assert "warehouse 'WH2' is not mapped" in failed.message
    assert {"Warehouse": 5, "Second": 0} == _available(moved.emu, "A-1")


async def test_warehouse_gone_from_the_erp_goes_to_zero(moved: Moved) -> None:
    """An article's level of one warehouse no longer comes from the ERP
    (the warehouse holds none of it): its next write sets that
    warehouse's location to 0 instead of leaving the last quantity on
    sale there."""
    emu = moved.emu
    moved.erp.remove(STOCK, "A-1")
    moved.erp.put(StockLevel(number="A-1", quantity=4, warehouse="WH1"))
    before = moved.shops[-1]
    sync = Synchronizer(
        erp=moved.erp, platforms={"shop": before}, store=moved.store
    )

    run = await sync.execute(SyncSpec(types={STOCK: All()}))

    assert 1 == run.counts[STOCK].updated
    assert {"Warehouse": 4, "Second": 0} == _available(emu, "A-1")


@pytest.mark.parametrize(
    ("levels", "kept"),
    [
        # WH2's level is past what Shopify keeps at a location
        (
            [
                StockLevel(number="A-1", quantity=4, warehouse="WH1"),
                StockLevel(
                    number="A-1", quantity=2_000_000_000, warehouse="WH2"
                ),
            ],
            {"Warehouse": 4, "Second": 7},
        ),
        # a summed level and WH1's both go to the primary (Warehouse)
        (
            [
                StockLevel(number="A-1", quantity=4),
                StockLevel(number="A-1", quantity=6, warehouse="WH1"),
                StockLevel(number="A-1", quantity=9, warehouse="WH2"),
            ],
            {"Warehouse": 5, "Second": 9},
        ),
    ],
    ids=["too-much", "summed-and-warehouse"],
)
async def test_failed_level_keeps_its_location(
    moved: Moved, levels: list[StockLevel], kept: dict[str, int]
) -> None:
    """A level that fails before it is sent leaves its location's stock
    as it was (its failure says it was not written), not 0."""
    moved.erp.remove(STOCK, "A-1")
    for level in levels:
        moved.erp.put(level)

    run = await moved.scheduled(moved.sync(BEFORE))

    (failed,) = run.of(RecordFailed)
    assert "A-1" == failed.number
    assert kept == _available(moved.emu, "A-1")


async def test_new_article_leaves_the_merchants_stock(moved: Moved) -> None:
    """An article ecomsync never wrote stock for, after a mapping moved:
    the location the old map sent its warehouse to keeps the merchant's
    own stock."""
    emu = moved.emu
    moved.erp.put(Article(number="B-1", name="Saw", price=2))
    moved.erp.put(StockLevel(number="B-1", quantity=3, warehouse="WH2"))
    after = moved.sync(AFTER)
    await after.execute(SyncSpec(types={DataType.ARTICLES: All()}))
    (second,) = [
        n for n, loc in emu.shop.locations.items() if loc["name"] == "Second"
    ]
    _stock_at(emu, "A-1", moved.third, 0)
    _stock_at(emu, "B-1", moved.third, 0)
    _stock_at(emu, "B-1", f"gid://shopify/Location/{second}", 4)

    run = await moved.scheduled(after)

    assert STOCK in run.of(RunStarted)[0].widened
    assert [] == run.of(RecordFailed)
    assert 4 == _available(emu, "B-1")["Second"]
    assert 3 == _available(emu, "B-1")["Third"]


def _settings(moved: Moved, which: str) -> dict[str, Any]:
    """The adapter's location settings: *which* of the map before,
    the map after, ``location`` at Third, or none."""
    return {
        "before": {"locations": BEFORE},
        "after": {"locations": AFTER},
        "third": {"location": moved.third},
        "none": {},
    }[which]


@pytest.mark.parametrize(
    ("was", "now"),
    [("before", "after"), ("none", "third"), ("third", "none")],
    ids=["map-moved", "location-set", "location-removed"],
)
async def test_plan_bounds_the_move(
    tmp_path: Path, was: str, now: str
) -> None:
    """After the settings moved the stock, the scheduled plan's request
    estimate is not below what the scheduled run then sends, a fresh
    adapter's look-ups included."""
    moved = Moved(tmp_path)
    if "locations" not in _settings(moved, was):
        moved.erp = MemoryErp(
            [
                Article(number="A-1", name="Hammer", price=1),
                StockLevel(number="A-1", quantity=5),
            ],
            clock=moved.clock,
        )

    def sync(which: str) -> Synchronizer:
        moved.shops.append(
            shopify_on(moved.emu, TOKEN, **_settings(moved, which))
        )
        return Synchronizer(
            erp=moved.erp,
            platforms={"shop": moved.shops[-1]},
            store=moved.store,
            clock=moved.clock,
            overlap=timedelta(0),
        )

    first = sync(was)
    await first.execute(SyncSpec(types={DataType.ARTICLES: All()}))
    await moved.scheduled(first)
    emu = moved.emu
    # The merchant stocks the item where the new settings send it.
    for place in (moved.third, emu.shop.primary_location):
        if not any(
            loc == parse_gid(place, "Location") for (_, loc) in emu.shop.levels
        ):
            _stock_at(emu, "A-1", place, 0)
    before = _available(emu, "A-1")

    plan = await sync(now).plan(
        SyncSpec(types={STOCK: All()}), trigger=Trigger.SCHEDULED
    )
    seen = len(emu.requests)
    run = await moved.scheduled(sync(now))
    sent = len(emu.requests) - seen
    after = _available(emu, "A-1")
    for shop in moved.shops:
        await shop.aclose()
    await moved.store.aclose()

    assert [] == run.of(RecordFailed)
    assert STOCK in run.of(RunStarted)[0].widened
    assert sum(before.values()) == sum(after.values())  # moved, not doubled
    assert before != after
    assert sent <= plan.requests, (sent, plan.requests)


async def test_location_gone_without_a_map(tmp_path: Path) -> None:
    """Stock written at ``location``, which the merchant then deleted in
    Shopify and took out of the settings: the stock lands at the primary
    location and nothing fails (the 0 for the location gone, which
    Shopify refuses, is left out), within the scheduled plan's requests
    (the call sent again without that 0 included)."""
    moved = Moved(tmp_path)
    moved.erp = MemoryErp(
        [
            Article(number="A-1", name="Hammer", price=1),
            StockLevel(number="A-1", quantity=5),
        ],
        clock=moved.clock,
    )
    emu = moved.emu

    def sync(**settings: Any) -> Synchronizer:
        moved.shops.append(shopify_on(emu, TOKEN, **settings))
        return Synchronizer(
            erp=moved.erp,
            platforms={"shop": moved.shops[-1]},
            store=moved.store,
            clock=moved.clock,
            overlap=timedelta(0),
        )

    at_third = sync(location=moved.third)
    await at_third.execute(SyncSpec(types={DataType.ARTICLES: All()}))
    await moved.scheduled(at_third)
    first = _available(emu, "A-1")
    del emu.shop.locations[parse_gid(moved.third, "Location") or 0]
    _stock_at(emu, "A-1", emu.shop.primary_location, 0)

    plan = await sync().plan(
        SyncSpec(types={STOCK: All()}), trigger=Trigger.SCHEDULED
    )
    seen = len(emu.requests)
    run = await moved.scheduled(sync())
    sent = len(emu.requests) - seen
    for shop in moved.shops:
        await shop.aclose()
    await moved.store.aclose()

    assert {"Third": 5} == first
    assert [] == run.of(RecordFailed)
    assert {"Warehouse": 5} == _available(emu, "A-1")
    assert sent <= plan.requests, (sent, plan.requests)
