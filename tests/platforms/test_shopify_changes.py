"""
Shopify: what the shop shows after the ERP changes an article and the
next run pushes it (through `Synchronizer`, `MemoryErp` and the
emulator): exactly the ERP's values, nothing stale left behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MediaStaging,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
    Variant,
)
from ecomsync.erp.memory import MemoryErp
from ecomsync.platforms.shopify import Shopify, collection_handle
from ecomsync.testing.shopify import ShopifyEmulator


pytestmark = pytest.mark.anyio

TOKEN = "shpat_changes"
PUSH = SyncSpec(platform="shop", types={DataType.ARTICLES: All()})
TREE = SyncSpec(platform="shop", types={DataType.CATEGORIES: All()})


@attrs.define
class Shop:
    """A synchroniser over a MemoryErp and a Shopify emulator."""

    sync: Synchronizer
    erp: MemoryErp
    emu: ShopifyEmulator

    async def push(self) -> None:
        summary = await self.sync.execute(PUSH)
        assert RunStatus.SUCCEEDED == summary.status, summary

    def variant(self, sku: str) -> dict[str, Any]:
        (row,) = [
            v for v in self.emu.shop.variants.values() if v["sku"] == sku
        ]
        return row

    def by_hand(self, **variant: Any) -> dict[str, Any]:
        """
        The emulator's answer to a product made by hand in the shop, with
        one default variant holding *variant*'s fields.
        """
        return self.emu.shop.product_set(
            {
                "title": "By hand",
                "productOptions": [
                    {"name": "Title", "values": [{"name": "Default Title"}]}
                ],
                "variants": [
                    {
                        "optionValues": [
                            {"optionName": "Title", "name": "Default Title"}
                        ],
                        **variant,
                    }
                ],
            },
            None,
        )


@pytest.fixture(name="shop")
async def _shop(tmp_path: Path) -> AsyncIterator[Shop]:
    emu = ShopifyEmulator(TOKEN, maximum=1_000_000, restore_rate=1_000_000)
    platform = Shopify(
        "https://shop.test", TOKEN, transport=httpx.ASGITransport(app=emu.app)
    )
    erp = MemoryErp()
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        staging=MediaStaging(tmp_path / "staging"),
    )
    yield Shop(sync, erp, emu)
    await platform.aclose()
    await sync.store.aclose()


SHIRT = Article(
    number="S-1",
    name="Shirt",
    price=Decimal("19.99"),
    variants=(
        Variant(number="S-1-S", options=(("Size", "S"),)),
        Variant(number="S-1-L", options=(("Size", "L"),), price="24.99"),
    ),
)


class TestPrices:
    async def test_a_free_variant_costs_nothing(self, shop: Shop) -> None:
        """
        A variant priced 0.00 in the ERP (a free sample) is sold for
        0.00, not for its article's price.
        """
        free = attrs.evolve(
            SHIRT,
            variants=(
                attrs.evolve(SHIRT.variants[0], price=Decimal("0.00")),
                SHIRT.variants[1],
            ),
        )
        shop.erp.put(free)
        await shop.push()

        assert Decimal(0) == Decimal(shop.variant("S-1-S")["price"])
        assert Decimal("24.99") == Decimal(shop.variant("S-1-L")["price"])

    async def test_a_variant_price_change_alone(self, shop: Shop) -> None:
        """
        A price changed on one variant only reaches that variant; the
        other keeps the article's price.
        """
        shop.erp.put(SHIRT)
        await shop.push()
        cheaper = attrs.evolve(
            SHIRT,
            variants=(
                SHIRT.variants[0],
                attrs.evolve(SHIRT.variants[1], price=Decimal("21.50")),
            ),
        )
        shop.erp.put(cheaper)
        await shop.push()

        assert Decimal("19.99") == Decimal(shop.variant("S-1-S")["price"])
        assert Decimal("21.50") == Decimal(shop.variant("S-1-L")["price"])


class TestBarcodes:
    async def test_removed_ean_leaves_the_shop(self, shop: Shop) -> None:
        """
        An EAN removed in the ERP (article or variant) is no longer the
        variant's barcode in the shop.
        """
        plain = Article(
            number="P-1", name="Plain", price="5.00", ean="4006381333931"
        )
        shirt = attrs.evolve(
            SHIRT,
            variants=(
                attrs.evolve(SHIRT.variants[0], ean="4006381333948"),
                SHIRT.variants[1],
            ),
        )
        shop.erp.put(plain)
        shop.erp.put(shirt)
        await shop.push()
        before = [shop.variant(s)["barcode"] for s in ("P-1", "S-1-S")]

        shop.erp.put(attrs.evolve(plain, ean=None))
        shop.erp.put(SHIRT)
        await shop.push()

        assert ["4006381333931", "4006381333948"] == before
        assert not shop.variant("P-1")["barcode"]
        assert not shop.variant("S-1-S")["barcode"]


class TestTax:
    async def test_a_tax_free_article_is_not_taxed(self, shop: Shop) -> None:
        """
        An article at 0 % tax is not taxable in Shopify (every variant),
        and is taxable again once the ERP taxes it.
        """
        free = attrs.evolve(SHIRT, tax_rate=Decimal(0))
        shop.erp.put(free)
        shop.erp.put(Article(number="P-1", name="Plain", price="5.00"))
        await shop.push()
        before = [shop.variant(s)["taxable"] for s in ("S-1-S", "S-1-L")]

        shop.erp.put(SHIRT)
        await shop.push()

        assert [False, False] == before
        assert shop.variant("P-1")["taxable"]
        assert shop.variant("S-1-S")["taxable"]
        assert shop.variant("S-1-L")["taxable"]


class TestSkuHeldElsewhere:
    async def test_a_sku_on_another_product_fails_by_name(
        self, shop: Shop
    ) -> None:
        """
        An article whose number (or a variant's) another Shopify product
        already holds (made by hand: Shopify does not keep SKUs unique)
        fails naming it, and no second product with that SKU is made;
        the article's own product is found again on the next run, and
        the rest lands.
        """
        raw = shop.by_hand(sku="S-1-L")
        held = raw["product"]["id"]
        shop.erp.put(SHIRT)
        shop.erp.put(Article(number="P-1", name="Plain", price="5.00"))
        first = await shop.sync.execute(PUSH)
        shop.erp.put(attrs.evolve(SHIRT, name="Shirt 2"))
        second = await shop.sync.execute(PUSH)

        assert [("S-1", "variants.1.number")] == [
            (f.number, f.field) for f in first.failures
        ]
        assert (
            f"SKU 'S-1-L' is held by another Shopify product ({held})"
            in first.failures[0].message
        )
        assert [("S-1", "variants.1.number")] == [
            (f.number, f.field) for f in second.failures
        ]
        assert ["S-1-L"] == [
            v["sku"]
            for v in shop.emu.shop.variants.values()
            if v["sku"] == "S-1-L"
        ]
        assert Decimal("5.00") == Decimal(shop.variant("P-1")["price"])


class TestSubCentPrices:
    async def test_a_price_finer_than_a_cent_fails_unsent(
        self, shop: Shop
    ) -> None:
        """
        A price with more than two decimals (article or variant) fails
        on its field instead of landing rounded; the emulator keeps
        prices in cents, as Shopify does.
        """
        shop.erp.put(Article(number="P-1", name="Plain", price="9.995"))
        shop.erp.put(
            attrs.evolve(
                SHIRT,
                variants=(
                    SHIRT.variants[0],
                    attrs.evolve(SHIRT.variants[1], price=Decimal("24.999")),
                ),
            )
        )
        shop.erp.put(Article(number="P-2", name="Fine", price="9.90"))
        summary = await shop.sync.execute(PUSH)
        raw = shop.by_hand(sku="H-1", price="1.005")

        assert [("P-1", "price"), ("S-1", "variants.1.price")] == sorted(
            (f.number, f.field) for f in summary.failures
        )
        assert "9.995 has more than two decimals" in (
            next(f.message for f in summary.failures if f.number == "P-1")
        )
        assert "9.90" == shop.variant("P-2")["price"]
        assert ["1.01"] == [
            v["price"]
            for v in shop.emu.shop.variants.values()
            if v["sku"] == "H-1"
        ]
        assert raw["userErrors"] == []


class TestCurrency:
    async def test_a_price_in_another_currency_fails_unsent(
        self, shop: Shop
    ) -> None:
        """
        An article priced in USD for a shop selling in EUR fails on
        currency and nothing of it is written, where its figure landed
        as a EUR price; an article in the shop's currency lands.
        """
        shop.erp.put(
            Article(number="U-1", name="Dollar", price="9.90", currency="USD")
        )
        shop.erp.put(
            Article(number="E-1", name="Euro", price="9.90", currency="eur")
        )
        summary = await shop.sync.execute(PUSH)

        assert [("U-1", "currency")] == [
            (f.number, f.field) for f in summary.failures
        ]
        assert "priced in USD, but the shop sells in EUR" in (
            summary.failures[0].message
        )
        assert ["E-1"] == [v["sku"] for v in shop.emu.shop.variants.values()]


def _parent(shop: Shop, number: str) -> str | None:
    (row,) = [
        c
        for c in shop.emu.shop.collections.values()
        if c["handle"] == collection_handle(number)
    ]
    return next(
        (
            m["value"]
            for m in row["_metafields"]
            if (m["namespace"], m["key"]) == ("ecomsync", "parent")
        ),
        None,
    )


class TestCategoryMoves:
    async def test_moves_change_the_parent_metafield(self, shop: Shop) -> None:
        """
        A category moved under another parent shows the new one; moved
        to the top it has no parent metafield left (an update keeps the
        metafields it does not name, so the adapter deletes it).
        """
        for c in (
            Category(number="P1", name="One"),
            Category(number="P2", name="Two"),
            Category(number="K", name="Kid", parent="P1"),
        ):
            shop.erp.put(c)
        await shop.sync.execute(TREE)
        first = _parent(shop, "K")
        shop.erp.put(Category(number="K", name="Kid", parent="P2"))
        await shop.sync.execute(TREE)
        second = _parent(shop, "K")
        shop.erp.put(Category(number="K", name="Kind"))
        summary = await shop.sync.execute(TREE)

        assert ("P1", "P2") == (first, second)
        assert [] == list(summary.failures)
        assert _parent(shop, "K") is None

    async def test_moves_into_a_cycle_fail_unwritten(self, shop: Shop) -> None:
        """
        Categories the ERP moves into a cycle (each the other's parent),
        sent together, fail on parent naming it; their parents stay as
        they were.
        """
        shop.erp.put(Category(number="P1", name="One"))
        shop.erp.put(Category(number="K", name="Kid", parent="P1"))
        await shop.sync.execute(TREE)
        shop.erp.put(Category(number="P1", name="One", parent="K"))
        summary = await shop.sync.execute(attrs.evolve(TREE, force=True))

        assert [("K", "parent"), ("P1", "parent")] == sorted(
            (f.number, f.field) for f in summary.failures
        )
        assert all("cycle" in f.message for f in summary.failures)
        assert ("P1", None) == (_parent(shop, "K"), _parent(shop, "P1"))

    def test_emulator_keeps_metafields_an_update_does_not_name(self) -> None:
        """
        As Shopify: collectionUpdate creates or updates the metafields it
        names and keeps the others; metafieldsDelete deletes one (null
        for one that does not exist).
        """
        emu = ShopifyEmulator(TOKEN)
        made = emu.shop.collection_write(
            {
                "title": "C",
                "metafields": [
                    {"namespace": "a", "key": "x", "value": "1"},
                    {"namespace": "a", "key": "y", "value": "2"},
                ],
            },
            create=True,
        )["collection"]
        emu.shop.collection_write(
            {
                "id": made["id"],
                "metafields": [{"namespace": "a", "key": "y", "value": "3"}],
            },
            create=False,
        )
        kept = {m["key"]: m["value"] for m in made["_metafields"]}
        answer = emu.shop.metafields_delete(
            [
                {"ownerId": made["id"], "namespace": "a", "key": "x"},
                {"ownerId": made["id"], "namespace": "a", "key": "z"},
            ]
        )

        assert {"x": "1", "y": "3"} == kept
        assert [made["id"], None] == [
            d and d["ownerId"] for d in answer["deletedMetafields"]
        ]
        assert ["y"] == [m["key"] for m in made["_metafields"]]
