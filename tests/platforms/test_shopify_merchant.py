"""
Shopify with a merchant's real shop: several locations (the primary one
not first by name) and SKUs held twice; stock lands where the shop sells
it, never on a location or product picked by chance.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ecomsync import All, Article, DataType, Outgoing, StockLevel
from ecomsync.platforms.shopify import Shopify
from ecomsync.testing.shopify import ShopifyEmulator

from .._retries import fast_retries
from ._adapters import shopify_emulator, shopify_on


pytestmark = pytest.mark.anyio

TOKEN = "shpat_merchant-S3CR3T"


_fast_retries = fast_retries(2)


def _emu() -> ShopifyEmulator:
    return shopify_emulator(TOKEN)


def _shop(emu: ShopifyEmulator, **kwargs: Any) -> Shopify:
    return shopify_on(emu, TOKEN, **kwargs)


def _available(emu: ShopifyEmulator, sku: str) -> dict[str, int]:
    """The SKU's available quantity per location name, per variant."""
    shop = emu.shop
    found: dict[str, int] = {}
    for v in shop.variants.values():
        if v["sku"] == sku:
            for (item, loc), q in shop.levels.items():
                if item == v["_item"] and loc in shop.locations:
                    name = shop.locations[loc]["name"]
                    found[name] = found.get(name, 0) + q["available"]
    return found


async def _articles(shop: Shopify, *numbers: str) -> None:
    outcomes = await shop.push(
        DataType.ARTICLES,
        [Outgoing(record=Article(number=n, name=n, price=1)) for n in numbers],
    )
    assert all(o.ok for o in outcomes), outcomes


class TestPrimaryLocation:
    async def test_stock_lands_at_the_primary_location(self) -> None:
        """
        Without location=, stock goes to the shop's primary location,
        not to the first by name.
        """
        emu = _emu()
        emu.shop.add_location("Amsterdam pop-up")  # sorts before Warehouse
        async with _shop(emu) as shop:
            await _articles(shop, "A-1")
            outcomes = await shop.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="A-1", quantity=7))],
            )
        assert [o.ok for o in outcomes] == [True]
        # the pop-up does not stock it: a new variant is stocked at the
        # primary location only
        assert _available(emu, "A-1") == {"Warehouse": 7}

    async def test_a_summed_level_with_locations_mapped(self) -> None:
        """
        With locations mapped, a level without a warehouse goes to the
        primary location.
        """
        emu = _emu()
        emu.shop.add_location("Amsterdam pop-up")
        async with _shop(emu, locations={"WH-2": "Amsterdam pop-up"}) as shop:
            await _articles(shop, "A-1", "B-1")
            outcomes = await shop.push(
                DataType.STOCK,
                [
                    Outgoing(record=StockLevel(number="A-1", quantity=7)),
                    Outgoing(
                        record=StockLevel(
                            number="B-1", quantity=2, warehouse="WH-2"
                        )
                    ),
                ],
            )
        assert [o.ok for o in outcomes] == [True, True]
        assert _available(emu, "A-1") == {
            "Warehouse": 7,
            "Amsterdam pop-up": 0,
        }
        assert _available(emu, "B-1") == {
            "Warehouse": 0,
            "Amsterdam pop-up": 2,
        }

    async def test_a_primary_location_set_later(self) -> None:
        """
        A location made primary in the shop is the one written.
        """
        emu = _emu()
        emu.shop.add_location("Zentrallager", primary=True)
        async with _shop(emu) as shop:
            await _articles(shop, "A-1")
            await shop.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="A-1", quantity=3))],
            )
        assert _available(emu, "A-1") == {"Zentrallager": 3}


def _by_hand(emu: ShopifyEmulator, sku: str) -> str:
    """A product made by hand in the shop holding *sku*; its GID."""
    answer = emu.shop.product_set(
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
                    "sku": sku,
                }
            ],
        },
        None,
    )
    return str(answer["product"]["id"])


class TestSkuHeldTwice:
    async def test_stock_of_a_sku_two_products_hold_fails(self) -> None:
        """
        Stock of a SKU that a product made by hand holds as well (after
        the article landed) fails on number naming both products; none
        of them gets it, instead of whichever the lookup listed last.
        """
        emu = _emu()
        async with _shop(emu) as shop:
            await _articles(shop, "A-1", "B-1")
        copy = _by_hand(emu, "A-1")
        async with _shop(emu) as shop:  # a later run: nothing cached
            outcomes = await shop.push(
                DataType.STOCK,
                [
                    Outgoing(record=StockLevel(number="A-1", quantity=7)),
                    Outgoing(record=StockLevel(number="B-1", quantity=4)),
                ],
            )
        failed, landed = outcomes
        assert (failed.number, failed.field) == ("A-1", "number")
        assert failed.error is not None
        assert copy in failed.error
        assert "held by 2 Shopify variants" in failed.error
        assert landed.ok
        assert _available(emu, "A-1") == {"Warehouse": 0}
        assert _available(emu, "B-1") == {"Warehouse": 4}

    async def test_a_sku_three_products_hold_hides_no_other(self) -> None:
        """
        A SKU three products hold fails naming all three, and does not
        crowd out of the look-up another SKU a second product holds:
        that one fails too, instead of its stock reaching one of them.
        """
        emu = _emu()
        async with _shop(emu) as shop:
            await _articles(shop, "A-1", "B-1")
        copies = [_by_hand(emu, "A-1"), _by_hand(emu, "A-1")]
        copy = _by_hand(emu, "B-1")
        async with _shop(emu) as shop:  # a later run: nothing cached
            outcomes = await shop.push(
                DataType.STOCK,
                [
                    Outgoing(record=StockLevel(number="A-1", quantity=7)),
                    Outgoing(record=StockLevel(number="B-1", quantity=4)),
                ],
            )
        assert [(o.number, o.field) for o in outcomes] == [
            ("A-1", "number"),
            ("B-1", "number"),
        ]
        assert "held by 3 Shopify variants" in (outcomes[0].error or "")
        assert all(c in (outcomes[0].error or "") for c in copies)
        assert copy in (outcomes[1].error or "")
        assert _available(emu, "B-1") == {"Warehouse": 0}

    async def test_an_article_push_sees_every_holder(self) -> None:
        """
        An article push whose SKU three products hold does not crowd
        out of the look-up another article's SKU a product made by hand
        holds: both fail by name, no third copy is made.
        """
        emu = _emu()
        async with _shop(emu) as shop:
            await _articles(shop, "A-1", "B-1")
        _by_hand(emu, "A-1")
        _by_hand(emu, "A-1")
        copy = _by_hand(emu, "B-1")
        async with _shop(emu) as shop:
            outcomes = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(record=Article(number=n, name=n, price=2))
                    for n in ("A-1", "B-1")
                ],
            )
        assert [(o.number, o.field) for o in outcomes] == [
            ("A-1", "number"),
            ("B-1", "number"),
        ]
        assert copy in (outcomes[1].error or "")


class TestPresentmentCurrency:
    async def test_an_order_paid_in_another_currency(self) -> None:
        """
        An order the customer paid in CHF in a EUR shop (Shopify
        Markets) reaches the ERP in CHF with what the customer paid,
        not in the shop's EUR.
        """
        emu = _emu()
        emu.place_order(
            [("A-1", 3, "10.00")],
            currency="EUR",
            presentment=("CHF", "0.9731"),
            shipping="4.90",
            taxes_included=False,
            tax_rate="0.081",
            name="#1001",
        )
        async with _shop(emu) as shop:
            orders = [
                o
                async for b in shop.fetch_orders(All(), batch_size=10)
                for o in b
            ]
        (order,) = orders
        assert order.currency == "CHF"
        (line,) = order.lines
        # 10.00 EUR is 9.73 CHF; 29.19 + 8.1 % tax (2.36) = 31.55
        assert (line.unit_price * 3).quantize(Decimal("0.01")) == Decimal(
            "31.55"
        )
        assert order.shipping_total == Decimal("4.77") + Decimal("0.39")
        assert order.total == Decimal("31.55") + Decimal("5.16")


def _untrack(emu: ShopifyEmulator, sku: str) -> None:
    """Turn "Track quantity" off for the variant holding *sku*, by hand."""
    shop = emu.shop
    (item,) = [v["_item"] for v in shop.variants.values() if v["sku"] == sku]
    shop.untracked.add(item)


def _levels(**quantities: int) -> list[Outgoing]:
    return [
        Outgoing(record=StockLevel(number=n.replace("_", "-"), quantity=q))
        for n, q in quantities.items()
    ]


class TestQuantityNotTracked:
    @pytest.mark.parametrize("seen_by", ["article push", "stock look-up"])
    async def test_stock_of_an_untracked_variant_fails(
        self, seen_by: str
    ) -> None:
        """
        A variant whose inventory Shopify does not track sells without
        limit: its level fails on quantity naming the setting, nothing of
        it is written, the other level lands; seen in the answer of an
        article push and by the stock look-up of a new process alike.
        """
        emu = _emu()
        async with _shop(emu) as shop:
            await _articles(shop, "A-1", "A-2")
        _untrack(emu, "A-1")
        async with _shop(emu) as shop:
            if seen_by == "article push":
                await _articles(shop, "A-1", "A-2")
            outcomes = await shop.push(DataType.STOCK, _levels(A_1=5, A_2=3))

        assert [(o.number, o.ok, o.field) for o in outcomes] == [
            ("A-1", False, "quantity"),
            ("A-2", True, None),
        ]
        assert "Track quantity" in (outcomes[0].error or "")
        assert ({"Warehouse": 0}, {"Warehouse": 3}) == (
            _available(emu, "A-1"),
            _available(emu, "A-2"),
        )

    async def test_tracked_again_lands(self) -> None:
        """Once its tracking is on again, the next push of the same
        process writes the level."""
        emu = _emu()
        async with _shop(emu) as shop:
            await _articles(shop, "A-1")
            _untrack(emu, "A-1")
            await _articles(shop, "A-1")
            (refused,) = await shop.push(DataType.STOCK, _levels(A_1=5))
            emu.shop.untracked.clear()
            (landed,) = await shop.push(DataType.STOCK, _levels(A_1=5))

        assert (False, True) == (refused.ok, landed.ok)
        assert {"Warehouse": 5} == _available(emu, "A-1")
