"""
Requests the WooCommerce adapter sends side by side rather than one after
another: order statuses, a batch's SKU look-ups.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from ecomsync import (
    DataType,
    OrderState,
    OrderStatus,
    Outgoing,
)
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing._platform_contract import (
    article,
    make_order,
)

from .._retries import fast_retries
from ._woocommerce import KEY, SECRET, _emu


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)


class _Meet(httpx.AsyncBaseTransport):
    """
    The emulator, holding each request *held* picks until a second one
    is in flight: one sent after the other, the first waits for ever.
    """

    def __init__(
        self, app: Any, held: Callable[[httpx.Request], bool]
    ) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.held = held
        self.arrived = 0
        self.met = anyio.Event()

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        if self.held(request):
            self.arrived += 1
            if self.arrived >= 2:
                self.met.set()
            await self.met.wait()
        return await self.inner.handle_async_request(request)


def _order_read(request: httpx.Request) -> bool:
    return request.method == "GET" and "/orders/" in request.url.path


def _sku_lookup(request: httpx.Request) -> bool:
    return request.url.path.endswith("/products") and (
        "sku" in request.url.params
    )


class TestStatusesSideBySide:
    async def test_statuses_of_several_orders_are_written_side_by_side(
        self,
    ) -> None:
        """
        A push of order statuses wrote one order at a time (a read and a
        write each, one after the other: 200 round trips for 100
        shipments).  The orders are read and written side by side, within
        the adapter's requests in flight; each lands.
        """
        emu = _emu()
        ids = [emu.place(make_order(n)) for n in ("2501", "2502", "2503")]
        meet = _Meet(emu.app, _order_read)
        statuses = [
            Outgoing(record=OrderStatus(number=n, state=OrderState.SHIPPED))
            for n in ("2501", "2502", "2503")
        ]
        async with WooCommerce(
            "https://shop.test", KEY, SECRET, transport=meet
        ) as woo:
            with anyio.fail_after(10):
                outcomes = await woo.push(DataType.ORDER_STATUS, statuses)

        assert [(True, str(i)) for i in ids] == [
            (o.ok, o.platform_id) for o in outcomes
        ]
        assert ["completed"] * 3 == [emu.shop.orders[i]["status"] for i in ids]

    async def test_a_batchs_skus_are_looked_up_side_by_side(self) -> None:
        """
        The SKUs of a batch are looked up 40 a request (``?sku=`` is in
        the URL), and the requests went one after the other.  They go
        side by side; each of 41 articles lands once.
        """
        emu = _emu()
        meet = _Meet(emu.app, _sku_lookup)
        articles = [
            Outgoing(record=article(f"L-{n}", categories=()))
            for n in range(41)
        ]
        async with WooCommerce(
            "https://shop.test", KEY, SECRET, transport=meet, batch_size=100
        ) as woo:
            with anyio.fail_after(10):
                outcomes = await woo.push(DataType.ARTICLES, articles)

        assert [True] * 41 == [o.ok for o in outcomes]
        assert 41 == len(emu.shop.products)
