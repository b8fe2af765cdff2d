"""
Stock per warehouse into Shopify: a level kept per warehouse never lands
on the shop's one location in silence; it fails on its own, naming the
warehouse, directly, in bulk and through the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stamina

from ecomsync import (
    All,
    Article,
    DataType,
    MemoryErp,
    Outgoing,
    RecordFailed,
    RecordSynced,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
)
from ecomsync.platforms.shopify import Shopify
from ecomsync.testing import capture_events
from ecomsync.testing.shopify import ShopifyEmulator


pytestmark = pytest.mark.anyio

TOKEN = "shpat_stock-S3CR3T"
STOCK = DataType.STOCK


@pytest.fixture(autouse=True)
def _fast_retries() -> Iterator[None]:
    stamina.set_testing(True, attempts=2)
    yield
    stamina.set_testing(False)


def _emu() -> ShopifyEmulator:
    return ShopifyEmulator(TOKEN, maximum=1_000_000, restore_rate=1_000_000)


def _shop(emu: ShopifyEmulator, **kwargs: Any) -> Shopify:
    kwargs.setdefault("bulk_poll_interval", 0.001)
    return Shopify(
        "https://shop.test",
        TOKEN,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )


def _available(emu: ShopifyEmulator, sku: str) -> dict[str, int]:
    """The SKU's available quantity per location name."""
    shop = emu.shop
    for v in shop.variants.values():
        if v["sku"] == sku:
            return {
                shop.locations[loc]["name"]: q["available"]
                for (item, loc), q in shop.levels.items()
                if item == v["_item"]
            }
    raise AssertionError(f"no variant {sku}")


def _articles(count: int) -> list[Outgoing]:
    return [
        Outgoing(record=Article(number=f"A-{i}", name=f"Item {i}", price=1))
        for i in range(count)
    ]


class TestUnmapped:
    @pytest.mark.parametrize("bulk_threshold", [None, 2])
    async def test_warehouse_level_fails_alone(
        self, bulk_threshold: int | None
    ) -> None:
        """
        Levels with a warehouse fail on the field ``warehouse``, naming
        it, and write nothing; summed levels of the same push land,
        directly and as a bulk operation.
        """
        emu = _emu()
        async with _shop(emu, bulk_threshold=bulk_threshold) as shop:
            await shop.push(DataType.ARTICLES, _articles(3))
            before = shop.bulk_operations
            outcomes = await shop.push(
                STOCK,
                [
                    Outgoing(
                        record=StockLevel(
                            number="A-0", quantity=5, warehouse="WH1"
                        )
                    ),
                    Outgoing(record=StockLevel(number="A-1", quantity=4)),
                    Outgoing(
                        record=StockLevel(
                            number="A-0", quantity=7, warehouse="WH2"
                        )
                    ),
                    Outgoing(record=StockLevel(number="A-2", quantity=3)),
                ],
            )
            bulk = shop.bulk_operations - before

        assert ["A-0", "A-1", "A-0", "A-2"] == [o.number for o in outcomes]
        assert [False, True, False, True] == [o.ok for o in outcomes]
        for outcome, warehouse in zip(
            (outcomes[0], outcomes[2]), ("WH1", "WH2"), strict=True
        ):
            assert "warehouse" == outcome.field
            assert f"warehouse {warehouse!r}" in (outcome.error or "")
        assert {"Warehouse": 0} == _available(emu, "A-0")
        assert {"Warehouse": 4} == _available(emu, "A-1")
        assert {"Warehouse": 3} == _available(emu, "A-2")
        assert (1 if bulk_threshold else 0) == bulk

    async def test_only_warehouse_levels_send_nothing(self) -> None:
        """
        A push of warehouse levels only asks Shopify for nothing at all:
        anything: no location, no lookup, no write, no bulk operation.
        """
        emu = _emu()
        async with _shop(emu, bulk_threshold=1) as shop:
            await shop.push(DataType.ARTICLES, _articles(1))
            sent, bulk = len(emu.requests), shop.bulk_operations
            outcomes = await shop.push(
                STOCK,
                [
                    Outgoing(
                        record=StockLevel(
                            number="A-0", quantity=5, warehouse=w
                        )
                    )
                    for w in ("WH1", "WH2")
                ],
            )

        assert [("A-0", "warehouse")] * 2 == [
            (o.number, o.field) for o in outcomes
        ]
        assert sent == len(emu.requests)
        assert bulk == shop.bulk_operations
        assert {"Warehouse": 0} == _available(emu, "A-0")


class TestEngine:
    @pytest.mark.parametrize("bulk_threshold", [None, 1])
    async def test_two_warehouses_fail_the_article(
        self, tmp_path: Path, bulk_threshold: int | None
    ) -> None:
        """
        Through the engine: an article kept in two warehouses fails,
        naming both warehouses and the field; nothing is written to the
        shop, no checksum is recorded, and the failure is in the ledger.
        """
        emu = _emu()
        erp = MemoryErp(
            [
                Article(number="A-1", name="Hammer", price=1),
                Article(number="B-1", name="Saw", price=2),
                StockLevel(number="A-1", quantity=5, warehouse="WH1"),
                StockLevel(number="A-1", quantity=7, warehouse="WH2"),
                StockLevel(number="B-1", quantity=3),
            ]
        )
        async with _shop(emu, bulk_threshold=bulk_threshold) as shop:
            sync = Synchronizer(
                erp=erp,
                platforms={"shop": shop},
                store=SqliteStore(tmp_path / "state.db"),
            )
            await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
            async with capture_events(
                sync, SyncSpec(types={STOCK: All()})
            ) as run:
                pass
            links = await sync.store.get_links("shop", STOCK, ["A-1", "B-1"])
            ledger = await sync.store.list_failures("shop", STOCK)
            await sync.store.aclose()

        (failed,) = run.of(RecordFailed)
        assert ("A-1", "warehouse") == (failed.number, failed.field)
        assert "'WH1'" in failed.message
        assert "'WH2'" in failed.message
        assert "0 of 2 warehouses landed" in failed.message
        assert ["B-1"] == [e.number for e in run.of(RecordSynced)]
        assert {"Warehouse": 0} == _available(emu, "A-1")
        assert {"Warehouse": 3} == _available(emu, "B-1")
        assert "A-1" not in links or not links["A-1"].checksum
        assert ["A-1"] == [f.number for f in ledger]
