"""
Order money from every platform adapter: a line's unit price is the gross
price per unit the customer pays for it, after the line's own discounts
(`OrderLine`), whatever the platform keeps.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from ecomsync import All, Order
from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.vendure._orders import to_order as vendure_order
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing.shopify import ShopifyEmulator
from ecomsync.testing.shopware6 import ShopwareEmulator
from ecomsync.testing.woocommerce import WooCommerceEmulator


pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-NEVER-SHOWN"


async def _fetched(shop: Any) -> Order:
    try:
        (order,) = [
            o
            async for page in shop.fetch_orders(All(), batch_size=10)
            for o in page
        ]
    finally:
        await shop.aclose()
    return order


def _amount(order: Order, i: int) -> Decimal:
    line = order.lines[i]
    return (line.unit_price * line.quantity).quantize(Decimal("0.01"))


class TestShopware6:
    @staticmethod
    def _shop(emu: ShopwareEmulator) -> Shopware6:
        return Shopware6(
            "http://shop.test",
            emu.client_id,
            emu.client_secret,
            transport=httpx.ASGITransport(app=emu.app),
        )

    async def test_net_order_lines_are_gross(self) -> None:
        """A net-priced order's (B2B) line is read gross: net + its tax."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        emu.place_order(
            order_number="N-1",
            lines=[{"quantity": 3, "unitPrice": 10.0, "taxRate": 19}],
            tax_status="net",
        )

        order = await _fetched(self._shop(emu))

        assert Decimal("11.90") == order.lines[0].unit_price
        assert Decimal("35.70") == order.total

    async def test_gross_order_lines_stay_gross(self) -> None:
        """A gross order's line is Shopware's unit price as it is."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        emu.place_order(
            order_number="G-1",
            lines=[{"quantity": 3, "unitPrice": 11.9, "taxRate": 19}],
        )

        order = await _fetched(self._shop(emu))

        assert Decimal("11.9") == order.lines[0].unit_price
        assert Decimal("35.7") == order.total


class TestWooCommerce:
    async def test_line_is_gross_before_coupons(self) -> None:
        """A line is its subtotal plus subtotal tax (before the coupon
        WooCommerce spreads over the lines' totals), per unit."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        emu.place_order(
            number="101",
            billing={"country": "DE"},
            lines=[
                {
                    "sku": "A-1",
                    "quantity": 2,
                    "price": "10.00",
                    "subtotal": "20.00",
                    "subtotal_tax": "3.80",
                    "total": "18.00",
                    "total_tax": "3.42",
                }
            ],
        )
        shop = WooCommerce(
            "https://shop.test",
            "ck_x",
            SECRET,
            transport=httpx.ASGITransport(app=emu.app),
        )

        order = await _fetched(shop)

        assert Decimal("11.90") == order.lines[0].unit_price


class TestShopify:
    @staticmethod
    def _shop(emu: ShopifyEmulator) -> Shopify:
        return Shopify(
            "https://shop.test",
            "shpat_x",
            transport=httpx.ASGITransport(app=emu.app),
        )

    async def test_line_discount_is_in_the_unit_price(self) -> None:
        """A line-level discount lowers the line's unit price (Shopify's
        original unit price is before it)."""
        emu = ShopifyEmulator("shpat_x")
        emu.place_order([("A-1", 2, "10.00", "3.00")])

        order = await _fetched(self._shop(emu))

        assert Decimal("8.50") == order.lines[0].unit_price

    async def test_tax_exclusive_shop_lines_are_gross(self) -> None:
        """In a shop whose prices exclude tax, a line is its discounted
        total plus its tax lines."""
        emu = ShopifyEmulator("shpat_x")
        emu.place_order(
            [("A-1", 3, "10.00")], taxes_included=False, tax_rate="0.19"
        )

        order = await _fetched(self._shop(emu))

        assert Decimal("11.90") == order.lines[0].unit_price
        assert Decimal("35.70") == order.total


class TestVendure:
    @staticmethod
    def _raw(**line: Any) -> dict[str, Any]:
        return {
            "code": "V-1",
            "state": "PaymentSettled",
            "orderPlacedAt": "2026-11-02T09:30:00Z",
            "updatedAt": "2026-11-02T09:30:00Z",
            "currencyCode": "EUR",
            "totalWithTax": 3000,
            "shippingWithTax": 0,
            "subTotalWithTax": 3000,
            "customer": None,
            "billingAddress": {"streetLine1": "Weg 1", "countryCode": "DE"},
            "shippingAddress": None,
            "lines": [
                {
                    "id": "1",
                    "quantity": 3,
                    "productVariant": {"id": "9", "sku": "A-1", "name": "A"},
                    **line,
                }
            ],
            "fulfillments": [],
        }

    def test_line_promotion_is_in_the_unit_price(self) -> None:
        """A line's unit price is after its own promotion: Vendure's
        discounted line price with tax over the quantity, not
        ``unitPriceWithTax``; 10.00 for 3 keeps its amount to the cent."""
        order = vendure_order(
            self._raw(
                unitPriceWithTax=1190,
                discountedLinePriceWithTax=1000,
                proratedLinePriceWithTax=1000,
            )
        )

        assert Decimal("10.00") == _amount(order, 0)
        assert Decimal("3.33") == order.lines[0].unit_price.quantize(
            Decimal("0.01")
        )
