"""
Shopware 6 writes an article's stock in the article's own Sync
(`SupportsStockOnPush`): the levels it takes go into the product rows,
answered in ``Outcome.stock``; the levels it does not take are left out,
unanswered, for the stock sync.
"""

from __future__ import annotations

import httpx
import pytest

from ecomsync import Article, DataType, Outgoing, StockLevel, Variant
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._mapping import product_id
from ecomsync.testing._platform_contract import CATEGORIES, article
from ecomsync.testing.shopware6 import ShopwareEmulator
from ecomsync.typing import SupportsStockOnPush


pytestmark = pytest.mark.anyio

SECRET = "stock-on-push-secret"


def _shop(emu: ShopwareEmulator, **options: bool) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        SECRET,
        transport=httpx.ASGITransport(app=emu.app),
        **options,
    )


def _stock(emu: ShopwareEmulator) -> dict[str, int]:
    return {
        p["productNumber"]: p["stock"]
        for p in emu.entities["product"].values()
    }


def _shirt() -> Article:
    return article(
        "SHIRT",
        variants=(
            Variant(number="SHIRT-M", options=(("size", "M"),)),
            Variant(number="SHIRT-L", options=(("size", "L"),)),
        ),
    )


async def _with_categories(shop: Shopware6) -> None:
    await shop.push(
        DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
    )


class TestStockInTheProductRow:
    def test_declares_the_capability(self) -> None:
        """Shopware6 is a platform that writes stock with the article."""
        shop = Shopware6("http://shop.test", "k", SECRET)

        assert isinstance(shop, SupportsStockOnPush)
        assert shop.stock_on_push is True

    async def test_variants_stock_lands_in_the_article_sync(self) -> None:
        """Each variant's level goes into its own product row of the one
        article Sync, and is answered with the variant's product id."""
        emu = ShopwareEmulator(client_id="SWIASTOCK", client_secret=SECRET)
        shop = _shop(emu)
        await _with_categories(shop)
        syncs = sum(1 for r in emu.requests if r.path == "/api/_action/sync")

        (outcome,) = await shop.push(
            DataType.ARTICLES,
            [
                Outgoing(
                    record=_shirt(),
                    stock=(
                        StockLevel(number="SHIRT-M", quantity=4),
                        StockLevel(number="SHIRT-L", quantity=7),
                    ),
                )
            ],
        )
        await shop.aclose()

        assert outcome.ok
        assert {"SHIRT": 0, "SHIRT-M": 4, "SHIRT-L": 7} == _stock(emu)
        assert [
            ("SHIRT-M", product_id("SHIRT-M")),
            ("SHIRT-L", product_id("SHIRT-L")),
        ] == [(s.number, s.platform_id) for s in outcome.stock]
        assert all(s.ok for s in outcome.stock)
        after = sum(1 for r in emu.requests if r.path == "/api/_action/sync")
        assert 1 == after - syncs  # the article's Sync, no stock Sync

    async def test_an_existing_product_gets_its_stock_too(self) -> None:
        """A product the shop holds takes the level in its row as well
        (without one, its stock stays as it was)."""
        emu = ShopwareEmulator(client_id="SWIASTOCK", client_secret=SECRET)
        shop = _shop(emu)
        await _with_categories(shop)
        await shop.push(
            DataType.ARTICLES,
            [
                Outgoing(
                    record=article("A-1"),
                    stock=(StockLevel(number="A-1", quantity=3),),
                )
            ],
        )

        (outcome,) = await shop.push(
            DataType.ARTICLES,
            [
                Outgoing(
                    record=article("A-1", name="Hammer, new"),
                    stock=(StockLevel(number="A-1", quantity=9),),
                )
            ],
        )
        await shop.push(DataType.ARTICLES, [Outgoing(record=article("A-1"))])
        await shop.aclose()

        assert ["A-1"] == [s.number for s in outcome.stock]
        assert {"A-1": 9} == _stock(emu)

    async def test_levels_the_stock_sync_refuses_are_left_out(self) -> None:
        """Negative stock (no backorders), two levels of one number and a
        level of another article are not written with the article, and
        not answered: the article lands, new products with stock 0."""
        emu = ShopwareEmulator(client_id="SWIASTOCK", client_secret=SECRET)
        shop = _shop(emu)
        await _with_categories(shop)

        (outcome,) = await shop.push(
            DataType.ARTICLES,
            [
                Outgoing(
                    record=_shirt(),
                    stock=(
                        StockLevel(number="SHIRT-M", quantity=-2),
                        StockLevel(number="SHIRT-L", quantity=1),
                        StockLevel(number="SHIRT-L", quantity=2),
                        StockLevel(number="OTHER", quantity=5),
                    ),
                )
            ],
        )
        await shop.aclose()

        assert outcome.ok
        assert () == outcome.stock
        assert {"SHIRT": 0, "SHIRT-M": 0, "SHIRT-L": 0} == _stock(emu)

    async def test_negative_stock_with_backorders_is_taken(self) -> None:
        """With allow_backorders a negative level is written like any."""
        emu = ShopwareEmulator(client_id="SWIASTOCK", client_secret=SECRET)
        shop = _shop(emu, allow_backorders=True)
        await _with_categories(shop)

        (outcome,) = await shop.push(
            DataType.ARTICLES,
            [
                Outgoing(
                    record=article("A-1"),
                    stock=(StockLevel(number="A-1", quantity=-2),),
                )
            ],
        )
        await shop.aclose()

        assert ["A-1"] == [s.number for s in outcome.stock]
        assert {"A-1": -2} == _stock(emu)

    async def test_an_article_that_fails_answers_no_stock(self) -> None:
        """An article Shopware refuses wrote nothing: no stock answered,
        and the article beside it lands with its own."""
        emu = ShopwareEmulator(client_id="SWIASTOCK", client_secret=SECRET)
        shop = _shop(emu)
        await _with_categories(shop)

        bad, good = await shop.push(
            DataType.ARTICLES,
            [
                Outgoing(
                    record=article("A-1", name=""),
                    stock=(StockLevel(number="A-1", quantity=3),),
                ),
                Outgoing(
                    record=article("A-2"),
                    stock=(StockLevel(number="A-2", quantity=5),),
                ),
            ],
        )
        await shop.aclose()

        assert not bad.ok
        assert () == bad.stock
        assert ["A-2"] == [s.number for s in good.stock]
        assert {"A-2": 5} == _stock(emu)
