"""
What the shop does with the prices it is sent: its currency, its
"Number of decimals", and whether it takes them with tax; and why an
article's prices would not be charged as the ERP has them.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal

import attrs

from ..._model import Article
from .._answers import field_of, odd_answer, rows_of
from ._client import API, RestApi


#: Seconds the shop's price settings are used before they are read
#: again (a long-running ``serve`` sees a change).
DECIMALS_TTL = 300.0

_GENERAL = "settings/general"
_INCLUDE_TAX = "settings/tax/woocommerce_prices_include_tax"


@attrs.frozen
class ShopPrices:
    """
    The shop's price settings.
    """

    #: ``woocommerce_price_num_decimals``.
    decimals: int
    #: ``woocommerce_currency``.
    currency: str
    #: ``woocommerce_prices_include_tax`` where the shop calculates tax
    #: (``woocommerce_calc_taxes``); ``None`` where it does not, and
    #: charges prices as they are entered.
    include_tax: bool | None


@attrs.frozen
class PriceSettings:
    """
    Reads `ShopPrices`: the general settings (one request), and the tax
    setting where the shop calculates tax; again after `DECIMALS_TTL`.
    """

    api: RestApi
    _read: list[tuple[float, ShopPrices]] = attrs.field(
        init=False, factory=list
    )

    async def get(self) -> ShopPrices:
        now = time.monotonic()
        if self._read and now - self._read[0][0] < DECIMALS_TTL:
            return self._read[0][1]
        what = f"GET {API}/{_GENERAL}"
        answer = (await self.api.call("GET", _GENERAL)).json()
        values = {
            field_of("WooCommerce", what, row, "id", where=f"item {i}"): (
                row.get("value") if isinstance(row, dict) else None
            )
            for i, row in enumerate(rows_of("WooCommerce", what, answer))
        }
        raw = values.get("woocommerce_price_num_decimals")
        try:
            decimals = int(str(raw))
        except ValueError:
            raise odd_answer(
                "WooCommerce",
                what,
                f"woocommerce_price_num_decimals {raw!r} is not a number "
                "of decimals",
            ) from None
        currency = values.get("woocommerce_currency")
        if not isinstance(currency, str) or not currency:
            raise odd_answer(
                "WooCommerce", what, f"woocommerce_currency is {currency!r}"
            )
        include_tax = None
        if values.get("woocommerce_calc_taxes") == "yes":
            found = (await self.api.call("GET", _INCLUDE_TAX)).json()
            value = found.get("value") if isinstance(found, dict) else None
            if value not in ("yes", "no"):
                raise odd_answer(
                    "WooCommerce",
                    f"GET {API}/{_INCLUDE_TAX}",
                    f"value {value!r} is neither 'yes' nor 'no'",
                )
            include_tax = value == "yes"
        shop = ShopPrices(decimals, currency, include_tax)
        self._read[:] = [(now, shop)]
        return shop


def unpriced(
    article: Article, shop: ShopPrices, *, gross: bool
) -> tuple[str, str] | None:
    """
    Why WooCommerce would not charge *article*'s prices as the ERP has
    them, and the field, if it would not: another currency, prices sent
    *gross* (or net) where the shop takes them net (or gross), so it
    would add the tax twice (or charge none), or more decimals than the
    shop's.
    """
    if article.currency.upper() != shop.currency.upper():
        return (
            f"the shop sells in {shop.currency} (WooCommerce > Settings > "
            f"General > Currency), the article is priced in "
            f"{article.currency}",
            "currency",
        )
    if shop.include_tax is not None and shop.include_tax is not gross:
        if gross:
            effect = (
                "takes them without tax and would add the tax to the "
                "gross price a second time"
            )
        else:
            effect = (
                "takes them with tax and would charge the net price, "
                "tax included"
            )
        return (
            f"ecomsync sends prices {'gross' if gross else 'net'} "
            f"(WooCommerce(prices_include_tax={gross})), but the shop "
            f"{effect} (WooCommerce > Settings > Tax > Prices entered "
            "with tax); set one to match the other",
            "price",
        )
    return rounded(article, shop.decimals)


def rounded(article: Article, decimals: int) -> tuple[str, str] | None:
    """
    Why WooCommerce would not charge one of *article*'s prices as it is
    (it shows and charges prices rounded to the shop's *decimals*), and
    the field, if it would not.
    """
    if article.variants:
        prices = [
            ("price", article.price)
            if v.price is None
            else (f"variants.{k}.price", v.price)
            for k, v in enumerate(article.variants)
        ]
    else:
        prices = [("price", article.price)]
    step = Decimal(1).scaleb(-decimals)
    for field, price in prices:
        exponent = price.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > decimals:
            charged = price.quantize(step, rounding=ROUND_HALF_UP)
            return (
                f"{field} {price} has more decimals than the shop's "
                f"{decimals} decimals (WooCommerce > Settings > General > "
                f"Number of decimals): WooCommerce would charge {charged}",
                field,
            )
    return None
