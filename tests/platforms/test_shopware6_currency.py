"""
Prices and currencies on a Shopware 6 shop: an article in another currency,
a shop with another default currency, a price the shop would round fails;
prices the shop keeps land as they are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import attrs
import pytest

from ecomsync import (
    DataType,
    Variant,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._claims import ShopCurrency
from ecomsync.testing._platform_contract import article
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._retries import fast_retries
from ._shopware6_data import (
    _numbers,
    _push,
    _shop,
    attrs_evolve,
    data_emu,
    data_shop,
)


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)

_emu = data_emu
_shop_fixture = data_shop


class TestCurrency:
    @pytest.fixture(name="shop")
    async def _new_process(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> AsyncIterator[Shopware6]:
        # Another process on the shop the categories went into: it reads
        # the currency (with the sales channels) at its first article
        # push, after the test has set the currency up.
        fresh = _shop(emu)
        yield fresh
        await fresh.aclose()

    async def test_article_in_another_currency_fails(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Prices go into the shop's default currency: an article priced in
        another fails on ``currency`` (never 10 USD written as 10 EUR);
        the rest lands, and the code's case does not matter.
        """
        outcomes = await _push(
            shop,
            DataType.ARTICLES,
            attrs.evolve(article("A-1"), currency="USD"),
            attrs.evolve(article("A-2"), currency="eur"),
        )

        assert [False, True] == [o.ok for o in outcomes]
        assert "currency" == outcomes[0].field
        assert "USD" in (outcomes[0].error or "")
        assert "EUR" in (outcomes[0].error or "")
        assert ["A-2"] == list(_numbers(emu))
        (blank,) = await _push(
            shop,
            DataType.ARTICLES,
            attrs_evolve(article("A-3"), currency=None),
        )
        assert (False, "currency") == (blank.ok, blank.field)

    async def test_shop_with_another_default_currency(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        The shop's default currency is read from the shop, once: a shop
        set up in CHF takes CHF prices and refuses EUR ones.
        """
        emu.entities["currency"][emu.ids.currency]["isoCode"] = "CHF"
        chf = attrs.evolve(article("A-2"), currency="CHF")

        first = await _push(shop, DataType.ARTICLES, article("A-1"), chf)
        (again,) = await _push(
            shop, DataType.ARTICLES, attrs.evolve(chf, number="A-3")
        )

        assert [False, True, True] == [o.ok for o in (*first, again)]
        assert "in its default currency CHF" in (first[0].error or "")
        # With the sales channels, once per process (the categories', this)
        assert [0, 2] == [
            sum(1 for r in emu.requests if r.path == f"/api/search/{e}")
            for e in ("currency", "sales-channel")
        ]

    @pytest.mark.parametrize(
        ("rounding", "price", "variant", "sold"),
        [
            ({"decimals": 2, "interval": 0.01}, "1.23456789", None, "1.23"),
            ({"decimals": 2, "interval": 0.01}, "9.99", "0.045", "0.05"),
            ({"decimals": 2, "interval": 0.05}, "9.99", None, "10"),
        ],
    )
    async def test_price_the_shop_would_round_fails(
        self,
        shop: Shopware6,
        emu: ShopwareEmulator,
        rounding: dict[str, Any],
        price: str,
        variant: str | None,
        sold: str,
    ) -> None:
        """
        Shopware's cart sells a unit price rounded by the currency's item
        rounding: a price it would change fails on its field, saying what
        the shop would charge, instead of selling at another price.
        """
        emu.entities["currency"][emu.ids.currency]["itemRounding"] = rounding
        variants = (
            ()
            if variant is None
            else (
                Variant(
                    number="P-1", options=(("C", "r"),), price=Decimal(variant)
                ),
            )
        )
        bad = attrs.evolve(
            article("P"), price=Decimal(price), variants=variants
        )

        outcome, good = await _push(
            shop,
            DataType.ARTICLES,
            bad,
            attrs.evolve(article("A-2"), price=Decimal(10)),
        )

        field = "price" if variant is None else "variants.0.price"
        assert (False, field) == (outcome.ok, outcome.field)
        assert f"would be sold at {sold}:" in (outcome.error or "")
        assert good.ok
        assert "P" not in _numbers(emu)

    async def test_prices_the_shop_keeps_land(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Trailing zeros are no decimals; a shop rounding to four decimals
        takes 0.0450, with its net to four decimals too (net customers
        pay from it), as does one whose currency has no item rounding.
        """
        row = emu.entities["currency"][emu.ids.currency]
        row["itemRounding"] = {"decimals": 4, "interval": 0.01}
        (zeros, fine) = await _push(
            shop,
            DataType.ARTICLES,
            attrs.evolve(article("A-1"), price=Decimal("9.9900")),
            attrs.evolve(article("A-2"), price=Decimal("0.0450")),
        )

        assert zeros.ok
        assert fine.ok
        (price,) = _numbers(emu)["A-2"]["price"]
        assert (0.045, 0.0378) == (price["gross"], price["net"])

    @pytest.mark.parametrize(
        "row",
        [
            None,
            {"isoCode": "EUR"},
            {"isoCode": "EUR", "itemRounding": {"decimals": "2"}},
            {"isoCode": "EUR", "itemRounding": {"interval": "x"}},
            {"isoCode": "EUR", "itemRounding": {"interval": 0}},
        ],
    )
    def test_rounding_not_given_rounds_nothing(
        self, row: dict[str, Any] | None
    ) -> None:
        """
        A currency row without a usable item rounding checks no decimals.
        """
        currency = ShopCurrency.from_row(row)

        assert Decimal("1.23456") == currency.sold_at(Decimal("1.23456"))
