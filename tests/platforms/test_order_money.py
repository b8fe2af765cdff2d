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

from ecomsync import Order
from ecomsync._record_checks import problems
from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._order_mapping import order_from
from ecomsync.platforms.vendure._orders import to_order as vendure_order
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing.shopify import ShopifyEmulator
from ecomsync.testing.shopware6 import ShopwareEmulator
from ecomsync.testing.woocommerce import WooCommerceEmulator

from ._adapters import shopify_on, woocommerce_on
from ._orders import fetched_one


pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-NEVER-SHOWN"


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

        order = await fetched_one(self._shop(emu))

        assert Decimal("11.90") == order.lines[0].unit_price
        assert Decimal("35.70") == order.total

    async def test_gross_order_lines_stay_gross(self) -> None:
        """A gross order's line is Shopware's unit price as it is."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        emu.place_order(
            order_number="G-1",
            lines=[{"quantity": 3, "unitPrice": 11.9, "taxRate": 19}],
        )

        order = await fetched_one(self._shop(emu))

        assert Decimal("11.9") == order.lines[0].unit_price
        assert Decimal("35.7") == order.total

    async def test_shipping_and_promotion(self) -> None:
        """Shipping costs and a promotion line become the order's gross
        shipping and discount, and the order adds up."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        emu.place_order(
            order_number="P-1",
            lines=[
                {"quantity": 2, "unitPrice": 10.0, "taxRate": 19},
                {"type": "promotion", "quantity": 1, "unitPrice": -5.0},
            ],
            shipping_costs=4.9,
        )

        order = await fetched_one(self._shop(emu))

        assert 1 == len(order.lines)
        assert (Decimal("4.9"), Decimal("5.0"), Decimal("19.9")) == (
            order.shipping_total,
            order.discount_total,
            order.total,
        )
        assert [] == problems(order)

    async def test_net_shipping_and_promotion_are_gross(self) -> None:
        """In a net order, shipping and promotion come with their tax."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        emu.place_order(
            order_number="P-2",
            lines=[
                {"quantity": 1, "unitPrice": 100.0, "taxRate": 19},
                {
                    "type": "promotion",
                    "quantity": 1,
                    "unitPrice": -10.0,
                    "taxRate": 19,
                },
            ],
            shipping_costs=5.0,
            tax_status="net",
        )

        order = await fetched_one(self._shop(emu))

        assert (Decimal("5.95"), Decimal("11.90"), Decimal("113.05")) == (
            order.shipping_total,
            order.discount_total,
            order.total,
        )
        assert [] == problems(order)

    async def test_line_of_unknown_type_fails_on_total(self) -> None:
        """A priced line that is neither article nor discount (a plugin's
        container) is not dropped silently: the order fails on total."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        emu.place_order(
            order_number="P-3",
            lines=[
                {"quantity": 1, "unitPrice": 10.0},
                {"type": "container", "quantity": 1, "unitPrice": 3.0},
            ],
        )

        order = await fetched_one(self._shop(emu))

        assert ["total"] == [p.field for p in problems(order)]

    @pytest.mark.parametrize("which", ["billing", "shipping"])
    async def test_address_without_country_fails_on_it(
        self, which: str
    ) -> None:
        """An address without a country is read blank, so the order fails
        on that address's country instead of becoming German."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        emu.place_order(
            order_number="C-1",
            lines=[{"quantity": 1, "unitPrice": 10.0}],
            shipping_address={"street": "Lieferweg 3"},
        )
        (order_row,) = emu.entities["order"].values()
        billing_id = order_row["billingAddressId"]
        for row in emu.entities["order_address"].values():
            if (row["id"] == billing_id) is (which == "billing"):
                row["countryId"] = None

        order = await fetched_one(self._shop(emu))

        assert "" == getattr(order, which).country
        assert [(f"{which}.country", "is missing")] == [
            (p.field, p.reason) for p in problems(order)
        ]

    def test_sparse_row_reads_and_fails_on_total(self) -> None:
        """A row without calculated prices or shipping costs (another
        Shopware version, a plugin) reads from its flat fields; a price
        that is no number reads as 0 and the order fails on its total."""
        row = {
            "orderNumber": "S-1",
            "amountTotal": 12.5,
            "taxStatus": "net",
            "billingAddress": {"country": {"iso": "DE"}},
            "lineItems": [
                {"type": "product", "quantity": 2, "totalPrice": 10.5},
                {"type": "promotion", "quantity": 1, "totalPrice": "n/a"},
            ],
        }

        order = order_from(row)

        assert Decimal("5.25") == order.lines[0].unit_price
        assert (Decimal(0), Decimal(0)) == (
            order.shipping_total,
            order.discount_total,
        )
        assert ["total"] == [p.field for p in problems(order)]


class TestWooCommerce:
    @staticmethod
    def _shop(emu: WooCommerceEmulator) -> WooCommerce:
        return woocommerce_on(emu, SECRET)

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

        order = await fetched_one(self._shop(emu))

        assert Decimal("11.90") == order.lines[0].unit_price

    async def test_shipping_and_coupon_are_gross(self) -> None:
        """Shipping and coupons are WooCommerce's net figures plus their
        tax, and the order adds up."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        emu.place_order(
            number="102",
            billing={"country": "DE"},
            lines=[
                {
                    "sku": "A-1",
                    "quantity": 1,
                    "subtotal": "100.00",
                    "subtotal_tax": "19.00",
                    "total": "90.00",
                    "total_tax": "17.10",
                }
            ],
            shipping_total="4.12",
            shipping_tax="0.78",
            discount_total="10.00",
            discount_tax="1.90",
            total="112.00",
        )

        order = await fetched_one(self._shop(emu))

        assert (Decimal("4.90"), Decimal("11.90")) == (
            order.shipping_total,
            order.discount_total,
        )
        assert [] == problems(order)

    async def test_fee_fails_on_total(self) -> None:
        """A fee line (not modelled) makes the order fail on its total
        instead of reaching the ERP without it."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        emu.place_order(
            number="103",
            billing={"country": "DE"},
            lines=[{"sku": "A-1", "quantity": 1, "price": "10.00"}],
            fee_lines=[{"name": "Cash on delivery", "total": "2.00"}],
            total="12.00",
        )

        order = await fetched_one(self._shop(emu))

        assert ["total"] == [p.field for p in problems(order)]

    async def test_address_without_country_fails_on_it(self) -> None:
        """A billing address without a country is read blank (the order
        fails on it), not made up."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        emu.place_order(
            number="104",
            billing={"last_name": "Muster", "address_1": "Weg 1"},
            lines=[{"sku": "A-1", "quantity": 1, "price": "10.00"}],
            total="10.00",
        )

        order = await fetched_one(self._shop(emu))

        assert {"billing.country", "shipping.country"} == {
            p.field for p in problems(order)
        }


class TestShopify:
    @staticmethod
    def _shop(emu: ShopifyEmulator) -> Shopify:
        return shopify_on(emu, "shpat_x")

    async def test_line_discount_is_in_the_unit_price(self) -> None:
        """A line-level discount lowers the line's unit price (Shopify's
        original unit price is before it)."""
        emu = ShopifyEmulator("shpat_x")
        emu.place_order([("A-1", 2, "10.00", "3.00")])

        order = await fetched_one(self._shop(emu))

        assert Decimal("8.50") == order.lines[0].unit_price

    async def test_tax_exclusive_shop_lines_are_gross(self) -> None:
        """In a shop whose prices exclude tax, a line is its discounted
        total plus its tax lines."""
        emu = ShopifyEmulator("shpat_x")
        emu.place_order(
            [("A-1", 3, "10.00")], taxes_included=False, tax_rate="0.19"
        )

        order = await fetched_one(self._shop(emu))

        assert Decimal("11.90") == order.lines[0].unit_price
        assert Decimal("35.70") == order.total

    @pytest.mark.parametrize("taxes_included", [True, False])
    async def test_shipping_and_order_discount(
        self, taxes_included: bool
    ) -> None:
        """Shipping (with its tax where prices exclude it) and the
        order-level discount (not the lines' own) are read, and the order
        adds up."""
        emu = ShopifyEmulator("shpat_x")
        emu.place_order(
            [("A-1", 2, "10.00", "3.00"), ("B-2", 1, "7.00")],
            taxes_included=taxes_included,
            tax_rate="0.19",
            shipping="4.90",
            discount="5.00",
        )

        order = await fetched_one(self._shop(emu))

        assert Decimal("5.00") == order.discount_total
        assert (
            Decimal("4.90")
            if taxes_included
            else Decimal("5.83") == order.shipping_total
        )
        assert [] == problems(order)

    async def test_rounded_line_discounts_are_no_order_discount(
        self,
    ) -> None:
        """Line discounts that Shopify rounds line by line to more than its
        rounded total of discounts leave no order-level discount (not one
        a cent below zero, which failed the order on discount_total), and
        the order is imported."""
        emu = ShopifyEmulator("shpat_x")
        emu.place_order(
            [("A-1", 1, "10.00", "0.015"), ("B-2", 1, "10.00", "0.015")]
        )

        order = await fetched_one(self._shop(emu))

        assert Decimal(0) == order.discount_total
        assert [] == problems(order)

    async def test_order_tax_a_cent_below_the_lines_is_no_shipping(
        self,
    ) -> None:
        """In a tax-exclusive shop, an order tax that Shopify rounded a
        cent below its lines' tax lines leaves the shipping at 0 (not
        -0.01, which failed the order on shipping_total), and the order
        is imported."""
        emu = ShopifyEmulator("shpat_x")
        emu.place_order(
            [("A-1", 1, "10.05"), ("B-2", 1, "10.05")],
            taxes_included=False,
            tax_rate="0.19",
        )
        (row,) = emu.shop.orders.values()
        # the lines' tax lines come to 3.82
        row["totalTaxSet"]["presentmentMoney"]["amount"] = "3.81"

        order = await fetched_one(self._shop(emu))

        assert Decimal(0) == order.shipping_total
        assert [] == problems(order)

    async def test_discounts_that_disagree_fail_on_total(self) -> None:
        """An order whose discounts do not agree with its lines and total
        fails on total, naming the figures, not on discount_total."""
        emu = ShopifyEmulator("shpat_x")
        emu.place_order([("A-1", 2, "10.00", "3.00")])
        (row,) = emu.shop.orders.values()
        for prefix in ("total", "currentTotal"):
            row[f"{prefix}DiscountsSet"]["presentmentMoney"]["amount"] = "0.00"
            row[f"{prefix}PriceSet"]["presentmentMoney"]["amount"] = "20.00"

        order = await fetched_one(self._shop(emu))

        assert ["total"] == [p.field for p in problems(order)]

    async def test_long_order_is_read_whole(self) -> None:
        """An order with more lines than the order page reads (10) gets
        the rest by follow-up queries, in order, and adds up."""
        emu = ShopifyEmulator("shpat_x")
        emu.place_order([(f"A-{n}", 1, f"{n}.00") for n in range(1, 131)])

        order = await fetched_one(self._shop(emu))

        assert [f"A-{n}" for n in range(1, 131)] == [
            line.article_number for line in order.lines
        ]
        assert [] == problems(order)


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
            ),
            2,
        )

        assert Decimal("10.00") == _amount(order, 0)
        assert Decimal("3.33") == order.lines[0].unit_price.quantize(
            Decimal("0.01")
        )

    def test_shipping_and_order_promotion(self) -> None:
        """Shipping is ``shippingWithTax``; the order-level promotion is
        what the prorated line prices have less than the discounted ones;
        the order adds up."""
        raw = self._raw(
            unitPriceWithTax=1190,
            discountedLinePriceWithTax=3570,
            proratedLinePriceWithTax=3213,
        )
        raw.update(
            shippingWithTax=490, subTotalWithTax=3213, totalWithTax=3703
        )

        order = vendure_order(raw, 2)

        assert (Decimal("4.90"), Decimal("3.57")) == (
            order.shipping_total,
            order.discount_total,
        )
        assert [] == problems(order)

    def test_surcharge_fails_on_total(self) -> None:
        """A surcharge (not modelled) makes the order fail on its total."""
        raw = self._raw(
            unitPriceWithTax=1000,
            discountedLinePriceWithTax=3000,
            proratedLinePriceWithTax=3000,
        )
        raw.update(totalWithTax=3250)

        assert ["total"] == [p.field for p in problems(vendure_order(raw, 2))]

    def test_address_without_country_fails_on_it(self) -> None:
        """An address without a country code is read blank: the order
        fails on it, it does not become German."""
        raw = self._raw(
            unitPriceWithTax=1000,
            discountedLinePriceWithTax=3000,
            proratedLinePriceWithTax=3000,
        )
        raw["billingAddress"] = {"streetLine1": "Weg 1", "countryCode": None}

        assert {"billing.country", "shipping.country"} == {
            p.field for p in problems(vendure_order(raw, 2))
        }
