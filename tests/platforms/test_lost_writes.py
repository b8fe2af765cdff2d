"""
Writes that take no idempotency key and whose answer was lost after the
shop applied them (a timeout, a reset, a 502 or 504 from a proxy): each
lands once, found by the adapter's look before it would be sent again.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import anyio
import httpx
import pytest

from ecomsync import Article, Category, DataType, Outgoing, Variant
from ecomsync._model import OrderState, OrderStatus
from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing._platform_contract import (
    CATEGORIES,
    PlatformContract,
    make_order,
)
from ecomsync.testing.shopify import ShopifyEmulator
from ecomsync.testing.woocommerce import WooCommerceEmulator

from .._retries import fast_retries
from ..conftest import flat_catalogue
from ._adapters import shopify_emulator


pytestmark = pytest.mark.anyio

_fast_retries = fast_retries(4)

KEY, SECRET = "ck_lost", "cs_NEVER_SHOWN"
APP_PASSWORD = "app-password-NEVER-SHOWN"
TOKEN = "shpat_NEVER_SHOWN"

#: How the answer of an applied write is lost: the client's deadline, a
#: read timeout, a reset, a proxy's 502 or 504.
LOST = ["deadline", "timeout", "reset", "502", "504"]

#: The clients' deadline per attempt, in seconds.
DEADLINE = 0.3


class _Flaky(httpx.AsyncBaseTransport):
    """
    Passes requests to *inner*; those *match* accepts meet *plan* in
    turn: ``"429"`` is answered before the shop sees the request, any
    other step of `LOST` lets the shop apply it and then loses the
    answer.  *applied* counts the matching requests the shop got.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        match: Callable[[httpx.Request], bool],
        plan: list[str],
    ) -> None:
        self.inner = inner
        self.match = match
        self.plan = plan
        self.applied = 0

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        if not self.match(request):
            return await self.inner.handle_async_request(request)
        step = self.plan.pop(0) if self.plan else "ok"
        if step == "429":
            return httpx.Response(429, headers={"Retry-After": "0"})
        self.applied += 1
        response = await self.inner.handle_async_request(request)
        await response.aread()
        if step == "ok":
            return response
        if step == "deadline":
            await anyio.sleep(10 * DEADLINE)  # the client gives up first
        if step in ("deadline", "timeout"):
            raise httpx.ReadTimeout("answer lost", request=request)
        if step == "reset":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.",
                request=request,
            )
        return httpx.Response(int(step), text="Bad Gateway")


class _JobRunsLater(httpx.AsyncBaseTransport):
    """
    Passes requests to *inner*; runs *emu*'s queued cancellation jobs
    before the second read of an order after one was queued: the job
    runs while the adapter looks, not before its first look.
    """

    def __init__(
        self, inner: httpx.AsyncBaseTransport, emu: ShopifyEmulator
    ) -> None:
        self.inner = inner
        self.emu = emu
        self.reads = 0

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        if self.emu.jobs and b"fulfillmentOrders" in request.content:
            self.reads += 1
            if self.reads == 2:
                self.emu.run_jobs()
        return await self.inner.handle_async_request(request)


def _shopify(transport: _Flaky) -> Shopify:
    return Shopify(
        "https://shop.test",
        TOKEN,
        request_deadline=DEADLINE,
        transport=transport,
    )


def _posts(tail: str) -> Callable[[httpx.Request], bool]:
    return lambda r: r.method == "POST" and r.url.path.endswith(tail)


def _mutation(name: bytes) -> Callable[[httpx.Request], bool]:
    return lambda r: name in r.content


class TestWooCommerce:
    @staticmethod
    def _woo(emu: WooCommerceEmulator, transport: _Flaky) -> WooCommerce:
        return WooCommerce(
            "https://shop.test",
            KEY,
            SECRET,
            wp_user="sync",
            wp_application_password=APP_PASSWORD,
            request_deadline=DEADLINE,
            transport=transport,
        )

    @staticmethod
    def _emu() -> WooCommerceEmulator:
        return WooCommerceEmulator(
            KEY, SECRET, wp_user="sync", wp_application_password=APP_PASSWORD
        )

    @pytest.mark.parametrize("lost", LOST)
    async def test_tracking_note_is_posted_once(self, lost: str) -> None:
        """
        A tracking note whose answer was lost is found on the order: the
        customer is mailed each tracking number once.
        """
        emu = self._emu()
        oid = emu.place(make_order("2201"))
        flaky = _Flaky(
            httpx.ASGITransport(app=emu.app), _posts("/notes"), [lost]
        )
        shipped = OrderStatus(
            number="2201", state=OrderState.SHIPPED, tracking_numbers=("T-1",)
        )
        async with self._woo(emu, flaky) as woo:
            (outcome,) = await woo.push(
                DataType.ORDER_STATUS, [Outgoing(record=shipped)]
            )

        assert outcome.ok, outcome
        assert 1 == flaky.applied
        assert ["Tracking number: T-1"] == [
            n["note"] for n in emu.shop.notes[oid] if n["customer_note"]
        ]

    @pytest.mark.parametrize("lost", LOST)
    async def test_upload_sent_again_after_a_429_is_made_once(
        self, lost: str, tmp_path: Path
    ) -> None:
        """
        An upload answered 429, sent again and that answer lost after
        WordPress saved it, is found by its hash: one attachment made,
        none made twice and deleted again.
        """
        emu = self._emu()
        flaky = _Flaky(
            httpx.ASGITransport(app=emu.app),
            _posts("/wp/v2/media"),
            ["429", lost],
        )
        async with self._woo(emu, flaky) as woo:
            media_id = await woo.upload_media(
                PlatformContract._staged(tmp_path, b"lost-twice")
            )

        assert 1 == flaky.applied
        assert [int(media_id)] == list(emu.shop.media)

    @pytest.mark.parametrize("lost", LOST)
    async def test_variations_are_adopted(self, lost: str) -> None:
        """
        A variations batch whose answer was lost is sent again (repeat
        safe): WooCommerce refuses the SKUs the lost attempt took, and
        the variations it made are taken as this article's, not a
        failure; none is made twice.
        """
        emu = self._emu()
        shirt = Article(
            number="S-1",
            name="Shirt",
            price=1,
            variants=(
                Variant(number="S-1-M", options=(("Size", "M"),)),
                Variant(number="S-1-L", options=(("Size", "L"),)),
            ),
        )
        flaky = _Flaky(
            httpx.ASGITransport(app=emu.app),
            _posts("/variations/batch"),
            [lost],
        )
        async with self._woo(emu, flaky) as woo:
            (outcome,) = await woo.push(
                DataType.ARTICLES, [Outgoing(record=shirt)]
            )

        skus = sorted(
            p["sku"] for p in emu.shop.products.values() if p.get("parent_id")
        )
        assert [] == flaky.plan
        assert outcome.ok, outcome
        assert ["S-1-L", "S-1-M"] == skus


class TestShopify:
    @staticmethod
    def _emu() -> ShopifyEmulator:
        emu = ShopifyEmulator(TOKEN)
        emu.place_order(
            [("A-1", 1, "9.90")],
            email="c@example.com",
            currency="EUR",
            name="#1001",
        )
        return emu

    @pytest.mark.parametrize("lost", LOST)
    @pytest.mark.parametrize(
        "state", [OrderState.SHIPPED, OrderState.CANCELLED]
    )
    async def test_order_status_lands_once(
        self, state: OrderState, lost: str
    ) -> None:
        """
        A fulfilment or cancellation whose answer was lost is found on
        the order, not sent again (a cancellation once its job ran while
        the adapter looked): one fulfilment (or cancellation), and the
        status succeeds.
        """
        emu = self._emu()
        name = (
            b"fulfillmentCreate"
            if state is OrderState.SHIPPED
            else b"orderCancel"
        )
        flaky = _Flaky(
            _JobRunsLater(httpx.ASGITransport(app=emu.app), emu),
            _mutation(name),
            [lost],
        )
        tracking = ("T-1",) if state is OrderState.SHIPPED else ()
        status = OrderStatus(
            number="1001", state=state, tracking_numbers=tracking
        )
        async with _shopify(flaky) as shop:
            (outcome,) = await shop.push(
                DataType.ORDER_STATUS, [Outgoing(record=status)]
            )

        (order,) = emu.shop.orders.values()
        assert outcome.ok, outcome
        assert 1 == flaky.applied
        if state is OrderState.SHIPPED:
            (fulfilment,) = order["fulfillments"]
            assert ["T-1"] == [t["number"] for t in fulfilment["trackingInfo"]]
        else:
            assert order["cancelledAt"] is not None

    @pytest.mark.parametrize("merchant", ["cancels", "fulfils"])
    async def test_a_fulfilment_not_ours_is_not_taken_for_ours(
        self, merchant: str
    ) -> None:
        """
        A lost fulfilmentCreate answer while the merchant cancels the order
        or fulfils it by hand (other tracking) is not counted as landed:
        the status fails instead of succeeding without its tracking.
        """
        emu = self._emu()
        (order,) = emu.shop.orders.values()
        inner = httpx.ASGITransport(app=emu.app)

        class _Merchant(httpx.AsyncBaseTransport):
            lost = False

            async def handle_async_request(
                self, request: httpx.Request
            ) -> httpx.Response:
                if b"fulfillmentCreate" not in request.content or self.lost:
                    return await inner.handle_async_request(request)
                self.lost = True  # ours never reaches the shop
                if merchant == "cancels":
                    emu.cancel(order["id"], "CUSTOMER", False)
                else:
                    fos = [
                        {"fulfillmentOrderId": f["id"]}
                        for f in emu.shop.fulfillment_orders.values()
                    ]
                    emu.fulfil(
                        {
                            "lineItemsByFulfillmentOrder": fos,
                            "trackingInfo": {"numbers": ["BY-HAND"]},
                        }
                    )
                raise httpx.ReadTimeout("answer lost", request=request)

        status = OrderStatus(
            number="1001", state=OrderState.SHIPPED, tracking_numbers=("T-1",)
        )
        async with Shopify(
            "https://shop.test",
            TOKEN,
            request_deadline=DEADLINE,
            transport=_Merchant(),
        ) as shop:
            (outcome,) = await shop.push(
                DataType.ORDER_STATUS, [Outgoing(record=status)]
            )

        assert not outcome.ok
        numbers = [
            t["number"]
            for f in order["fulfillments"]
            for t in f["trackingInfo"]
        ]
        assert ([] if merchant == "cancels" else ["BY-HAND"]) == numbers

    @pytest.mark.parametrize("lost", LOST)
    async def test_staged_upload_is_sent_again(
        self, lost: str, tmp_path: Path
    ) -> None:
        """
        A file posted to the staged upload target whose answer was lost
        is posted again (the target keeps the last file per key): the
        upload succeeds, one file in Shopify, instead of httpx's own
        exception leaving the adapter.
        """
        emu = ShopifyEmulator(TOKEN)
        flaky = _Flaky(
            httpx.ASGITransport(app=emu.app),
            _posts("/_staged/upload"),
            [lost],
        )
        async with _shopify(flaky) as shop:
            file_id = await shop.upload_media(
                PlatformContract._staged(tmp_path, b"staged-twice")
            )

        assert 2 == flaky.applied
        assert [file_id] == [f["id"] for f in emu.shop.files.values()]

    @pytest.mark.parametrize("lost", LOST)
    async def test_bulk_staged_upload_is_sent_again(self, lost: str) -> None:
        """
        The bulk variables posted to the staged upload target whose
        answer was lost are posted again: every article lands through
        the bulk operation.
        """
        emu = shopify_emulator(TOKEN)
        records = flat_catalogue(range(3), price=lambda i: Decimal(i + 1))
        flaky = _Flaky(
            httpx.ASGITransport(app=emu.app),
            _posts("/_staged/upload"),
            [lost],
        )
        async with Shopify(
            "https://shop.test",
            TOKEN,
            request_deadline=DEADLINE,
            transport=flaky,
            bulk_threshold=2,
            bulk_poll_interval=0.001,
        ) as shop:
            await shop.push(
                DataType.CATEGORIES,
                [Outgoing(record=r) for r in records if type(r) is Category],
            )
            outcomes = await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=r) for r in records if type(r) is Article],
            )

        assert 3 == len(outcomes)
        assert all(o.ok for o in outcomes), outcomes
        assert 2 == flaky.applied

    @pytest.mark.parametrize("lost", LOST)
    async def test_collection_is_made_once(self, lost: str) -> None:
        """
        A collectionCreate whose answer was lost is found by its handle:
        one collection, the category's.
        """
        emu = ShopifyEmulator(TOKEN)
        flaky = _Flaky(
            httpx.ASGITransport(app=emu.app),
            _mutation(b"collectionCreate"),
            [lost],
        )
        async with _shopify(flaky) as shop:
            (outcome,) = await shop.push(
                DataType.CATEGORIES, [Outgoing(record=CATEGORIES[0])]
            )

        (made,) = emu.shop.collections.values()
        assert outcome.ok, outcome
        assert 1 == flaky.applied
        assert made["id"] == outcome.platform_id
