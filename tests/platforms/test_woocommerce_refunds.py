"""
WooCommerce orders with refunds: line items keep their quantity, so the
units and money the customer still buys come from the order's refunds
(``GET orders/<id>/refunds``), read only for orders that have any;
before the import and after it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ecomsync import Order, OrderState
from ecomsync._record_checks import problems
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing.woocommerce import WooCommerceEmulator

from ._adapters import woocommerce_on
from ._orders import (
    PLACED,
    a_scheduled_run_sees_a_later_refund,
    fetched,
    refund_after_import_fails_on_lines,
)


pytestmark = pytest.mark.anyio

SECRET = "cs_refunds-S3CR3T"


def _shop(emu: WooCommerceEmulator) -> WooCommerce:
    return woocommerce_on(emu, SECRET)


async def _fetched(emu: WooCommerceEmulator) -> list[Order]:
    return await fetched(_shop(emu))


def _place(emu: WooCommerceEmulator, **more: Any) -> int:
    """Three A-1 at 11.90 gross and one B-1 at 5.95, a 10 % coupon on
    A-1, shipping 4.90 + 0.93 tax: 43.91 in all."""
    return emu.place_order(
        billing={"country": "DE", "last_name": "Muster"},
        lines=[
            {
                "sku": "A-1",
                "quantity": 3,
                "price": "10.00",
                "subtotal": "30.00",
                "subtotal_tax": "5.70",
                "total": "27.00",
                "total_tax": "5.13",
            },
            {
                "sku": "B-1",
                "quantity": 1,
                "price": "5.00",
                "subtotal": "5.00",
                "subtotal_tax": "0.95",
                "total": "5.00",
                "total_tax": "0.95",
            },
        ],
        shipping_total="4.90",
        shipping_tax="0.93",
        discount_total="3.00",
        discount_tax="0.57",
        total="43.91",
        **more,
    )


class TestBeforeImport:
    async def test_refunded_units_are_not_sold(self) -> None:
        """A line partly refunded reaches the ERP with the units left; its
        coupon share and the refunded money leave the order, which adds
        up to what the customer still pays."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        order_id = _place(emu)
        emu.refund(order_id, {"A-1": 2})

        (order,) = await _fetched(emu)

        assert [("A-1", 1, Decimal("11.90")), ("B-1", 1, Decimal("5.95"))] == [
            (line.article_number, line.quantity, line.unit_price)
            for line in order.lines
        ]
        assert (Decimal("22.49"), Decimal("5.83"), Decimal("1.19")) == (
            order.total,
            order.shipping_total,
            order.discount_total,
        )
        assert [] == problems(order)

    async def test_a_line_refunded_whole_is_no_line(self) -> None:
        """A line refunded whole is left out, in two refunds too."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        order_id = _place(emu)
        emu.refund(order_id, {"A-1": 1})
        emu.refund(order_id, {"A-1": 2})

        (order,) = await _fetched(emu)

        assert ["B-1"] == [line.article_number for line in order.lines]
        assert (Decimal("11.78"), Decimal(0)) == (
            order.total,
            order.discount_total,
        )
        assert [] == problems(order)

    async def test_refunded_shipping_is_none(self) -> None:
        """Shipping refunded leaves the lines and takes the shipping out."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        order_id = _place(emu)
        emu.refund(order_id, shipping=True)

        (order,) = await _fetched(emu)

        assert [3, 1] == [line.quantity for line in order.lines]
        assert (Decimal("38.08"), Decimal(0)) == (
            order.total,
            order.shipping_total,
        )
        assert [] == problems(order)

    async def test_money_alone_is_a_discount(self) -> None:
        """Money refunded without items ships every line and reaches the
        ERP as an order-level discount: the total is what was paid."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        order_id = _place(emu)
        emu.refund(order_id, amount="5.00", reason="late")

        (order,) = await _fetched(emu)

        assert [3, 1] == [line.quantity for line in order.lines]
        assert (Decimal("38.91"), Decimal("8.57")) == (
            order.total,
            order.discount_total,
        )
        assert [] == problems(order)

    async def test_a_refund_naming_no_line_fails_on_total(self) -> None:
        """A refunded item that names no line of the order is not guessed
        at: the order fails on its total instead of shipping it."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        order_id = _place(emu)
        emu.refund(order_id, {"A-1": 1})
        (refund,) = emu.shop.refunds[order_id]
        refund["line_items"][0]["meta_data"] = []

        (order,) = await _fetched(emu)

        assert 3 == order.lines[0].quantity
        assert ["total"] == [p.field for p in problems(order)]

    async def test_refunded_whole_is_cancelled(self) -> None:
        """An order refunded whole is refunded in WooCommerce and reaches
        the ERP cancelled, with no lines."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        order_id = _place(emu)
        emu.refund(order_id, {"A-1": 3, "B-1": 1}, shipping=True)

        (order,) = await _fetched(emu)

        assert "refunded" == emu.shop.orders[order_id]["status"]
        assert (OrderState.CANCELLED, (), Decimal(0)) == (
            order.state,
            order.lines,
            order.total,
        )
        assert [] == problems(order)

    async def test_refunds_are_read_only_for_orders_with_any(self) -> None:
        """Only an order that lists refunds costs a request more."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        refunded = _place(emu)
        _place(emu)
        _place(emu)
        emu.refund(refunded, {"B-1": 1})

        orders = await _fetched(emu)

        assert [1, 2, 2] == [len(o.lines) for o in orders]
        paths = [r.path for r in emu.requests if "refunds" in r.path]
        assert [f"/wp-json/wc/v3/orders/{refunded}/refunds"] == paths


class TestEmulator:
    def test_refund_as_woocommerce_keeps_it(self) -> None:
        """A refund keeps the order's line items, lists itself on the
        order (negative total, newest first) and holds its items with
        negative quantities and _refunded_item_id."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        order_id = _place(emu)
        first = emu.refund(order_id, {"A-1": 1})
        second = emu.refund(order_id, amount="1.00", reason="late")

        order = emu.shop.orders[order_id]
        assert [3, 1] == [li["quantity"] for li in order["line_items"]]
        assert [
            {"id": second, "reason": "late", "total": "-1.00"},
            {"id": first, "reason": "", "total": "-10.71"},
        ] == order["refunds"]
        (item,) = emu.shop.refunds[order_id][1]["line_items"]
        assert (-1, "-9.00", "-1.71") == (
            item["quantity"],
            item["total"],
            item["total_tax"],
        )
        assert [("_refunded_item_id", str(order["line_items"][0]["id"]))] == [
            (m["key"], m["value"]) for m in item["meta_data"]
        ]
        assert "processing" == order["status"]

    def test_refund_of_units_the_order_lacks_is_refused(self) -> None:
        """More units than a line has left, or a SKU the order lacks,
        raise ValueError."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        order_id = _place(emu)
        emu.refund(order_id, {"A-1": 2})

        for lines in ({"A-1": 2}, {"Z-9": 1}):
            with pytest.raises(ValueError, match="to refund"):
                emu.refund(order_id, lines)
        assert 1 == len(emu.shop.refunds[order_id])

    async def test_refunds_route(self) -> None:
        """GET orders/<id>/refunds lists an order's refunds; an unknown
        order is a 404."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        order_id = _place(emu)
        emu.refund(order_id, {"B-1": 1})
        auth = {"consumer_key": "ck_x", "consumer_secret": SECRET}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=emu.app),
            base_url="https://shop.test/wp-json/wc/v3",
        ) as client:
            found = await client.get(
                f"/orders/{order_id}/refunds", params=auth
            )
            missing = await client.get("/orders/999999/refunds", params=auth)

        assert 200 == found.status_code
        assert [-1] == [i["quantity"] for i in found.json()[0]["line_items"]]
        assert (404, "woocommerce_rest_invalid_order_id") == (
            missing.status_code,
            missing.json()["code"],
        )


class TestAfterImport:
    async def test_refund_after_import_fails_on_lines(
        self, tmp_path: Path
    ) -> None:
        """A refund after the import fails the order on its lines, naming
        the order and the ERP order; the ERP keeps one order, unchanged."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        order_id = _place(emu)

        await refund_after_import_fails_on_lines(
            _shop(emu),
            lambda: emu.refund(order_id, {"A-1": 1}),
            str(order_id),
            tmp_path,
        )

    async def test_a_scheduled_run_sees_a_later_refund(
        self, tmp_path: Path
    ) -> None:
        """A refund moves the order's date_modified (wc_create_refund
        saves the order): a ChangedSince run from before the refund reads
        the order and fails it on its lines; one from after does not."""
        emu = WooCommerceEmulator("ck_x", SECRET)
        order_id = _place(emu, created_at=PLACED)

        await a_scheduled_run_sees_a_later_refund(
            _shop(emu),
            lambda at: emu.refund(order_id, {"A-1": 1}, at=at),
            str(order_id),
            tmp_path,
        )


class _MeetOnRefundReads(httpx.AsyncBaseTransport):
    """
    The emulator, holding each ``GET orders/<id>/refunds`` until a second
    one is in flight: one sent after the other, the first waits for ever.
    """

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.arrived = 0
        self.met = anyio.Event()

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        if request.url.path.endswith("/refunds"):
            self.arrived += 1
            if self.arrived >= 2:
                self.met.set()
            await self.met.wait()
        return await self.inner.handle_async_request(request)


class TestRefundReads:
    async def test_the_refunds_of_a_page_are_read_side_by_side(
        self,
    ) -> None:
        """
        The refunds of a page's refunded orders were read one order after
        the other (a round trip each, in a row).  They are read side by
        side, within the adapter's requests in flight; each order comes
        with the units its refunds left.
        """
        emu = WooCommerceEmulator("ck_x", SECRET)
        ids = [_place(emu), _place(emu), _place(emu)]
        for order_id in ids:
            emu.refund(order_id, {"A-1": 1})
        shop = WooCommerce(
            "https://shop.test",
            "ck_x",
            SECRET,
            transport=_MeetOnRefundReads(emu.app),
        )

        with anyio.fail_after(10):
            orders = await fetched(shop)

        assert [[2, 1]] * 3 == [
            [ln.quantity for ln in o.lines] for o in orders
        ]
