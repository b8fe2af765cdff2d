"""
WooCommerce writes an article's stock in the article's own product and
variation writes (`SupportsStockOnPush`): the levels it takes go in as
``manage_stock`` and ``stock_quantity``, answered in ``Outcome.stock``;
the levels it does not take are left out, unanswered, for the stock
sync.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    MemoryErp,
    Outgoing,
    RunStatus,
    StockLevel,
    SyncSpec,
    Variant,
)
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing._platform_contract import CATEGORIES, article
from ecomsync.testing.woocommerce import WooCommerceEmulator
from ecomsync.typing import SupportsStockOnPush

from .._push import pushing


pytestmark = pytest.mark.anyio

SECRET = "cs_stock-on-push-S3CR3T"


def _emu(**options: bool) -> WooCommerceEmulator:
    return WooCommerceEmulator("ck_stock", SECRET, **options)


def _shop(emu: WooCommerceEmulator, **options: bool) -> WooCommerce:
    return WooCommerce(
        "http://shop.test",
        "ck_stock",
        SECRET,
        transport=httpx.ASGITransport(app=emu.app),
        **options,
    )


def _stock(emu: WooCommerceEmulator) -> dict[str, int | None]:
    return {p["sku"]: p["stock_quantity"] for p in emu.shop.products.values()}


def _shirt() -> Article:
    return article(
        "SHIRT",
        variants=(
            Variant(number="SHIRT-M", options=(("size", "M"),)),
            Variant(number="SHIRT-L", options=(("size", "L"),)),
        ),
    )


async def _with_categories(shop: WooCommerce) -> None:
    await shop.push(
        DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
    )


def _requests(emu: WooCommerceEmulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in emu.requests]


class TestStockInTheProductWrite:
    def test_declares_the_capability(self) -> None:
        """WooCommerce is a platform that writes stock with the article."""
        shop = WooCommerce("http://shop.test", "ck_stock", SECRET)

        assert isinstance(shop, SupportsStockOnPush)
        assert shop.stock_on_push is True

    async def test_stock_lands_in_the_article_writes(self) -> None:
        """A simple article's level goes into its product, each variant's
        into its variation, answered with their ids; no SKU look-up or
        batch of the stock sync's."""
        emu = _emu()
        async with _shop(emu) as shop:
            await _with_categories(shop)
            before = len(emu.requests)
            hammer, shirt = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=article("A-1"),
                        stock=(StockLevel(number="A-1", quantity=3),),
                    ),
                    Outgoing(
                        record=_shirt(),
                        stock=(
                            StockLevel(number="SHIRT-M", quantity=4),
                            StockLevel(number="SHIRT-L", quantity=7),
                        ),
                    ),
                ],
            )
        ids = {p["sku"]: str(p["id"]) for p in emu.shop.products.values()}
        sent = _requests(emu)[before:]

        assert hammer.ok, hammer.error
        assert shirt.ok, shirt.error
        assert {"A-1": 3, "SHIRT": None, "SHIRT-M": 4, "SHIRT-L": 7} == (
            _stock(emu)
        )
        assert [("A-1", ids["A-1"])] == [
            (s.number, s.platform_id) for s in hammer.stock
        ]
        assert {("SHIRT-M", ids["SHIRT-M"]), ("SHIRT-L", ids["SHIRT-L"])} == {
            (s.number, s.platform_id) for s in shirt.stock
        }
        assert all(s.ok for s in (*hammer.stock, *shirt.stock))
        assert 1 == sent.count("POST /wp-json/wc/v3/products/batch"), sent

    async def test_levels_the_stock_sync_refuses_are_left_out(self) -> None:
        """Negative stock (no backorders), two levels of one number, a
        level in a warehouse and a level of another article are not
        written with the article, and not answered: the article lands."""
        emu = _emu()
        async with _shop(emu) as shop:
            await _with_categories(shop)
            (outcome,) = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=_shirt(),
                        stock=(
                            StockLevel(
                                number="SHIRT", quantity=1, warehouse="W"
                            ),
                            StockLevel(number="SHIRT-M", quantity=-2),
                            StockLevel(number="SHIRT-L", quantity=1),
                            StockLevel(number="SHIRT-L", quantity=2),
                            StockLevel(number="OTHER", quantity=5),
                        ),
                    )
                ],
            )

        assert outcome.ok, outcome.error
        assert () == outcome.stock
        assert {"SHIRT": None, "SHIRT-M": None, "SHIRT-L": None} == (
            _stock(emu)
        )

    async def test_negative_stock_with_backorders_is_taken(self) -> None:
        """With allow_backorders a negative level is written like any."""
        emu = _emu()
        async with _shop(emu, allow_backorders=True) as shop:
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

        assert ["A-1"] == [s.number for s in outcome.stock]
        assert {"A-1": -2} == _stock(emu)

    async def test_a_shop_not_managing_stock_answers_none(self) -> None:
        """With the shop's stock management off, WooCommerce keeps the
        quantity but sells without limit: the level is not answered, so
        the stock sync fails it saying so."""
        emu = _emu(manage_stock=False)
        async with _shop(emu) as shop:
            await _with_categories(shop)
            (outcome,) = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=article("A-1"),
                        stock=(StockLevel(number="A-1", quantity=3),),
                    )
                ],
            )

        assert outcome.ok, outcome.error
        assert () == outcome.stock

    async def test_an_article_that_fails_answers_no_stock(self) -> None:
        """An article WooCommerce refuses answers no stock, and the article
        beside it lands with its own."""
        emu = _emu()
        async with _shop(emu) as shop:
            await _with_categories(shop)
            bad, good = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=article("A-1", categories=("NOPE",)),
                        stock=(StockLevel(number="A-1", quantity=3),),
                    ),
                    Outgoing(
                        record=article("A-2"),
                        stock=(StockLevel(number="A-2", quantity=5),),
                    ),
                ],
            )

        assert not bad.ok
        assert () == bad.stock
        assert ["A-2"] == [s.number for s in good.stock]
        assert {"A-2": 5} == _stock(emu)


class TestFirstSync:
    async def test_articles_and_stock_send_no_stock_requests(
        self, tmp_path: Path
    ) -> None:
        """A first sync of articles and All() stock writes every level
        with its article: the stock step sends nothing, and a rerun
        nothing either."""
        erp = MemoryErp(
            [
                *CATEGORIES,
                article("A-1"),
                _shirt(),
                StockLevel(number="A-1", quantity=3),
                StockLevel(number="SHIRT-M", quantity=4),
                StockLevel(number="SHIRT-L", quantity=7),
            ]
        )
        emu = _emu()
        spec = SyncSpec(
            types={
                DataType.CATEGORIES: All(),
                DataType.ARTICLES: All(),
                DataType.STOCK: All(),
            }
        )
        async with pushing(_shop(emu), erp, tmp_path) as sync:
            first = await sync.execute(spec)
            sent = len(emu.requests)
            again = await sync.execute(spec)

        batches = _requests(emu)[:sent].count(
            "POST /wp-json/wc/v3/products/batch"
        )
        assert RunStatus.SUCCEEDED == first.status, first.failures
        assert RunStatus.SUCCEEDED == again.status, again.failures
        assert 1 == batches
        assert {"A-1": 3, "SHIRT": None, "SHIRT-M": 4, "SHIRT-L": 7} == (
            _stock(emu)
        )
        assert [] == [
            r for r in _requests(emu)[sent:] if not r.startswith("GET")
        ]
