"""
The Shopify adapter against the Shopify emulator: the platform contract
(with Shopify's derived order states), cost-aware pacing, userErrors as
per-record failures, and the token never in any text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
import stamina

from ecomsync import All, DataType, Outgoing
from ecomsync._http import HttpClient
from ecomsync._model import Order, OrderState, OrderStatus, Variant
from ecomsync._record_checks import problems
from ecomsync.platforms.shopify import Shopify, collection_handle
from ecomsync.platforms.shopify._client import CostModel, GraphQL
from ecomsync.testing import PlatformContract
from ecomsync.testing._platform_contract import (
    CATEGORIES,
    NOW,
    article,
    make_order,
)
from ecomsync.testing.shopify import ShopifyEmulator


pytestmark = pytest.mark.anyio

TOKEN = "shpat_NEVER_SHOWN"


@pytest.fixture(autouse=True)
def _fast_retries() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):
        yield


def _shop(emu: ShopifyEmulator, **kwargs: Any) -> Shopify:
    return Shopify(
        "https://shop.test",
        TOKEN,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )


def _meta(row: dict[str, Any], key: str) -> str | None:
    for m in row.get("_metafields", ()):
        if m["namespace"] == "ecomsync" and m["key"] == key:
            return str(m["value"])
    return None


def place(emu: ShopifyEmulator, order: Order, *, changed_at: datetime) -> str:
    a = order.shipping
    return emu.place_order(
        [
            (li.article_number, li.quantity, str(li.unit_price))
            for li in order.lines
        ],
        email=order.customer.email,
        currency=order.currency,
        address={
            "firstName": a.first_name,
            "lastName": a.last_name,
            "company": a.company or None,
            "address1": a.street,
            "address2": None,
            "zip": a.zip_code,
            "city": a.city,
            "countryCodeV2": a.country,
            "phone": a.phone or None,
        },
        updated_at=changed_at,
        name=f"#{order.number}",
    )


class TestShopifyContract(PlatformContract):
    """
    Shopify against the emulator honours the platform contract.
    """

    @pytest.fixture(name="platform")
    async def _platform(self) -> AsyncIterator[Shopify]:
        self.emu = ShopifyEmulator(TOKEN)
        shop = _shop(self.emu)
        yield shop
        await shop.aclose()

    async def place_order(
        self, platform: Any, order: Order, *, changed_at: datetime
    ) -> None:
        place(self.emu, order, changed_at=changed_at)

    def _collection(self, number: str) -> dict[str, Any] | None:
        for row in self.emu.shop.collections.values():
            if row["handle"] == collection_handle(number):
                return row
        return None

    async def read_back(
        self, platform: Any, data_type: DataType, number: str
    ) -> dict[str, Any] | None:
        shop = self.emu.shop
        if data_type is DataType.CATEGORIES:
            row = self._collection(number)
            if row is None:
                return None
            return {"name": row["title"], "parent": _meta(row, "parent")}
        if data_type is DataType.ORDER_STATUS:
            for order in shop.orders.values():
                if order["name"] == f"#{number}":
                    done = order["displayFulfillmentStatus"] == "FULFILLED"
                    tracking = {
                        t["number"]
                        for f in order["fulfillments"]
                        for t in f["trackingInfo"]
                    }
                    state = OrderState.SHIPPED if done else OrderState.OPEN
                    if order["cancelledAt"]:
                        state = OrderState.CANCELLED
                    return {"state": state, "tracking_numbers": tracking}
            return None
        product = next(
            (
                p
                for p in shop.products.values()
                if _meta(p, "number") == number
            ),
            None,
        )
        if data_type is DataType.STOCK:
            for v in shop.variants.values():
                if v.get("sku") == number:
                    (level,) = [
                        q
                        for (item, _), q in shop.levels.items()
                        if item == v["_item"]
                    ]
                    return {"quantity": level["available"]}
            return None
        if product is None:
            return None
        variants = [shop.variants[v] for v in product["_variants"]]
        media = [shop.files[f]["id"] for f in product["_media"]]
        return {
            "name": product["title"],
            "price": Decimal(variants[0]["price"]),
            "categories": {
                _meta(shop.collections[c], "number")
                for c in product["_collections"]
            },
            "variants": {v["sku"] for v in variants},
            "media": media,
            "cover": media[0] if media else None,
        }

    async def count(self, platform: Any, data_type: DataType) -> int:
        if data_type is DataType.CATEGORIES:
            return len(self.emu.shop.collections)
        return len(self.emu.shop.products)

    async def media_count(self, platform: Any) -> int:
        return len(self.emu.shop.files)

    # Shopify derives an order's state from payments and fulfillments:
    # IN_PROGRESS is accepted and changes nothing, SHIPPED and COMPLETED
    # fulfil the open fulfillment orders, CANCELLED is orderCancel.

    async def test_order_status_transitions(self, platform: Any) -> None:
        """
        In progress changes nothing; shipped with tracking fulfils the
        order with its tracking; completed after shipped is a success.
        """
        await self.place_order(platform, make_order("50001"), changed_at=NOW)
        for state, tracking, expected in (
            (OrderState.IN_PROGRESS, (), OrderState.OPEN),
            (OrderState.SHIPPED, ("TRACK-1",), OrderState.SHIPPED),
            (OrderState.COMPLETED, ("TRACK-1",), OrderState.SHIPPED),
        ):
            status = OrderStatus(
                number="50001", state=state, tracking_numbers=tracking
            )
            (outcome,) = await self._push(
                platform, DataType.ORDER_STATUS, status
            )

            assert outcome.ok, outcome
            held = await self.read_back(
                platform, DataType.ORDER_STATUS, "50001"
            )
            assert held is not None
            assert expected == held["state"]
            assert set(tracking) <= held["tracking_numbers"]

    async def test_tracking_known_after_the_fulfilment_reaches_it(
        self, platform: Any
    ) -> None:
        """
        Tracking numbers the ERP learns after the order was fulfilled
        (the reference typed in after the shipment was done) reach the
        fulfilment (fulfillmentTrackingInfoUpdate), as the ERP has them;
        pushed again, nothing is written.
        """
        await self.place_order(platform, make_order("50003"), changed_at=NOW)
        order = next(iter(self.emu.shop.orders.values()))
        kept = []
        for tracking in ((), ("T-1",), ("T-1", "T-2"), ("T-3",)):
            status = OrderStatus(
                number="50003",
                state=OrderState.SHIPPED,
                tracking_numbers=tracking,
            )
            (outcome,) = await self._push(
                platform, DataType.ORDER_STATUS, status
            )
            assert outcome.ok, outcome
            (fulfilment,) = order["fulfillments"]
            kept.append([t["number"] for t in fulfilment["trackingInfo"]])
        seen = len(self.emu.requests)
        (again,) = await self._push(platform, DataType.ORDER_STATUS, status)

        assert [[], ["T-1"], ["T-1", "T-2"], ["T-3"]] == kept
        assert again.ok, again
        assert 1 == len(self.emu.requests) - seen  # the read, no write

    @pytest.mark.parametrize(
        "state", [OrderState.COMPLETED, OrderState.CANCELLED]
    )
    async def test_status_already_reached_is_success(
        self, platform: Any, state: OrderState
    ) -> None:
        """
        Completing twice succeeds with one fulfillment; cancelling twice
        succeeds with one orderCancel and no fulfillment.
        """
        await self.place_order(platform, make_order("50002"), changed_at=NOW)
        status = OrderStatus(number="50002", state=state)
        await self._push(platform, DataType.ORDER_STATUS, status)
        seen = len(self.emu.requests)
        (outcome,) = await self._push(platform, DataType.ORDER_STATUS, status)

        order = next(iter(self.emu.shop.orders.values()))
        assert outcome.ok, outcome
        assert 1 == len(self.emu.requests) - seen  # the read, no write
        if state is OrderState.COMPLETED:
            assert 1 == len(order["fulfillments"])
        else:
            assert [] == order["fulfillments"]
            assert order["cancelledAt"] is not None
            held = await self.read_back(
                platform, DataType.ORDER_STATUS, "50002"
            )
            assert held is not None
            assert OrderState.CANCELLED == held["state"]

    async def test_cancel_refused_and_cancelled_order(
        self, platform: Any
    ) -> None:
        """
        Cancelling a shipped order fails by name on the state field (the
        shop's refusal); shipping a cancelled order fails on state too.
        """
        await self.place_order(platform, make_order("50003"), changed_at=NOW)
        await self.place_order(platform, make_order("50004"), changed_at=NOW)
        for number, state in (
            ("50003", OrderState.SHIPPED),
            ("50004", OrderState.CANCELLED),
        ):
            await self._push(
                platform,
                DataType.ORDER_STATUS,
                OrderStatus(number=number, state=state),
            )

        (cancel,) = await self._push(
            platform,
            DataType.ORDER_STATUS,
            OrderStatus(number="50003", state=OrderState.CANCELLED),
        )
        (ship,) = await self._push(
            platform,
            DataType.ORDER_STATUS,
            OrderStatus(number="50004", state=OrderState.SHIPPED),
        )

        assert ("50003", "state") == (cancel.number, cancel.field)
        assert "fulfillments" in str(cancel.error)
        assert ("50004", "state") == (ship.number, ship.field)
        assert "cancelled on Shopify" in str(ship.error)


class TestOrderAddresses:
    @pytest.mark.parametrize("missing", ["shippingAddress", "billingAddress"])
    async def test_missing_address_is_the_other_one(
        self, missing: str
    ) -> None:
        """
        An order without a shipping address (digital goods) or without a
        billing address is read with its other address in both roles,
        not with a blank German one made up.
        """
        emu = ShopifyEmulator(TOKEN)
        shop = _shop(emu)
        place(emu, make_order("50010"), changed_at=NOW)
        for row in emu.shop.orders.values():
            row[missing] = None
            row[
                "billingAddress"
                if missing == "shippingAddress"
                else "shippingAddress"
            ] = {
                **row[
                    "billingAddress"
                    if missing == "shippingAddress"
                    else "shippingAddress"
                ],
                "countryCodeV2": "FR",
                "city": "Paris",
            }

        (order,) = [
            o
            async for page in shop.fetch_orders(All(), batch_size=10)
            for o in page
        ]
        await shop.aclose()

        assert order.billing == order.shipping
        assert ("Paris", "FR") == (order.shipping.city, order.shipping.country)

    async def test_no_address_at_all_fails_on_country(self) -> None:
        """
        An order with no address at all reads with a blank country, so it
        fails on ``billing.country`` by name instead of landing in the ERP
        as a German customer.
        """
        emu = ShopifyEmulator(TOKEN)
        shop = _shop(emu)
        place(emu, make_order("50011"), changed_at=NOW)
        for row in emu.shop.orders.values():
            row["shippingAddress"] = row["billingAddress"] = None

        (order,) = [
            o
            async for page in shop.fetch_orders(All(), batch_size=10)
            for o in page
        ]
        await shop.aclose()

        assert "" == order.billing.country
        assert "billing.country" in {p.field for p in problems(order)}


class TestOrderStates:
    async def test_cancelled_in_the_shop_reads_cancelled(self) -> None:
        """
        An order cancelled in Shopify (``cancelledAt`` set, ``updatedAt``
        moved) reads as cancelled, so its cancellation reaches the ERP;
        one not cancelled reads open.
        """
        emu = ShopifyEmulator(TOKEN)
        shop = _shop(emu)
        kept = place(emu, make_order("50021"), changed_at=NOW)
        gone = place(emu, make_order("50022"), changed_at=NOW)
        emu.cancel(gone, "CUSTOMER", False)

        states = {
            o.number: o.state
            async for page in shop.fetch_orders(All(), batch_size=10)
            for o in page
        }
        await shop.aclose()

        assert kept != gone
        assert {
            "50021": OrderState.OPEN,
            "50022": OrderState.CANCELLED,
        } == states


class TestPacing:
    async def test_paced_below_the_bucket(self) -> None:
        """
        Pushes through a bucket of 1,000 points restoring 100 per second
        are paced by the local model: everything lands, no answer is
        THROTTLED, and the time waited is exactly the bound the bucket
        sets, (points needed - maximum) / restore rate.
        """
        clock = [0.0]
        emu = ShopifyEmulator(
            TOKEN, maximum=1000, restore_rate=100, clock=lambda: clock[0]
        )

        async def sleep(seconds: float) -> None:
            clock[0] += seconds

        async with _shop(emu) as shop:
            shop._api.sleep = sleep
            shop._api.model.clock = lambda: clock[0]
            await shop.push(
                DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
            )
            outcomes = await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=article(f"P-{i}")) for i in range(80)],
            )

        needed = sum(r.cost or 0 for r in emu.requests)
        assert all(o.ok for o in outcomes), outcomes
        assert 0 == shop.throttled
        # collections, categories, who holds the 80 SKUs, the articles
        assert 253 + 3 * 12 + (2 + 3 * 160) + 80 * 16 == needed
        assert pytest.approx((needed - 1000) / 100) == clock[0]
        assert max(r.cost or 0 for r in emu.requests) <= 1000

    async def test_throttled_waits_exactly(self) -> None:
        """
        On THROTTLED the adapter waits (requested - available) /
        restoreRate and sends again.
        """
        clock = [0.0]
        emu = ShopifyEmulator(
            TOKEN, maximum=1000, restore_rate=10, clock=lambda: clock[0]
        )
        emu.bucket(TOKEN).available = 5
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)
            clock[0] += seconds

        async with _shop(emu) as shop:
            shop._api.sleep = sleep
            shop._api.model.clock = lambda: clock[0]
            (outcome,) = await shop.push(
                DataType.CATEGORIES, [Outgoing(record=CATEGORIES[0])]
            )

        assert outcome.ok, outcome
        assert 1 == shop.throttled
        assert pytest.approx((253 - 5) / 10) == waits[0]

    async def test_a_request_overtaken_in_flight_is_not_throttled(
        self,
    ) -> None:
        """
        Two 252-point queries at once on a full 500-point bucket: the
        second waits for the first's answer, since the shop may charge
        the first at any moment from a full bucket (so the refill the
        model saw while it travelled was lost); then it waits for the
        rest and no answer is THROTTLED, even when the second would
        reach the shop first.
        """
        clock = [0.0]
        emu = ShopifyEmulator(
            TOKEN, maximum=500, restore_rate=10, clock=lambda: clock[0]
        )
        asgi = httpx.ASGITransport(app=emu.app)
        second_arrived = anyio.Event()
        codes: list[str | None] = []

        class Travelling(httpx.AsyncBaseTransport):
            """The first query is slow on the way: the second overtakes it."""

            async def handle_async_request(
                self, request: httpx.Request
            ) -> httpx.Response:
                first = not codes
                codes.append(None)
                if first:
                    with anyio.move_on_after(0.5):
                        await second_arrived.wait()
                else:
                    second_arrived.set()
                return await asgi.handle_async_request(request)

        async def sleep(seconds: float) -> None:
            clock[0] += seconds

        api = GraphQL(
            "https://shop.test",
            HttpClient(
                base_url="https://shop.test",
                transport=Travelling(),
                headers={"X-Shopify-Access-Token": TOKEN},
            ),
            sleep=sleep,
            model=CostModel(
                clock=lambda: clock[0],
                maximum=500,
                restore_rate=10,
                available=500,
            ),
        )
        query = "{ products(first: 250) { nodes { id } } }"
        async with anyio.create_task_group() as tg:
            for _ in range(2):
                tg.start_soon(lambda: api.call(query, cost=252))
        await api.aclose()

        assert [252, 252] == [r.cost for r in emu.requests]
        assert 0 == api.model.throttled
        assert pytest.approx((252 - 248) / 10) == clock[0]


class TestFailures:
    async def test_user_errors_name_the_field(self) -> None:
        """
        A variant with a negative price fails that article naming the
        variant's price; the others land.
        """
        emu = ShopifyEmulator(TOKEN)
        bad = article(
            "A-BAD",
            variants=(Variant(number="A-BAD-1", options=(("Size", "S"),)),),
        )
        async with _shop(emu) as shop:
            await shop.push(
                DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
            )
            emu.shop.collections.clear()  # categories vanish under the adapter
            outcomes = await shop.push(
                DataType.ARTICLES, [Outgoing(record=bad)]
            )

        (outcome,) = outcomes
        assert not outcome.ok
        assert "categories.0" == outcome.field
        assert TOKEN not in repr(shop)
        assert TOKEN not in str(outcome)
