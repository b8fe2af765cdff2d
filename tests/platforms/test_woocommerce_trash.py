"""
The WooCommerce adapter and orders the merchant moved to the trash.
"""

from __future__ import annotations

import httpx
import pytest

from ecomsync import All, DataType, OrderState, OrderStatus, Outgoing
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing._platform_contract import make_order
from ecomsync.testing.woocommerce import WooCommerceEmulator


pytestmark = pytest.mark.anyio

KEY, SECRET = "ck_trash", "cs_trash"


def _woo(emu: WooCommerceEmulator) -> WooCommerce:
    return WooCommerce(
        "https://shop.test",
        KEY,
        SECRET,
        transport=httpx.ASGITransport(app=emu.app),
    )


class TestTrashedOrders:
    """
    An order in the trash is neither imported nor brought back.
    """

    async def test_shipped_for_a_trashed_order_does_not_restore_it(
        self,
    ) -> None:
        """
        "Shipped" for an order the merchant trashed in the shop would set
        it ``completed``, out of the trash, and mail the customer: it
        fails on ``state`` instead, and the order stays in the trash.
        "Cancelled" leaves it there, done.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        oid = emu.place(make_order("4101"))
        emu.shop.orders[oid]["status"] = "trash"
        shipped = OrderStatus(number="4101", state=OrderState.SHIPPED)
        cancelled = OrderStatus(number="4101", state=OrderState.CANCELLED)

        async with _woo(emu) as woo:
            (outcome,) = await woo.push(
                DataType.ORDER_STATUS, [Outgoing(record=shipped)]
            )
            (done,) = await woo.push(
                DataType.ORDER_STATUS, [Outgoing(record=cancelled)]
            )

        assert (False, "state") == (outcome.ok, outcome.field)
        assert "trash" in (outcome.error or "")
        assert done.ok, done
        assert "trash" == emu.shop.orders[oid]["status"]

    async def test_status_any_leaves_out_the_trash(self) -> None:
        """
        ``status=any`` lists no trashed order (WordPress leaves out the
        statuses excluded from search; HPOS lists the order statuses),
        so the import reads none.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        emu.place(make_order("4201"))
        trashed = emu.place(make_order("4202"))
        emu.shop.orders[trashed]["status"] = "trash"

        async with _woo(emu) as woo:
            got = [
                o.number
                async for batch in woo.fetch_orders(All(), batch_size=10)
                for o in batch
            ]
            listed = (
                await woo._api.call(
                    "GET", "orders", params={"status": "trash"}
                )
            ).json()

        assert ["4201"] == got
        assert [trashed] == [row["id"] for row in listed]

    async def test_a_trashed_order_with_a_plugin_number_says_trash(
        self,
    ) -> None:
        """
        "Shipped" for order ``W-9`` (a numbering plugin's number) the
        merchant trashed failed as "does not exist" (the search for the
        number leaves out the trash): it fails on ``state`` saying the
        order is in the trash, which it stays in.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        oid = emu.place_order(number="W-9", status="processing")
        emu.shop.orders[oid]["status"] = "trash"
        shipped = OrderStatus(number="W-9", state=OrderState.SHIPPED)

        async with _woo(emu) as woo:
            (outcome,) = await woo.push(
                DataType.ORDER_STATUS, [Outgoing(record=shipped)]
            )

        assert (False, "state") == (outcome.ok, outcome.field)
        assert "order W-9 is in the trash in WooCommerce" in (
            outcome.error or ""
        )
        assert "trash" == emu.shop.orders[oid]["status"]
