"""
Stock per warehouse into Vendure's stock locations, through the engine,
against a live Vendure server: an article's levels land whole.
"""

from __future__ import annotations

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
    RecordSynced,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync.platforms.vendure import Vendure
from ecomsync.testing import capture_events

from .vendure_server import VendureAdmin, VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]

STOCK = DataType.STOCK
DEFAULT = "Default Stock Location"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(hours=1)


async def _locations(admin: VendureAdmin, *skus: str) -> dict[str, Any]:
    data = await admin.gql(
        "query ($s: [String!]!) { productVariants(options: { filter: "
        "{ sku: { in: $s } } }) { items { sku stockLevels { stockLocation "
        "{ name } stockOnHand stockAllocated } } } }",
        {"s": list(skus)},
    )
    return {
        v["sku"]: {
            s["stockLocation"]["name"]: s["stockOnHand"] - s["stockAllocated"]
            for s in v["stockLevels"]
            if s["stockOnHand"]  # Vendure keeps a zero level everywhere
        }
        for v in data["productVariants"]["items"]
    }


class TestStockLocationsThroughTheEngine:
    async def test_levels_land_whole(
        self, fresh_vendure: VendureServer, tmp_path: Path
    ) -> None:
        """
        Two warehouses mapped to two locations: one changed level leaves
        both locations exact; an unmapped warehouse fails its article by
        name while its mapped levels land; once mapped, the next
        scheduled run heals it without any ERP change.
        """
        admin = fresh_vendure.admin()
        for name in ("North", "South"):
            await admin.gql(
                "mutation ($n: String!) { createStockLocation(input: "
                '{ name: $n, description: "" }) { id } }',
                {"n": name},
            )
        clock = Clock()
        erp = MemoryErp(
            [
                Article(number="W-1", name="Hammer", price=1, tax_rate=0),
                Article(number="W-2", name="Saw", price=2, tax_rate=0),
                StockLevel(number="W-1", quantity=3, warehouse="WH1"),
                StockLevel(number="W-1", quantity=5, warehouse="WH2"),
                StockLevel(number="W-2", quantity=1, warehouse="WH1"),
                StockLevel(number="W-2", quantity=2, warehouse="WH2"),
            ],
            clock=clock,
        )
        store = SqliteStore(tmp_path / "state.db")
        mapping = {"WH1": DEFAULT, "WH2": "North"}
        shops: list[Vendure] = []

        def engine(locations: dict[str, str]) -> Synchronizer:
            shops.append(
                Vendure(
                    fresh_vendure.url,
                    api_key=fresh_vendure.api_key,
                    stock_locations=locations,
                )
            )
            return Synchronizer(
                erp=erp,
                platforms={"vendure": shops[-1]},
                store=store,
                clock=clock,
                overlap=timedelta(0),
            )

        async def scheduled(sync: Synchronizer) -> Any:
            clock.tick()
            async with capture_events(
                sync, SyncSpec(types={STOCK: All()}), trigger=Trigger.SCHEDULED
            ) as run:
                pass
            return run

        sync = engine(mapping)
        try:
            await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
            await scheduled(sync)
            first = await _locations(admin, "W-1", "W-2")

            clock.tick()
            erp.put(StockLevel(number="W-1", quantity=9, warehouse="WH2"))
            one = await scheduled(sync)
            changed = await _locations(admin, "W-1", "W-2")

            clock.tick()
            erp.put(StockLevel(number="W-2", quantity=7, warehouse="WH1"))
            erp.put(StockLevel(number="W-2", quantity=4, warehouse="WH3"))
            refused = await scheduled(sync)
            partly = await _locations(admin, "W-2")
            ledger = await store.list_failures("vendure", STOCK)

            healed = await scheduled(engine({**mapping, "WH3": "South"}))
            whole = await _locations(admin, "W-1", "W-2")
            left = await store.list_failures("vendure", STOCK)
        finally:
            for shop in shops:
                await shop.aclose()
            await admin.aclose()
            await store.aclose()

        assert {
            "W-1": {DEFAULT: 3, "North": 5},
            "W-2": {DEFAULT: 1, "North": 2},
        } == first
        assert ["W-1"] == [e.number for e in one.of(RecordSynced)]
        assert {"W-1": {DEFAULT: 3, "North": 9}} == {"W-1": changed["W-1"]}
        assert changed["W-2"] == first["W-2"]
        (failed,) = refused.of(RecordFailed)
        assert ["W-2"] == [f.number for f in ledger]
        assert ("W-2", "warehouse") == (failed.number, failed.field)
        assert "'WH3'" in failed.message
        assert "2 of 3 warehouses landed" in failed.message
        assert {"W-2": {DEFAULT: 7, "North": 2}} == partly
        assert ["W-2"] == [e.number for e in healed.of(RecordSynced)]
        assert {
            "W-1": {DEFAULT: 3, "North": 9},
            "W-2": {DEFAULT: 7, "North": 2, "South": 4},
        } == whole
        assert [] == left
