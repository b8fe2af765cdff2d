"""
The engine over the Shopify adapter and emulator: a plan equals the run
that follows it and bounds its requests, and the dirty catalogue lands
exactly or fails by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import pytest
import stamina

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MediaStaging,
    MemoryErp,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
)
from ecomsync.platforms.shopify import Shopify, collection_handle
from ecomsync.testing import (
    DirtyCatalogue,
    Trap,
    capture_events,
    dirty_catalogue,
)
from ecomsync.testing.shopify import ShopifyEmulator

from .._plans import assert_run_matches_plan
from ..testing.test_dirty_catalogue import (
    Outcome,
    _check_failed,
    _ids,
    _two_runs,
)


TOKEN = "shpat_canary-S3CR3T"
PUSH = (DataType.CATEGORIES, DataType.ARTICLES, DataType.STOCK)


@pytest.fixture(autouse=True)
def _fast_retries() -> Iterator[None]:
    stamina.set_testing(True, attempts=2)
    yield
    stamina.set_testing(False)


def shop(emu: ShopifyEmulator, **kwargs: Any) -> Shopify:
    return Shopify(
        "https://shop.test",
        TOKEN,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )


@pytest.fixture(name="sync")
async def _sync(
    erp: MemoryErp, tmp_path: Path
) -> AsyncIterator[tuple[Synchronizer, ShopifyEmulator]]:
    emu = ShopifyEmulator(TOKEN, maximum=1_000_000, restore_rate=1_000_000)
    platform = shop(emu)
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        staging=MediaStaging(tmp_path / "staging"),
    )
    yield sync, emu
    await platform.aclose()
    await sync.store.aclose()


@pytest.mark.anyio
class TestPlan:
    async def test_plan_equals_run(
        self, sync: tuple[Synchronizer, ShopifyEmulator], erp: MemoryErp
    ) -> None:
        """
        After a plan, the run creates, updates and skips exactly what the
        plan listed, within its request estimate; nothing leaks the token.
        """
        engine, emu = sync
        spec = SyncSpec(types={t: All() for t in PUSH})
        await engine.execute(SyncSpec(types={DataType.CATEGORIES: All()}))
        await engine.execute(SyncSpec(types={DataType.ARTICLES: All()}))
        erp.put(StockLevel(number="A-1", quantity=4242))

        plan = await engine.plan(spec)
        seen = len(emu.requests)
        async with capture_events(engine, spec) as run:
            pass
        sent = list(emu.requests)[seen:]

        assert_run_matches_plan(plan, run, invalid=False)
        assert len(sent) <= plan.requests
        levels = [
            emu.shop.levels[(v["_item"], loc)]["available"]
            for v in emu.shop.variants.values()
            if v["sku"] == "A-1"
            for loc in emu.shop.locations
        ]
        assert [4242] == levels
        assert TOKEN not in repr(run)


# -- the dirty catalogue ---------------------------------------------------


def _meta(row: dict[str, Any], key: str) -> str | None:
    for m in row.get("_metafields", ()):
        if m["namespace"] == "ecomsync" and m["key"] == key:
            return str(m["value"])
    return None


@attrs.frozen
class _Shop:
    emu: ShopifyEmulator

    def product(self, number: str) -> dict[str, Any] | None:
        for row in self.emu.shop.products.values():
            if _meta(row, "number") == number:
                return row
        return None

    def category(self, number: str) -> dict[str, Any] | None:
        for row in self.emu.shop.collections.values():
            if row["handle"] == collection_handle(number):
                return row
        return None

    def available(self, number: str) -> int | None:
        shop = self.emu.shop
        for v in shop.variants.values():
            if v["sku"] == number:
                return sum(
                    q["available"]
                    for (item, _), q in shop.levels.items()
                    if item == v["_item"]
                )
        return None

    def check_article(self, article: Article) -> None:
        row = self.product(article.number)
        assert row is not None, f"{article.number!r} is not in the shop"
        shop = self.emu.shop
        assert article.name == row["title"]
        assert article.active == (row["status"] == "ACTIVE")
        assert {collection_handle(c) for c in article.categories} == {
            shop.collections[c]["handle"] for c in row["_collections"]
        }
        variants = {
            shop.variants[v]["sku"]: shop.variants[v] for v in row["_variants"]
        }
        if not article.variants:
            assert {article.number} == set(variants)
            assert article.price == Decimal(variants[article.number]["price"])
        for variant in article.variants:
            held = variants[variant.number]
            price = article.price if variant.price is None else variant.price
            assert price == Decimal(held["price"])
            assert list(variant.options) == [
                (o["name"], o["value"]) for o in held["selectedOptions"]
            ]

    def check_category(self, category: Category) -> None:
        row = self.category(category.number)
        assert row is not None, f"{category.number!r} is not in the shop"
        assert category.name == row["title"]
        assert category.parent == _meta(row, "parent")

    def check_stock(self, stock: StockLevel) -> None:
        assert stock.quantity == self.available(stock.number)

    def holds(self, trap: Trap) -> bool:
        number = trap.record.number
        if trap.data_type is DataType.CATEGORIES:
            return self.category(number) is not None
        if trap.data_type is DataType.STOCK:
            return self.available(number) == trap.record.quantity  # type: ignore[union-attr]
        return self.product(number) is not None


def _catalogue() -> DirtyCatalogue:
    # Product titles hold 255 characters; the customId metafield compares
    # exactly; Shopify keeps negative available quantities.
    return dirty_catalogue(
        numbers_fold=False, name_limit=255, allow_backorders=True
    )


@pytest.fixture(scope="module", name="shopify", params=["direct", "bulk"])
def _shopify(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> tuple[DirtyCatalogue, Outcome]:
    """
    Two runs of the dirty catalogue, with one productSet per article, or
    with every push of articles and stock as a bulk mutation.
    """
    stamina.set_testing(True, attempts=2)
    emulator = ShopifyEmulator(
        TOKEN, maximum=1_000_000, restore_rate=1_000_000
    )
    bulk = (
        {"bulk_threshold": 1, "bulk_poll_interval": 0.001}
        if request.param == "bulk"
        else {"bulk_threshold": None}
    )
    catalogue = _catalogue()
    try:
        outcome = anyio.run(
            _two_runs,
            catalogue,
            shop(emulator, **bulk),
            tmp_path_factory.mktemp("shopify"),
        )
    finally:
        stamina.set_testing(False)
    outcome.shop = _Shop(emulator)
    operations = len(emulator.shop.bulk_operations)
    assert (operations > 0) == (request.param == "bulk"), operations
    return catalogue, outcome


class TestDirtyCatalogue:
    @pytest.mark.parametrize(
        "trap", [pytest.param(t, id=_ids(t)) for t in _catalogue().traps]
    )
    def test_trap(
        self, shopify: tuple[DirtyCatalogue, Outcome], trap: Trap
    ) -> None:
        """
        The trap's record is in the shop exactly as the ERP has it, or
        failed naming its field, is not in the shop and kept no checksum.
        """
        _, outcome = shopify
        held: _Shop = outcome.shop
        key = (trap.data_type, trap.record.number)

        if trap.fails_on is not None:
            _check_failed(outcome, trap)
            assert not held.holds(trap)
            return
        assert key not in outcome.failed, outcome.failed.get(key)
        record = trap.record
        if isinstance(record, Article):
            held.check_article(record)
        elif isinstance(record, Category):
            held.check_category(record)
        else:
            assert isinstance(record, StockLevel)
            held.check_stock(record)

    def test_second_run_is_quiet(
        self, shopify: tuple[DirtyCatalogue, Outcome]
    ) -> None:
        """
        A second run writes nothing and fails the same records.
        """
        catalogue, outcome = shopify

        assert len(catalogue.landing(DataType.ARTICLES)) == len(
            outcome.shop.emu.shop.products
        )
        assert 0 == outcome.second_synced
        assert outcome.failed == outcome.second_failed
