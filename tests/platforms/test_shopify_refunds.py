"""
Shopify orders whose lines were refunded or removed (order edits): what
reaches the ERP is what the customer still buys (``currentQuantity`` and
the order's ``current…Set`` money), before the import and after it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ecomsync import Order
from ecomsync._record_checks import problems
from ecomsync.platforms.shopify import Shopify
from ecomsync.testing.shopify import ShopifyEmulator

from ._adapters import shopify_on
from ._orders import (
    PLACED,
    a_scheduled_run_sees_a_later_refund,
    fetched_one,
    refund_after_import_fails_on_lines,
)


pytestmark = pytest.mark.anyio

TOKEN = "shpat_refunds"


def _shop(emu: ShopifyEmulator) -> Shopify:
    return shopify_on(emu, TOKEN)


async def _fetched(emu: ShopifyEmulator) -> Order:
    return await fetched_one(_shop(emu))


class TestBeforeImport:
    @pytest.mark.parametrize("taxes_included", [True, False])
    async def test_refunded_units_are_not_sold(
        self, taxes_included: bool
    ) -> None:
        """A line partly refunded before the import reaches the ERP with
        the units left and the money the customer still pays, and adds
        up (line and order discounts, tax in or on top)."""
        emu = ShopifyEmulator(TOKEN)
        order_id = emu.place_order(
            [("A-1", 3, "10.00", "3.00"), ("B-1", 2, "25.00")],
            taxes_included=taxes_included,
            tax_rate="0.19",
            shipping="4.90",
            discount="6.00",
        )
        emu.refund(order_id, {"A-1": 2})

        order = await _fetched(emu)

        assert [("A-1", 1), ("B-1", 2)] == [
            (line.article_number, line.quantity) for line in order.lines
        ]
        (row,) = emu.shop.orders.values()
        assert order.total == Decimal(
            row["currentTotalPriceSet"]["presentmentMoney"]["amount"]
        )
        assert order.total < Decimal(
            row["totalPriceSet"]["presentmentMoney"]["amount"]
        )
        assert [] == problems(order)

    async def test_a_line_refunded_whole_is_no_line(self) -> None:
        """A line refunded (or removed) to nothing is left out; the
        rest of the order is imported at what the customer pays."""
        emu = ShopifyEmulator(TOKEN)
        order_id = emu.place_order(
            [("A-1", 2, "10.00"), ("B-1", 1, "5.00")], shipping="4.90"
        )
        emu.refund(order_id, {"A-1": 2})

        order = await _fetched(emu)

        assert [("B-1", 1, Decimal(5))] == [
            (line.article_number, line.quantity, line.unit_price)
            for line in order.lines
        ]
        assert (Decimal("9.90"), Decimal("4.90")) == (
            order.total,
            order.shipping_total,
        )
        assert [] == problems(order)

    async def test_refunded_shipping_is_none(self) -> None:
        """Shipping refunded alone leaves the lines and takes the shipping
        out of the order and its total."""
        emu = ShopifyEmulator(TOKEN)
        order_id = emu.place_order(
            [("A-1", 2, "10.00")],
            taxes_included=False,
            tax_rate="0.19",
            shipping="5.00",
        )
        emu.refund(order_id, shipping=True)

        order = await _fetched(emu)

        assert [("A-1", 2)] == [
            (line.article_number, line.quantity) for line in order.lines
        ]
        assert (Decimal("23.80"), Decimal(0)) == (
            order.total,
            order.shipping_total,
        )
        assert [] == problems(order)

    @pytest.mark.parametrize("taxes_included", [True, False])
    @pytest.mark.parametrize("shipping", [False, True])
    async def test_a_shipping_discount_is_counted_once(
        self, taxes_included: bool, shipping: bool
    ) -> None:
        """After a refund (of a unit, and of the shipping too) an order
        with a shipping discount still adds up: the shipping discount is
        in the discounts, not also taken off the shipping."""
        emu = ShopifyEmulator(TOKEN)
        order_id = emu.place_order(
            [("A-1", 3, "10.00"), ("B-1", 1, "5.00")],
            taxes_included=taxes_included,
            tax_rate="0.19",
            shipping="5.00",
            shipping_discount="2.00",
        )
        emu.refund(order_id, {"A-1": 1}, shipping=shipping)

        order = await _fetched(emu)

        (row,) = emu.shop.orders.values()
        assert order.total == Decimal(
            row["currentTotalPriceSet"]["presentmentMoney"]["amount"]
        )
        assert [] == problems(order)
        if taxes_included:
            assert (Decimal(28) - 3 * shipping, 5 - 3 * shipping, 2) == (
                order.total,
                order.shipping_total,
                order.discount_total,
            )

    async def test_in_the_customers_currency(self) -> None:
        """A refund in an order paid in another currency is reckoned in
        that currency (presentment money)."""
        emu = ShopifyEmulator(TOKEN)
        order_id = emu.place_order(
            [("A-1", 3, "10.00"), ("B-1", 1, "7.00")],
            presentment=("CHF", "0.9731"),
            discount="2.00",
        )
        emu.refund(order_id, {"A-1": 1})

        order = await _fetched(emu)

        assert "CHF" == order.currency
        assert [2, 1] == [line.quantity for line in order.lines]
        assert [] == problems(order)


class TestEmulator:
    def test_refund_is_shopifys_current_figures(self) -> None:
        """A refund keeps a line's quantity and money and lowers its
        currentQuantity, the current figures and what is left to fulfil;
        the order's updatedAt moves."""
        emu = ShopifyEmulator(TOKEN)
        order_id = emu.place_order(
            [("A-1", 3, "10.00")], updated_at=None, shipping="5.00"
        )
        (row,) = emu.shop.orders.values()
        row["updatedAt"] = "2020-01-01T00:00:00Z"
        emu.refund(order_id, {"A-1": 1})

        (line,) = row["_lines"]
        assert (3, 2, 2) == (
            line["quantity"],
            line["currentQuantity"],
            line["_remaining"],
        )
        assert "30.00" == line["discountedTotalSet"]["shopMoney"]["amount"]
        assert "35.00" == row["totalPriceSet"]["shopMoney"]["amount"]
        assert "25.00" == row["currentTotalPriceSet"]["shopMoney"]["amount"]
        assert "20.00" == row["currentSubtotalPriceSet"]["shopMoney"]["amount"]
        assert "PARTIALLY_REFUNDED" == row["displayFinancialStatus"]
        assert "2020-01-01T00:00:00Z" != row["updatedAt"]

    def test_a_shipping_discount_as_shopify_counts_it(self) -> None:
        """A shipping discount is off the current shipping, not the
        total one, and among the discounts; a shipping refund refunds
        what was paid for it and leaves the discount counted."""
        emu = ShopifyEmulator(TOKEN)
        order_id = emu.place_order(
            [("A-1", 1, "10.00")], shipping="5.00", shipping_discount="2.00"
        )
        (row,) = emu.shop.orders.values()

        def figures() -> list[str]:
            return [
                row[k]["shopMoney"]["amount"]
                for k in (
                    "totalShippingPriceSet",
                    "currentShippingPriceSet",
                    "totalRefundedShippingSet",
                    "currentTotalDiscountsSet",
                    "currentTotalPriceSet",
                )
            ]

        assert ["5.00", "3.00", "0.00", "2.00", "13.00"] == figures()
        assert "2.00" == row["totalDiscountsSet"]["shopMoney"]["amount"]
        emu.refund(order_id, shipping=True)
        assert ["5.00", "0.00", "3.00", "2.00", "10.00"] == figures()

    def test_refund_of_units_the_order_lacks_is_refused(self) -> None:
        """More units than a line holds, or a SKU the order lacks, raise
        ValueError and change nothing."""
        emu = ShopifyEmulator(TOKEN)
        order_id = emu.place_order([("A-1", 1, "10.00")])

        for lines in ({"A-1": 2}, {"Z-9": 1}):
            with pytest.raises(ValueError, match="holds no"):
                emu.refund(order_id, lines)

        (row,) = emu.shop.orders.values()
        assert 1 == row["_lines"][0]["currentQuantity"]


class TestAfterImport:
    async def test_refund_after_import_fails_on_lines(
        self, tmp_path: Path
    ) -> None:
        """A refund after the import fails the order on its lines, naming
        the order and the ERP order; the ERP keeps one order, unchanged,
        and the next run fails it again."""
        emu = ShopifyEmulator(TOKEN)
        order_id = emu.place_order([("A-1", 3, "10.00")])

        await refund_after_import_fails_on_lines(
            _shop(emu),
            lambda: emu.refund(order_id, {"A-1": 1}),
            "1001",
            tmp_path,
        )

    async def test_a_scheduled_run_sees_a_later_refund(
        self, tmp_path: Path
    ) -> None:
        """A refund moves the order's updatedAt: a ChangedSince run from
        before the refund reads the order (updated_at:>=) and fails it on
        its lines; one from after does not."""
        emu = ShopifyEmulator(TOKEN)
        order_id = emu.place_order([("A-1", 3, "10.00")], updated_at=PLACED)

        def refund_at(at: datetime) -> None:
            emu.shop.clock = lambda: at
            emu.refund(order_id, {"A-1": 1})

        await a_scheduled_run_sees_a_later_refund(
            _shop(emu), refund_at, "1001", tmp_path
        )
