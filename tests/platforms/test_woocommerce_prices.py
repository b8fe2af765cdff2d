"""
The WooCommerce adapter against the shop's price settings: its currency
and whether it takes prices with tax.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ecomsync import Article, DataType, Outgoing, Variant
from ecomsync.testing.woocommerce import WooCommerceEmulator

from ._adapters import woocommerce_on


pytestmark = pytest.mark.anyio

KEY, SECRET = "ck_prices", "cs_prices"

HAMMER = Article(number="P-1", name="Hammer", price=Decimal("11.90"))


async def _push(
    emu: WooCommerceEmulator, record: Article, *, gross: bool = True
) -> tuple[bool, str | None, str | None]:
    woo = woocommerce_on(emu, SECRET, key=KEY, prices_include_tax=gross)
    async with woo:
        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=record)]
        )
    return outcome.ok, outcome.field, outcome.error


class TestTaxMode:
    """
    Prices reach the shop in the mode the shop takes them, or not at all.
    """

    async def test_gross_prices_to_a_shop_taking_net_ones(self) -> None:
        """
        A shop set to "prices entered without tax" (WooCommerce's own
        default) would add 19 % to a gross price sent as it is: the
        customer pays 14.16 for an article of 11.90.  The article fails
        on ``price``, naming both settings, and nothing is written.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        emu.shop.prices_include_tax = False

        ok, field, error = await _push(emu, HAMMER)

        assert not ok
        assert "price" == field
        assert "prices_include_tax=True" in (error or "")
        assert "Prices entered with tax" in (error or "")
        assert {} == emu.shop.products

    async def test_net_prices_to_a_shop_taking_gross_ones(self) -> None:
        """
        Net prices sent to a shop taking prices with tax would be charged
        as gross: the article fails on ``price``.
        """
        emu = WooCommerceEmulator(KEY, SECRET)

        ok, field, _ = await _push(emu, HAMMER, gross=False)

        assert (False, "price") == (ok, field)
        assert {} == emu.shop.products

    async def test_matching_modes_and_a_shop_without_tax(self) -> None:
        """
        Net prices to a shop taking net ones land; so do gross prices to
        a shop that calculates no tax at all, whatever its "prices
        entered with tax" says (it charges prices as entered).
        """
        net = WooCommerceEmulator(KEY, SECRET)
        net.shop.prices_include_tax = False
        untaxed = WooCommerceEmulator(KEY, SECRET)
        untaxed.shop.calc_taxes = False
        untaxed.shop.prices_include_tax = False

        landed_net = await _push(net, HAMMER, gross=False)
        landed_untaxed = await _push(untaxed, HAMMER)

        assert landed_net[0], landed_net
        assert landed_untaxed[0], landed_untaxed
        (row,) = net.shop.products.values()
        assert Decimal("10.00") == Decimal(row["regular_price"])
        (row,) = untaxed.shop.products.values()
        assert Decimal("11.90") == Decimal(row["regular_price"])


class TestCurrency:
    """
    An article priced in another currency than the shop's is not written.
    """

    async def test_article_in_another_currency(self) -> None:
        """
        An article priced in CHF is not written to a shop selling in EUR
        (its 11.90 would be charged as EUR): it fails on ``currency``,
        naming both; one in the shop's currency (any case) lands.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        franc = Article(
            number="P-2", name="Zange", price=Decimal("11.90"), currency="CHF"
        )
        euro = Article(
            number="P-3", name="Zange", price=Decimal("11.90"), currency="eur"
        )

        refused = await _push(emu, franc)
        landed = await _push(emu, euro)

        assert (False, "currency") == refused[:2]
        assert "EUR" in (refused[2] or "")
        assert "CHF" in (refused[2] or "")
        assert landed[0], landed
        assert ["P-3"] == [r["sku"] for r in emu.shop.products.values()]


class TestEstimate:
    """
    The plan's estimate of an article push counts the price settings.
    """

    async def test_worst_case_push_within_estimate(self) -> None:
        """
        Variable articles at a reduced rate, in one batch: the lookup,
        the shop's general and tax settings, its tax classes, the batch
        and a variations batch each stay within `estimate_requests`
        (the category list is read by the categories' push before).
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        articles = [
            Article(
                number=f"E-{i}",
                name="Hemd",
                price=Decimal("10.70"),
                tax_rate=Decimal(7),
                variants=(
                    Variant(number=f"E-{i}-S", options=(("Size", "S"),)),
                ),
            )
            for i in range(3)
        ]
        woo = woocommerce_on(emu, SECRET, key=KEY)
        async with woo:
            outcomes = await woo.push(
                DataType.ARTICLES, [Outgoing(record=a) for a in articles]
            )
        sent = [r for r in emu.requests if not r.path.endswith("/categories")]

        assert all(o.ok for o in outcomes), outcomes
        assert len(sent) <= woo.estimate_requests(
            DataType.ARTICLES, writes=3, uploads=0, with_media=0
        )
