"""
The WooCommerce order import when the shop's order list changes between
the pages of one read: orders deleted, or modified into the selection,
behind the page being read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ecomsync import All, ChangedSince
from ecomsync.exceptions import SyncError
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing._platform_contract import make_order
from ecomsync.testing.woocommerce import WooCommerceEmulator

from ._adapters import woocommerce_on


pytestmark = pytest.mark.anyio

KEY, SECRET = "ck_pages", "cs_pages"


def _setup(numbers: list[str]) -> tuple[WooCommerceEmulator, WooCommerce]:
    emu = WooCommerceEmulator(KEY, SECRET)
    woo = woocommerce_on(emu, SECRET, key=KEY)
    for number in numbers:
        emu.place(make_order(number))
    return emu, woo


class TestPageDrift:
    """
    Orders read page by page are each read once, however the list moves.
    """

    async def test_order_deleted_behind_the_page_read(self) -> None:
        """
        An order deleted (or trashed) in the shop after its page was read
        moves every later order one place up the list: the next page must
        not start one order too late, or that order is never imported.
        """
        numbers = [str(n) for n in range(3001, 3008)]
        emu, woo = _setup(numbers)
        got: list[str] = []
        async with woo:
            async for batch in woo.fetch_orders(All(), batch_size=3):
                got += [o.number for o in batch]
                if len(got) == 3:
                    # the merchant deletes a test order of the first page
                    del emu.shop.orders[3002]

        assert numbers == got

    async def test_several_orders_deleted_behind_the_page_read(
        self,
    ) -> None:
        """
        More orders deleted behind the read than a page holds: every
        order still in the shop is read all the same.
        """
        numbers = [str(n) for n in range(3101, 3111)]
        emu, woo = _setup(numbers)
        got: list[str] = []
        async with woo:
            async for batch in woo.fetch_orders(All(), batch_size=3):
                got += [o.number for o in batch]
                if len(got) == 6:
                    for oid in (3101, 3102, 3103, 3104, 3105):
                        del emu.shop.orders[oid]

        assert numbers == got

    async def test_order_modified_into_the_selection_is_read_once(
        self,
    ) -> None:
        """
        An old order modified during the read joins the ``modified_after``
        list ahead of the page being read: the orders it pushes down are
        not read twice.
        """
        numbers = [str(n) for n in range(3201, 3208)]
        emu, woo = _setup(numbers)
        placed = datetime.fromisoformat(
            emu.shop.orders[3201]["date_modified_gmt"]
        )
        since = placed.replace(tzinfo=UTC) - timedelta(hours=1)
        emu.shop.orders[3201]["date_modified_gmt"] = (
            placed - timedelta(days=1)
        ).isoformat()
        got: list[str] = []
        async with woo:
            async for batch in woo.fetch_orders(
                ChangedSince(since), batch_size=3
            ):
                got += [o.number for o in batch]
                if len(got) == 3:
                    emu.shop.orders[3201]["date_modified_gmt"] = (
                        placed.isoformat()
                    )

        assert numbers[1:] == got[:6]
        assert len(got) == len(set(got))

    async def test_a_shop_ignoring_offset_fails_the_read(self) -> None:
        """
        A shop (or a proxy) that answers the first page whatever the
        ``offset``, without ``X-WP-Total``, fails the read naming the
        request, instead of reading the same page for ever.
        """
        emu, _ = _setup([str(n) for n in range(3301, 3306)])
        rows = [emu.shop.orders[oid] for oid in sorted(emu.shop.orders)]

        def first_page(request: httpx.Request) -> httpx.Response:
            size = int(request.url.params["per_page"])
            return httpx.Response(200, json=rows[:size])

        woo = WooCommerce(
            "https://shop.test",
            KEY,
            SECRET,
            transport=httpx.MockTransport(first_page),
        )
        got: list[str] = []

        async def read() -> None:
            async for batch in woo.fetch_orders(All(), batch_size=3):
                got.extend(o.number for o in batch)

        async with woo:
            with pytest.raises(SyncError, match="offset=2"):
                await read()

        assert ["3301", "3302", "3303"] == got
