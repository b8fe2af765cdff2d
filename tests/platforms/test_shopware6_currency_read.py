"""
Where the Shopware 6 adapter reads the shop's default currency: with the
sales channels, where a channel has it as its own default, else in a
look-up of its own; the currency check is the same either way.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest

from ecomsync import DataType, Outcome, Outgoing
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._mapping import sw_id
from ecomsync.testing._platform_contract import CATEGORIES, article
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._push import shopware6


pytestmark = pytest.mark.anyio

SECRET = "currency-read-secret"


def _emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIACURRENCY", client_secret=SECRET)


def _reads(emu: ShopwareEmulator, path: str) -> int:
    return sum(1 for r in emu.requests if r.path == path)


async def _push(shop: Shopware6, *articles: Any) -> list[Outcome]:
    await shop.push(
        DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
    )
    return await shop.push(
        DataType.ARTICLES, [Outgoing(record=a) for a in articles]
    )


class TestWithTheSalesChannels:
    async def test_no_currency_look_up(self) -> None:
        """A shop whose channel sells in the default currency: no look-up
        of the currency, and its code and item rounding still refuse an
        article in another currency and a price the shop would round."""
        emu = _emu()
        row = emu.entities["currency"][emu.ids.currency]
        row["itemRounding"] = {"decimals": 2, "interval": 0.05}
        shop = shopware6(emu, SECRET)

        usd, rounded, good = await _push(
            shop,
            attrs.evolve(article("A-1"), currency="USD"),
            attrs.evolve(article("A-2"), price=Decimal("9.99")),
            attrs.evolve(article("A-3"), price=Decimal("10.05")),
        )
        await shop.aclose()

        assert (False, "currency") == (usd.ok, usd.field)
        assert "default currency EUR" in (usd.error or "")
        assert (False, "price") == (rounded.ok, rounded.field)
        assert "would be sold at 10:" in (rounded.error or "")
        assert good.ok
        assert 0 == _reads(emu, "/api/search/currency")
        assert 1 == _reads(emu, "/api/search/sales-channel")


class TestOwnLookUp:
    async def test_a_channel_in_another_currency(self) -> None:
        """A channel selling in another currency by default says nothing
        of the shop's: the adapter looks the shop's default up, and
        checks prices against that one."""
        emu = _emu()
        chf = sw_id("currency", "chf")
        emu.entities["currency"][chf] = {
            **emu.entities["currency"][emu.ids.currency],
            "id": chf,
            "isoCode": "CHF",
        }
        channel = emu.entities["sales_channel"][emu.ids.sales_channel]
        channel["currencyId"] = chf
        shop = shopware6(emu, SECRET)

        in_chf, in_eur = await _push(
            shop,
            attrs.evolve(article("A-1"), currency="CHF"),
            article("A-2"),
        )
        await shop.aclose()

        assert (False, "currency") == (in_chf.ok, in_chf.field)
        assert "default currency EUR" in (in_chf.error or "")
        assert in_eur.ok
        assert 1 == _reads(emu, "/api/search/currency")
