"""
Stock per warehouse into Shopify: a level kept per warehouse never lands
on the shop's one location in silence; it fails on its own, naming the
warehouse, directly, in bulk and through the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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
from ecomsync.exceptions import ConfigurationError
from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.shopify._stock import _articles_in_chunks, _Entry
from ecomsync.testing import capture_events
from ecomsync.testing.shopify import ShopifyEmulator

from .._retries import fast_retries
from ._adapters import shopify_emulator, shopify_on


pytestmark = pytest.mark.anyio

TOKEN = "shpat_stock-S3CR3T"
STOCK = DataType.STOCK


_fast_retries = fast_retries(2)


def _emu() -> ShopifyEmulator:
    return shopify_emulator(TOKEN)


def _shop(emu: ShopifyEmulator, **kwargs: Any) -> Shopify:
    return shopify_on(emu, TOKEN, **kwargs)


def _available(emu: ShopifyEmulator, sku: str) -> dict[str, int]:
    """The SKU's available quantity per location name."""
    shop = emu.shop
    for v in shop.variants.values():
        if v["sku"] == sku:
            return {
                shop.locations[loc]["name"]: q["available"]
                for (item, loc), q in shop.levels.items()
                if item == v["_item"] and loc in shop.locations
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


def _level(number: str, quantity: int, warehouse: str | None) -> Outgoing:
    return Outgoing(
        record=StockLevel(
            number=number, quantity=quantity, warehouse=warehouse
        )
    )


class TestMapped:
    @pytest.mark.parametrize("bulk_threshold", [None, 2])
    async def test_each_warehouse_at_its_location(
        self, bulk_threshold: int | None
    ) -> None:
        """
        With ``locations`` (by name or GID) each warehouse's level lands
        at its location, in one call for the push; an unmapped warehouse
        fails on its own on ``warehouse``, naming it and the map.
        """
        emu = _emu()
        second = emu.shop.add_location("Second")
        async with _shop(
            emu,
            bulk_threshold=bulk_threshold,
            locations={"WH1": "Warehouse", "WH2": second},
        ) as shop:
            await shop.push(DataType.ARTICLES, _articles(2))
            sent, bulk = len(emu.requests), shop.bulk_operations
            outcomes = await shop.push(
                STOCK,
                [
                    _level("A-0", 5, "WH1"),
                    _level("A-0", 7, "WH2"),
                    _level("A-1", 2, "WH3"),
                    _level("A-1", 4, "WH2"),
                ],
            )
            calls = len(emu.requests) - sent

        assert [True, True, False, True] == [o.ok for o in outcomes]
        assert ("A-1", "warehouse") == (outcomes[2].number, outcomes[2].field)
        assert "warehouse 'WH3' is not mapped" in (outcomes[2].error or "")
        assert "'WH1', 'WH2'" in (outcomes[2].error or "")
        assert {"Warehouse": 5, "Second": 7} == _available(emu, "A-0")
        assert {"Warehouse": 0, "Second": 4} == _available(emu, "A-1")
        if bulk_threshold is None:
            assert 1 == calls  # one inventorySetQuantities
        else:
            assert 1 == shop.bulk_operations - bulk

    async def test_warehouses_at_one_location_are_summed(self) -> None:
        """
        Two warehouses mapped to one location land as their sum there
        (never one overwriting the other); a summed level goes to the
        default location.
        """
        emu = _emu()
        emu.shop.add_location("Second")
        async with _shop(
            emu,
            location="Second",
            locations={"WH1": "Warehouse", "WH2": "Warehouse"},
        ) as shop:
            await shop.push(DataType.ARTICLES, _articles(2))
            outcomes = await shop.push(
                STOCK,
                [
                    _level("A-0", 5, "WH1"),
                    _level("A-0", 7, "WH2"),
                    _level("A-1", 3, None),
                ],
            )

        assert all(o.ok for o in outcomes)
        assert {"Warehouse": 12, "Second": 0} == _available(emu, "A-0")
        assert {"Warehouse": 0, "Second": 3} == _available(emu, "A-1")

    async def test_refused_location_fails_its_levels(self) -> None:
        """
        A level Shopify refuses fails, naming the record; the article's
        other levels in the same call are sent again and land.
        """
        emu = _emu()
        second = emu.shop.add_location("Second")
        async with _shop(
            emu, locations={"WH1": "Warehouse", "WH2": second}
        ) as shop:
            await shop.push(DataType.ARTICLES, _articles(1))
            del emu.shop.locations[int(second.rsplit("/", 1)[1])]
            outcomes = await shop.push(
                STOCK, [_level("A-0", 5, "WH1"), _level("A-0", 7, "WH2")]
            )

        assert [True, False] == [o.ok for o in outcomes]
        assert ("A-0", "quantity") == (outcomes[1].number, outcomes[1].field)
        assert 5 == _available(emu, "A-0")["Warehouse"]

    async def test_unknown_location_before_any_write(self) -> None:
        """
        A location the shop does not have (in ``locations`` or as
        ``location``) is a ConfigurationError on the first push, before
        anything is written, naming it and the locations the shop has.
        """
        emu = _emu()
        async with _shop(
            emu, location="Nowhere", locations={"WH1": "Lager"}
        ) as shop:
            with pytest.raises(ConfigurationError) as caught:
                await shop.push(DataType.ARTICLES, _articles(1))

        message = str(caught.value)
        assert "'Lager' (locations['WH1'])" in message
        assert "'Nowhere' (location)" in message
        assert "it has 'Warehouse'" in message
        assert {} == emu.shop.products

    async def test_shop_without_location(self) -> None:
        """
        A shop without any location is a ConfigurationError.
        """
        emu = _emu()
        emu.shop.locations.clear()
        async with _shop(emu, locations={"WH1": "Warehouse"}) as shop:
            with pytest.raises(ConfigurationError, match="no location"):
                await shop.push(STOCK, [_level("A-0", 1, "WH1")])

    async def test_locations_read_page_by_page(self) -> None:
        """
        More than 250 locations are read page by page; the mapped one on
        the second page is found.
        """
        emu = _emu()
        for i in range(260):
            emu.shop.add_location(f"Store {i}")
        async with _shop(emu, locations={"WH": "Store 259"}) as shop:
            await shop.push(DataType.ARTICLES, _articles(1))
            (outcome,) = await shop.push(STOCK, [_level("A-0", 9, "WH")])

        assert outcome.ok
        assert 9 == _available(emu, "A-0")["Store 259"]

    def test_estimate_counts_the_location_read(self) -> None:
        """
        With ``locations`` each catalogue push estimates one request more
        (the shop's locations, read on first contact).
        """
        emu = _emu()
        plain = _shop(emu, bulk_threshold=None)
        mapped = _shop(emu, bulk_threshold=None, locations={"W": "Warehouse"})
        for data_type in (DataType.CATEGORIES, DataType.ARTICLES, STOCK):
            args = {"writes": 3, "uploads": 0, "with_media": 0}
            assert 1 + plain.estimate_requests(
                data_type, **args
            ) == mapped.estimate_requests(data_type, **args)


class TestNegative:
    @pytest.mark.parametrize("bulk_threshold", [None, 2])
    async def test_refused_without_backorders(
        self, bulk_threshold: int | None
    ) -> None:
        """
        A negative level is written as 0 (the shop must not sell its
        last figure) and fails on ``quantity``, naming the record and
        ``allow_backorders``; the rest of the push lands, directly and
        as a bulk operation.
        """
        emu = _emu()
        async with _shop(emu, bulk_threshold=bulk_threshold) as shop:
            await shop.push(DataType.ARTICLES, _articles(3))
            await shop.push(STOCK, [_level("A-0", 7, None)])
            before = shop.bulk_operations
            outcomes = await shop.push(
                STOCK,
                [
                    _level("A-1", 4, None),
                    _level("A-0", -3, None),
                    _level("A-2", 5, None),
                ],
            )
            bulk = shop.bulk_operations - before

        assert ["A-1", "A-0", "A-2"] == [o.number for o in outcomes]
        assert [True, False, True] == [o.ok for o in outcomes]
        assert "quantity" == outcomes[1].field
        assert (
            "quantity -3 of 'A-0' is negative: its stock in Shopify was "
            "set to 0, so the shop does not sell it; "
            "Shopify(allow_backorders=True) writes negative stock"
            == outcomes[1].error
        )
        assert {"Warehouse": 0} == _available(emu, "A-0")
        assert {"Warehouse": 4} == _available(emu, "A-1")
        assert {"Warehouse": 5} == _available(emu, "A-2")
        assert (1 if bulk_threshold else 0) == bulk

    @pytest.mark.parametrize("bulk_threshold", [None, 1])
    async def test_written_with_backorders(
        self, bulk_threshold: int | None
    ) -> None:
        """
        With ``allow_backorders`` a negative level is written as the ERP
        has it, directly and as a bulk operation.
        """
        emu = _emu()
        async with _shop(
            emu, bulk_threshold=bulk_threshold, allow_backorders=True
        ) as shop:
            await shop.push(DataType.ARTICLES, _articles(2))
            before = shop.bulk_operations
            outcomes = await shop.push(
                STOCK, [_level("A-0", -3, None), _level("A-1", 2, None)]
            )
            bulk = shop.bulk_operations - before

        assert all(o.ok for o in outcomes)
        assert {"Warehouse": -3} == _available(emu, "A-0")
        assert {"Warehouse": 2} == _available(emu, "A-1")
        assert (1 if bulk_threshold else 0) == bulk

    async def test_the_sum_at_a_location_counts(self) -> None:
        """
        Warehouses summed at one location go as 0 when the sum is
        negative (all their levels reported, naming the warehouses), and
        as the sum when it is not, even with a negative warehouse among
        them.
        """
        emu = _emu()
        async with _shop(
            emu, locations={"WH1": "Warehouse", "WH2": "Warehouse"}
        ) as shop:
            await shop.push(DataType.ARTICLES, _articles(2))
            await shop.push(
                STOCK, [_level("A-0", 4, "WH1"), _level("A-0", 2, "WH2")]
            )
            assert {"Warehouse": 6} == _available(emu, "A-0")
            outcomes = await shop.push(
                STOCK,
                [
                    _level("A-0", -7, "WH1"),
                    _level("A-0", 5, "WH2"),
                    _level("A-1", -2, "WH1"),
                    _level("A-1", 5, "WH2"),
                ],
            )

        assert [False, False, True, True] == [o.ok for o in outcomes]
        for outcome in outcomes[:2]:
            assert "quantity" == outcome.field
            assert "quantity -2 of 'A-0' at location " in (outcome.error or "")
            assert "warehouses 'WH1', 'WH2'" in (outcome.error or "")
        assert {"Warehouse": 0} == _available(emu, "A-0")
        assert {"Warehouse": 3} == _available(emu, "A-1")

    @pytest.mark.parametrize("bulk_threshold", [None, 2])
    async def test_a_sum_beyond_shopifys_limit_fails_alone(
        self, bulk_threshold: int | None
    ) -> None:
        """
        Warehouses summed at one location beyond what Shopify keeps
        (1,000,000,000; past 2**31 GraphQL refuses the whole call) fail
        that article's levels on quantity, naming the warehouses, and the
        other articles' stock lands (the push raised, nothing landed).
        """
        emu = _emu()
        async with _shop(
            emu,
            bulk_threshold=bulk_threshold,
            locations={"WH1": "Warehouse", "WH2": "Warehouse"},
        ) as shop:
            await shop.push(DataType.ARTICLES, _articles(2))
            outcomes = await shop.push(
                STOCK,
                [
                    _level("A-0", 2**31 - 1, "WH1"),
                    _level("A-0", 5, "WH2"),
                    _level("A-1", 3, "WH1"),
                    _level("A-1", 4, "WH2"),
                ],
            )

        assert [False, False, True, True] == [o.ok for o in outcomes]
        for outcome in outcomes[:2]:
            assert ("A-0", "quantity") == (outcome.number, outcome.field)
            assert "2147483652" in (outcome.error or "")
            assert "1,000,000,000" in (outcome.error or "")
            assert "warehouses 'WH1', 'WH2'" in (outcome.error or "")
        assert {"Warehouse": 0} == _available(emu, "A-0")
        assert {"Warehouse": 7} == _available(emu, "A-1")


class TestChunks:
    def test_an_article_stays_in_one_call(self) -> None:
        """
        Chunks hold at most 250 quantities and never split an article's
        levels, unless one article alone has more.
        """
        entries = [_Entry(f"A-{i // 3}", "L", 1, (i,)) for i in range(300)] + [
            _Entry("BIG", "L", 1, (i,)) for i in range(300, 600)
        ]

        chunks = _articles_in_chunks(entries)

        assert [249, 51, 250, 50] == [len(c) for c in chunks]
        assert list(range(600)) == [i for c in chunks for i in c]


class TestEngineMapped:
    async def test_levels_land_and_the_next_run_is_unchanged(
        self, tmp_path: Path
    ) -> None:
        """
        Through the engine with ``locations``: both warehouses of an
        article land at their locations, the article is one synced
        record, and a second run finds it unchanged.
        """
        emu = _emu()
        emu.shop.add_location("Second")
        erp = MemoryErp(
            [
                Article(number="A-1", name="Hammer", price=1),
                StockLevel(number="A-1", quantity=5, warehouse="WH1"),
                StockLevel(number="A-1", quantity=7, warehouse="WH2"),
            ]
        )
        spec = SyncSpec(types={STOCK: All()})
        async with _shop(
            emu, locations={"WH1": "Warehouse", "WH2": "Second"}
        ) as shop:
            sync = Synchronizer(
                erp=erp,
                platforms={"shop": shop},
                store=SqliteStore(tmp_path / "state.db"),
            )
            await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
            async with capture_events(sync, spec) as run:
                pass
            again = await sync.execute(spec)
            await sync.store.aclose()

        assert ["A-1"] == [e.number for e in run.of(RecordSynced)]
        assert [] == run.of(RecordFailed)
        assert {"Warehouse": 5, "Second": 7} == _available(emu, "A-1")
        assert 1 == again.counts[STOCK].unchanged


async def test_summed_and_warehouse_level_at_one_location() -> None:
    """
    A summed level and a warehouse level of one article that both go to
    one location fail together on ``warehouse`` (neither kept nor
    added); the article's other locations and other articles land.
    """
    emu = _emu()
    emu.shop.add_location("Second")
    async with _shop(
        emu, locations={"WH1": "Warehouse", "WH2": "Second"}
    ) as shop:
        await shop.push(DataType.ARTICLES, _articles(2))
        outcomes = await shop.push(
            STOCK,
            [
                _level("A-0", 5, "WH1"),
                _level("A-0", 6, None),
                _level("A-0", 7, "WH2"),
                _level("A-1", 1, None),
            ],
        )

    assert [False, False, True, True] == [o.ok for o in outcomes]
    assert ["warehouse", "warehouse"] == [o.field for o in outcomes[:2]]
    assert "warehouse 'WH1' both go to location" in (outcomes[0].error or "")
    assert {"Warehouse": 0, "Second": 7} == _available(emu, "A-0")
    assert {"Warehouse": 1, "Second": 0} == _available(emu, "A-1")


async def test_two_summed_levels_in_one_push() -> None:
    """
    Two summed levels of one article in one push fail both, naming the
    reason, instead of the last one winning.
    """
    emu = _emu()
    async with _shop(emu) as shop:
        await shop.push(DataType.ARTICLES, _articles(1))
        outcomes = await shop.push(
            STOCK, [_level("A-0", 5, None), _level("A-0", 6, None)]
        )

    assert [("A-0", "warehouse")] * 2 == [
        (o.number, o.field) for o in outcomes
    ]
    assert "2 summed stock levels in one push" in (outcomes[0].error or "")
    assert {"Warehouse": 0} == _available(emu, "A-0")


async def test_skus_with_quotes_and_backslashes() -> None:
    """
    SKUs holding a single quote or a backslash are looked up as
    themselves (escaped in the search query), so their stock lands.
    """
    skus = ["O'NEILL-1", "A\\B-2", "C-3"]
    emu = _emu()
    async with _shop(emu) as shop:
        await shop.push(
            DataType.ARTICLES,
            [
                Outgoing(record=Article(number=sku, name=sku, price=1))
                for sku in skus
            ],
        )
    # a new process: the inventory items are looked up by SKU
    async with _shop(emu) as shop:
        outcomes = await shop.push(
            STOCK,
            [
                Outgoing(record=StockLevel(number=sku, quantity=i + 4))
                for i, sku in enumerate(skus)
            ],
        )

    assert [True, True, True] == [o.ok for o in outcomes]
    assert [{"Warehouse": 4}, {"Warehouse": 5}, {"Warehouse": 6}] == [
        _available(emu, sku) for sku in skus
    ]
