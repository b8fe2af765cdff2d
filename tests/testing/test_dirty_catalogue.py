"""
The dirty catalogue, end to end: run through `Synchronizer` into the
Shopware 6 emulator and into `MemoryPlatform`, every trap is either
written exactly as the ERP has it or a per-record failure naming its
field, and the shop holds nothing else.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import pytest
import stamina

from ecomsync import (
    Article,
    Category,
    DataType,
    MemoryPlatform,
    NumberRange,
    StockLevel,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing import (
    DirtyCatalogue,
    Trap,
    dirty_catalogue,
)
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._engine_contract import (
    DirtyCatalogueContract,
    Outcome,
    check_failed,
    two_runs,
)
from .._push import PUSH


# -- the catalogue itself ----------------------------------------------


class TestDirtyCatalogue:
    def test_every_record_is_a_trap(self) -> None:
        """Records, traps and the ERP agree; duplicates are kept."""
        catalogue = dirty_catalogue()
        erp = catalogue.erp()

        numbers = [r.number for r in catalogue.records]

        assert len(numbers) == len(catalogue.traps)
        assert numbers.count("DC-Z-1") == 2
        assert f"articles={len(catalogue.of(DataType.ARTICLES))}" in repr(erp)
        assert all(t.lands or t.why for t in catalogue.traps)

    @pytest.mark.parametrize(
        ("kwargs", "number", "lands"),
        [
            ({"numbers_fold": True}, "dc-case-1", False),
            ({"numbers_fold": False}, "dc-case-1", True),
            ({"name_limit": 255}, "DC-LONG", False),
            ({"name_limit": None}, "DC-LONG", True),
            ({"allow_backorders": False}, "DC-7", False),
            ({"allow_backorders": True}, "DC-7", True),
        ],
    )
    def test_platform_dependent(
        self, kwargs: dict[str, Any], number: str, lands: bool
    ) -> None:
        """The arguments describe the platform, and the platform decides
        the outcome of collation twins, long names and negative stock."""
        catalogue = dirty_catalogue(**kwargs)

        outcome = {
            t.record.number: t.lands
            for t in catalogue.traps
            if t.data_type is not DataType.CATEGORIES
            and (t.data_type is DataType.STOCK) == (number == "DC-7")
        }

        assert lands == outcome[number]

    def test_landing_and_failing(self) -> None:
        """landing() and failing() split every type's traps."""
        catalogue = dirty_catalogue()

        for data_type in PUSH.types:
            numbers = {t.record.number for t in catalogue.of(data_type)}
            landing = catalogue.landing(data_type)
            failing = catalogue.failing(data_type)

            assert numbers == set(landing) | set(failing)
            assert not set(landing) & set(failing)


# -- into MemoryPlatform: exact comparison -------------------------------


@pytest.fixture(scope="module", name="memory")
def _memory(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[DirtyCatalogue, Outcome]:
    catalogue = dirty_catalogue(numbers_fold=False, name_limit=None)
    outcome = anyio.run(
        two_runs,
        catalogue,
        MemoryPlatform(),
        tmp_path_factory.mktemp("memory"),
    )
    return catalogue, outcome


class TestIntoMemoryPlatform:
    def test_whole_shop(self, memory: tuple[DirtyCatalogue, Outcome]) -> None:
        """The platform holds exactly the records that must land, equal
        to the ERP's, and nothing else but 0 for negative stock."""
        catalogue, outcome = memory
        platform: MemoryPlatform = outcome.shop
        zeroed = {
            t.record.number: attrs.evolve(t.record, quantity=0)
            for t in catalogue.of(DataType.STOCK)
            if isinstance(t.record, StockLevel) and t.record.quantity < 0
        }

        assert zeroed
        for data_type in PUSH.types:
            expected = dict(catalogue.landing(data_type))
            if data_type is DataType.STOCK:
                expected |= zeroed
            assert expected == platform.held(data_type)

    def test_failures(self, memory: tuple[DirtyCatalogue, Outcome]) -> None:
        """Every other record failed naming its field, kept no checksum,
        and nothing that must land failed."""
        catalogue, outcome = memory

        for trap in catalogue.traps:
            if trap.fails_on is None:
                key = (trap.data_type, trap.record.number)
                assert key not in outcome.failed, trap
            else:
                check_failed(outcome, trap)

    def test_second_run(self, memory: tuple[DirtyCatalogue, Outcome]) -> None:
        """A second run writes nothing and fails the same records again."""
        _, outcome = memory

        assert 0 == outcome.second_synced
        assert outcome.failed == outcome.second_failed


# -- into the Shopware 6 emulator ----------------------------------------


@attrs.frozen
class _Shop:
    """
    The emulated shop's catalogue, by record number.
    """

    products: dict[str, dict[str, Any]]
    variants: dict[str, dict[str, dict[str, Any]]]
    categories: dict[str, dict[str, Any]]
    category_of: dict[str, set[str]]
    media_of: dict[str, list[str]]
    options_of: dict[str, set[str]]
    media: int

    @classmethod
    def of(cls, emulator: ShopwareEmulator) -> _Shop:
        e = emulator.entities
        # Categories ecomsync wrote carry their number; the shop's own
        # (its root) do not.
        number_of: dict[str, str] = {
            cid: row["customFields"]["ecomsync_number"]
            for cid, row in e["category"].items()
            if "ecomsync_number" in (row.get("customFields") or {})
        }
        by_id = dict(e["product"])
        products = {
            row["productNumber"]: row
            for row in by_id.values()
            if not row.get("parentId")
        }
        variants: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for row in by_id.values():
            if row.get("parentId"):
                parent = by_id[row["parentId"]]["productNumber"]
                variants[parent][row["productNumber"]] = row
        category_of: dict[str, set[str]] = defaultdict(set)
        for link in e["product_category"].values():
            category_of[by_id[link["productId"]]["productNumber"]].add(
                number_of[link["categoryId"]]
            )
        media_of: dict[str, list[str]] = defaultdict(list)
        for link in e["product_media"].values():
            media_of[by_id[link["productId"]]["productNumber"]].append(
                link["mediaId"]
            )
        option = {
            oid: row["name"] for oid, row in e["property_group_option"].items()
        }
        options_of: dict[str, set[str]] = defaultdict(set)
        for link in e["product_option"].values():
            options_of[by_id[link["productId"]]["productNumber"]].add(
                option[link["optionId"]]
            )
        categories = {
            number_of[cid]: row
            for cid, row in e["category"].items()
            if cid in number_of
        }
        return cls(
            products=products,
            variants=dict(variants),
            categories=categories,
            category_of=dict(category_of),
            media_of=dict(media_of),
            options_of=dict(options_of),
            media=len(e["media"]),
        )

    def number_of(self, category_id: str | None) -> str | None:
        for number, row in self.categories.items():
            if row["id"] == category_id:
                return number
        return None

    def check_article(self, article: Article) -> None:
        row = self.products.get(article.number)
        assert row is not None, f"{article.number!r} is not in the shop"
        assert article.name == row["name"]
        assert article.active == row["active"]
        assert article.price == Decimal(str(row["price"][0]["gross"]))
        assert set(article.categories) == self.category_of.get(
            article.number, set()
        )
        assert len(article.media) == len(self.media_of.get(article.number, []))
        children = self.variants.get(article.number, {})
        assert {v.number for v in article.variants} == set(children)
        for variant in article.variants:
            child = children[variant.number]
            price = article.price if variant.price is None else variant.price
            assert price == Decimal(str(child["price"][0]["gross"]))
            assert {value for _, value in variant.options} == (
                self.options_of.get(variant.number, set())
            )

    def check_category(self, category: Category) -> None:
        row = self.categories.get(category.number)
        assert row is not None, f"{category.number!r} is not in the shop"
        assert category.name == row["name"]
        assert category.parent == self.number_of(row.get("parentId"))

    def check_stock(self, stock: StockLevel) -> None:
        assert stock.quantity == self.products[stock.number]["stock"]

    def holds(self, trap: Trap) -> bool:
        number = trap.record.number
        if trap.data_type is DataType.CATEGORIES:
            return number in self.categories
        if trap.data_type is DataType.STOCK:
            row = self.products.get(number)
            return row is not None and row["stock"] == trap.record.quantity  # type: ignore[union-attr]
        return number in self.products or any(
            number in children for children in self.variants.values()
        )


class TestIntoShopware6(DirtyCatalogueContract):
    """The dirty catalogue into the Shopware 6 emulator, twice."""

    @staticmethod
    def catalogue() -> DirtyCatalogue:
        return dirty_catalogue()

    @pytest.fixture(scope="class", name="dirty")
    @classmethod
    def _dirty(
        cls, tmp_path_factory: pytest.TempPathFactory
    ) -> tuple[DirtyCatalogue, Outcome]:
        stamina.set_testing(True, attempts=2)
        emulator = ShopwareEmulator(
            client_id="SWIADIRTY", client_secret="dirty"
        )
        platform = Shopware6(
            "http://shop.test",
            emulator.client_id,
            emulator.client_secret,
            transport=httpx.ASGITransport(app=emulator.app),
        )
        catalogue = cls.catalogue()
        try:
            outcome = anyio.run(
                two_runs, catalogue, platform, tmp_path_factory.mktemp("sw6")
            )
        finally:
            stamina.set_testing(False)
        outcome.shop = _Shop.of(emulator)
        return catalogue, outcome

    def test_whole_shop(self, dirty: tuple[DirtyCatalogue, Outcome]) -> None:
        """The shop holds the landing records and nothing else: no
        product, variant or category of a failed record, and the shared
        image once."""
        catalogue, outcome = dirty
        shop: _Shop = outcome.shop
        landing = catalogue.landing(DataType.ARTICLES)
        expected = set(landing) | {
            v.number
            for a in landing.values()
            for v in a.variants  # type: ignore[union-attr]
        }
        held = set(shop.products) | {
            n for children in shop.variants.values() for n in children
        }

        assert expected == held
        assert set(catalogue.landing(DataType.CATEGORIES)) == set(
            shop.categories
        )
        assert 1 == shop.media


class TestUnicodeRanges:
    def test_range_over_unicode_numbers(self, tmp_path: Path) -> None:
        """A NumberRange over the catalogue selects without crashing,
        whatever digits the numbers hold."""
        catalogue = dirty_catalogue()

        async def main() -> set[str]:
            erp = catalogue.erp()
            async with erp.session() as session:
                return {
                    r.number
                    async for batch in session.read(
                        DataType.ARTICLES,
                        NumberRange("DC-0", "DC-9"),
                        batch_size=100,
                    )
                    for r in batch
                }

        found = anyio.run(main)

        assert {"DC-\u0663", "DC-007", "DC-7"} <= found
        assert "DC-\uff14\uff12" not in found
