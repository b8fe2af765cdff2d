"""
The Shopware 6 adapter against the Shopware emulator: the platform
contract, writes, reliability under faults and a whole run (in process
through ``httpx.ASGITransport``, or over loopback).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ecomsync import (
    All,
    Category,
    ChangedSince,
    DataType,
    MediaKind,
    MediaLink,
    MediaStaging,
    Order,
    OrderState,
    OrderStatus,
    Outgoing,
    RunStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Variant,
)
from ecomsync.exceptions import AuthenticationError, RetryableError, SyncError
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._mapping import sw_id
from ecomsync.platforms.shopware6._order_mapping import (
    order_state,
)
from ecomsync.testing import capture_events, demo_erp
from ecomsync.testing._platform_contract import (
    CATEGORIES,
    PlatformContract,
    article,
)
from ecomsync.testing.shopware6 import Faults, ShopwareEmulator, serve

from .._retries import fast_retries
from ._shopware6 import SECRET, channels_ok, token_ok


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)


# -- against the emulator --------------------------------------------------


def _shop(emu: ShopwareEmulator, **kwargs: Any) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        emu.client_secret,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )


def _number_of_category(emu: ShopwareEmulator, cid: str | None) -> str | None:
    if cid is None:
        return None
    row = emu.entities["category"].get(cid)
    if row is None:
        return None
    return (row.get("customFields") or {}).get("ecomsync_number")


def _state(emu: ShopwareEmulator, row: dict[str, Any]) -> str | None:
    state = emu.entities["state_machine_state"].get(row.get("stateId", ""))
    return None if state is None else str(state["technicalName"])


class TestShopware6Contract(PlatformContract):
    """
    Shopware6 against the emulator honours the platform contract.
    """

    @pytest.fixture(name="platform")
    async def _platform(self) -> AsyncIterator[Shopware6]:
        self.emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        shop = _shop(self.emu)
        yield shop
        await shop.aclose()

    async def place_order(
        self, platform: Any, order: Order, *, changed_at: datetime
    ) -> None:
        self.emu.place(order, created_at=changed_at)

    async def read_back(
        self, platform: Any, data_type: DataType, number: str
    ) -> dict[str, Any] | None:
        emu = self.emu
        if data_type is DataType.CATEGORIES:
            row = emu.entities["category"].get(sw_id("category", number))
            if row is None:
                return None
            return {
                "name": row["name"],
                "parent": _number_of_category(emu, row.get("parentId")),
            }
        if data_type is DataType.ORDER_STATUS:
            orders = [
                o
                for o in emu.entities["order"].values()
                if o["orderNumber"] == number
            ]
            if not orders:
                return None
            (order,) = orders
            (delivery,) = [
                d
                for d in emu.entities["order_delivery"].values()
                if d["orderId"] == order["id"]
            ]
            return {
                "state": order_state(
                    _state(emu, order), _state(emu, delivery)
                ),
                "tracking_numbers": set(delivery.get("trackingCodes") or []),
            }
        pid = sw_id("product", number)
        product = emu.entities["product"].get(pid)
        if product is None:
            return None
        if data_type is DataType.STOCK:
            return {"quantity": product["stock"]}
        links = sorted(
            (
                m
                for m in emu.entities["product_media"].values()
                if m["productId"] == pid
            ),
            key=lambda m: m.get("position") or 0,
        )
        cover = emu.entities["product_media"].get(product.get("coverId") or "")
        documents = (product.get("customFields") or {}).get(
            "ecomsync_documents", []
        )
        return {
            "name": product["name"],
            "price": Decimal(str(product["price"][0]["gross"])),
            "categories": {
                _number_of_category(emu, m["categoryId"])
                for m in emu.entities["product_category"].values()
                if m["productId"] == pid
            },
            "variants": {
                p["productNumber"]
                for p in emu.entities["product"].values()
                if p.get("parentId") == pid
            },
            "media": [m["mediaId"] for m in links] + list(documents),
            "cover": None if cover is None else cover["mediaId"],
        }

    async def count(self, platform: Any, data_type: DataType) -> int:
        entity = {
            DataType.CATEGORIES: "category",
            DataType.ARTICLES: "product",
            DataType.STOCK: "product",
            DataType.ORDER_STATUS: "order",
        }[data_type]
        return len(self.emu.entities[entity])

    async def media_count(self, platform: Any) -> int:
        return len(self.emu.media_files)


@pytest.fixture(name="emu")
def _emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)


@pytest.fixture(name="shop")
async def _shop_fixture(emu: ShopwareEmulator) -> AsyncIterator[Shopware6]:
    shop = _shop(emu)
    yield shop
    await shop.aclose()


async def _catalogue(shop: Shopware6) -> None:
    outcomes = await shop.push(
        DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
    )
    assert all(o.ok for o in outcomes)


def _products(emu: ShopwareEmulator) -> list[str]:
    return sorted(p["productNumber"] for p in emu.entities["product"].values())


class TestShopware6Writes:
    async def test_children_before_parents_in_one_batch(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        A batch listing a child before its parent is still written.
        """
        outcomes = await shop.push(
            DataType.CATEGORIES,
            [Outgoing(record=c) for c in reversed(CATEGORIES)],
        )

        assert all(o.ok for o in outcomes), outcomes
        assert [o.number for o in outcomes] == ["K-3", "K-2", "K-1"]

    async def test_offender_isolated_by_halving_without_pointer(
        self,
    ) -> None:
        """
        A rejection without a pointer is bisected down to the offender.
        """
        sent: list[list[str]] = []

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/oauth/token":
                return token_ok(request) or httpx.Response(500)
            channels = channels_ok(request)
            if channels is not None:
                return channels
            body = json.loads(request.content)
            names = [
                row["name"] for row in body["ecomsync-categories"]["payload"]
            ]
            sent.append(names)
            if "BAD" in names:
                return httpx.Response(
                    400,
                    json={
                        "errors": [
                            {"status": "400", "code": "X", "detail": "refused"}
                        ]
                    },
                )
            return httpx.Response(200, json={"data": {}})

        shop = Shopware6(
            "http://shop", "k", SECRET, transport=httpx.MockTransport(handler)
        )
        names = ["a", "b", "c", "BAD", "e"]
        outcomes = await shop.push(
            DataType.CATEGORIES,
            [
                Outgoing(record=Category(number=f"K-{i}", name=n))
                for i, n in enumerate(names)
            ],
        )
        await shop.aclose()

        assert [o.ok for o in outcomes] == [True, True, True, False, True]
        assert outcomes[3].error == "refused"
        written = {n for batch in sent if "BAD" not in batch for n in batch}
        assert {"a", "b", "c", "e"} == written

    async def test_variants_options_and_configurator(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Variants become children with options; groups exist once.
        """
        await _catalogue(shop)
        shirt = article(
            "A-7",
            variants=(
                Variant(number="A-7-S", options=(("Größe", "S"),)),
                Variant(number="A-7-M", options=(("Größe", "M"),)),
            ),
        )
        await shop.push(DataType.ARTICLES, [Outgoing(record=shirt)])
        await shop.push(DataType.ARTICLES, [Outgoing(record=shirt)])

        assert _products(emu) == ["A-7", "A-7-M", "A-7-S"]
        assert len(emu.entities["property_group"]) == 1
        assert len(emu.entities["property_group_option"]) == 2
        assert len(emu.entities["product_configurator_setting"]) == 2
        child = emu.entities["product"][sw_id("product", "A-7-S")]
        assert sw_id("product", "A-7") == child["parentId"]

    async def test_new_tax_rate_once_for_concurrent_batches(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Batches in flight together that need the same new tax rate find
        or create it once (one tax entity, every product linked to it).
        """
        await _catalogue(shop)
        rate = Decimal("7.7")

        async def batch(first: int) -> None:
            outcomes = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(record=article(f"A-{first + i}", tax_rate=rate))
                    for i in range(3)
                ],
            )
            assert all(o.ok for o in outcomes)

        async with anyio.create_task_group() as tg:
            for first in (10, 20, 30):
                tg.start_soon(batch, first)

        taxes = [
            t for t in emu.entities["tax"].values() if t["taxRate"] == 7.7
        ]
        assert 1 == len(taxes)
        linked = {
            p["taxId"]
            for p in emu.entities["product"].values()
            if p["productNumber"].startswith("A-")
        }
        assert {taxes[0]["id"]} == linked

    async def test_price_tax_and_visibility(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Gross and net in the default currency, the tax found or created,
        visible in the sales channels.
        """
        await _catalogue(shop)
        await shop.push(
            DataType.ARTICLES,
            [
                Outgoing(record=article("A-1")),
                Outgoing(record=article("A-2", tax_rate=Decimal("5.5"))),
            ],
        )

        one = emu.entities["product"][sw_id("product", "A-1")]
        two = emu.entities["product"][sw_id("product", "A-2")]
        assert emu.ids.tax_standard == one["taxId"]
        assert 1 == sum(
            t["taxRate"] == 5.5 for t in emu.entities["tax"].values()
        )
        assert emu.entities["tax"][two["taxId"]]["taxRate"] == 5.5
        assert one["price"] == [
            {
                "currencyId": "b7d2554b0ce847cd82f3ac9bd1c0dfca",
                "gross": 19.99,
                "net": 16.8,
                "linked": True,
            }
        ]
        assert {emu.ids.sales_channel} == {
            v["salesChannelId"]
            for v in emu.entities["product_visibility"].values()
            if v["productId"] == one["id"]
        }

    async def test_article_push_keeps_stock(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Re-pushing an article leaves the stock the stock sync set.
        """
        await _catalogue(shop)
        await shop.push(DataType.ARTICLES, [Outgoing(record=article("A-1"))])
        await shop.push(
            DataType.STOCK,
            [Outgoing(record=StockLevel(number="A-1", quantity=9))],
        )
        await shop.push(DataType.ARTICLES, [Outgoing(record=article("A-1"))])

        assert emu.entities["product"][sw_id("product", "A-1")]["stock"] == 9

    async def test_documents_are_not_downloads(
        self, shop: Shopware6, emu: ShopwareEmulator, tmp_path: Path
    ) -> None:
        """
        A PDF lands in the documents custom field, not as download or
        gallery image.
        """
        await _catalogue(shop)
        (target,) = await shop.push(
            DataType.ARTICLES, [Outgoing(record=article("A-1"))]
        )
        pdf = await shop.upload_media(
            PlatformContract._staged(
                tmp_path,
                b"%PDF-1.4",
                filename="a.pdf",
                mime_type="application/pdf",
                kind=MediaKind.DOCUMENT,
            )
        )
        await shop.attach_media(
            DataType.ARTICLES,
            target,
            [
                MediaLink(
                    media_id=pdf,
                    sha256="x",
                    position=0,
                    kind=MediaKind.DOCUMENT,
                )
            ],
        )

        product = emu.entities["product"][target.platform_id or ""]
        assert [pdf] == product["customFields"]["ecomsync_documents"]
        assert not product.get("downloads")
        assert None is product.get("coverId")
        assert not emu.entities["product_media"]

    async def test_send_mail_is_configurable(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        Transitions mail the customer only when asked to.
        """
        emu.place_order(order_number="777")
        emu.place_order(order_number="778")
        for number, send in (("777", False), ("778", True)):
            shop = _shop(emu, send_mail=send)
            (outcome,) = await shop.push(
                DataType.ORDER_STATUS,
                [
                    Outgoing(
                        record=OrderStatus(
                            number=number, state=OrderState.IN_PROGRESS
                        )
                    )
                ],
            )
            await shop.aclose()
            assert outcome.ok

        assert [t.send_mail for t in emu.transitions] == [False, True]

    @pytest.mark.parametrize(
        "state",
        [OrderState.OPEN, OrderState.IN_PROGRESS, OrderState.SHIPPED],
    )
    async def test_cancelled_order_is_not_reopened(
        self, shop: Shopware6, emu: ShopwareEmulator, state: OrderState
    ) -> None:
        """
        Any state but cancelled for an order cancelled in the shop (since
        the ERP last read it) fails on ``state`` by name; nothing moves,
        the order stays cancelled.  Cancelled again is a success.
        """
        emu.place_order(order_number="900")
        (cancel,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="900", state=OrderState.CANCELLED
                    )
                )
            ],
        )
        moved = len(emu.transitions)
        (outcome,) = await shop.push(
            DataType.ORDER_STATUS,
            [Outgoing(record=OrderStatus(number="900", state=state))],
        )
        (again,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="900", state=OrderState.CANCELLED
                    )
                )
            ],
        )

        assert cancel.ok, cancel
        assert ("900", "state") == (outcome.number, outcome.field)
        assert "900 is cancelled in Shopware" in str(outcome.error)
        assert moved == len(emu.transitions)
        assert again.ok, again

    async def test_shipped_leaves_a_completed_order_completed(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Shipped (again, with a tracking code learnt later) for an order
        the shop has completed leaves it completed: completed includes
        shipped, and walking it reopen, process would take the merchant's
        completion back.  The tracking code reaches the delivery.
        """
        emu.place_order(order_number="903")

        async def push(state: OrderState, *tracking: str) -> Any:
            (outcome,) = await shop.push(
                DataType.ORDER_STATUS,
                [
                    Outgoing(
                        record=OrderStatus(
                            number="903",
                            state=state,
                            tracking_numbers=tracking,
                        )
                    )
                ],
            )
            return outcome

        await push(OrderState.COMPLETED)
        moved = len(emu.transitions)
        again = await push(OrderState.SHIPPED, "T-9")

        assert again.ok, again
        assert [] == [(t.entity, t.action) for t in emu.transitions[moved:]]
        assert [["T-9"]] == [
            d.get("trackingCodes")
            for d in emu.entities["order_delivery"].values()
        ]

    async def test_number_of_two_orders_moves_neither(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        An order number two Shopware orders hold (sales channels with
        number ranges of their own) fails the status on ``number``,
        naming both; neither order moves nor gets the tracking codes.
        """
        first = emu.place_order(order_number="902", order_id="a" * 32)
        second = emu.place_order(order_number="902", order_id="b" * 32)
        (outcome,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="902",
                        state=OrderState.SHIPPED,
                        tracking_numbers=("T-1",),
                    )
                )
            ],
        )

        assert ("902", "number") == (outcome.number, outcome.field)
        assert first in str(outcome.error)
        assert second in str(outcome.error)
        assert [] == emu.transitions
        assert [] == [
            d
            for d in emu.entities["order_delivery"].values()
            if d.get("trackingCodes")
        ]

    async def test_no_path_through_completed_or_cancelled(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        An order the shop has in progress that the ERP has open fails on
        ``state`` by name: Shopware leads back to open only through
        completed or cancelled, whose flows (mails, documents, released
        stock) must not run for an order that is neither.  Nothing moves.
        """
        emu.place_order(order_number="901")
        (started,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="901", state=OrderState.IN_PROGRESS
                    )
                )
            ],
        )
        moved = len(emu.transitions)
        (outcome,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(number="901", state=OrderState.OPEN)
                )
            ],
        )

        assert started.ok, started
        assert ("901", "state") == (outcome.number, outcome.field)
        assert "901" in str(outcome.error)
        assert "in_progress" in str(outcome.error)
        assert [] == [(t.action, t.to_state) for t in emu.transitions[moved:]]


class TestShopware6Reliability:
    async def test_replay_after_commit_then_timeout_duplicates_nothing(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        A sync request that committed but timed out is replayed without
        creating anything twice.
        """
        shop = _shop(emu, request_deadline=0.3)
        await _catalogue(shop)
        before = len(emu.entities["category"])
        emu.faults = Faults(commit_then_timeout=1, hang_s=5)
        outcomes = await shop.push(
            DataType.ARTICLES,
            [Outgoing(record=article(f"A-{i}")) for i in range(1, 4)],
        )
        await shop.aclose()

        assert all(o.ok for o in outcomes), outcomes
        assert _products(emu) == ["A-1", "A-2", "A-3"]
        assert before == len(emu.entities["category"])
        assert len(emu.entities["product_category"]) == 3

    @pytest.mark.parametrize(
        "faults",
        [
            Faults(storm_next=2, storm_status=429, retry_after="0"),
            Faults(storm_next=2, storm_status=503, retry_after=None),
            Faults(reset_next=1),
        ],
        ids=["429", "503", "reset"],
    )
    async def test_transient_failures_are_retried(
        self, emu: ShopwareEmulator, shop: Shopware6, faults: Faults
    ) -> None:
        """
        Storms and resets are retried until the write goes through.
        """
        emu.faults = faults
        outcomes = await shop.push(
            DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
        )

        assert all(o.ok for o in outcomes)

    async def test_dripping_answer_hits_the_deadline(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        A response trickled slower than the deadline is a RetryableError,
        although httpx's inactivity timeout never fires.
        """
        shop = _shop(emu, request_deadline=0.2)
        await shop._api.token()
        emu.faults = Faults(drip_chunk_bytes=1, drip_interval_ms=50)

        with anyio.fail_after(10), pytest.raises(RetryableError):
            await shop.push(
                DataType.CATEGORIES, [Outgoing(record=CATEGORIES[0])]
            )
        await shop.aclose()

    async def test_expired_token_is_refreshed(
        self, emu: ShopwareEmulator, shop: Shopware6
    ) -> None:
        """
        A token the shop no longer accepts is replaced once, silently.
        """
        await _catalogue(shop)
        emu.revoke_tokens()
        outcomes = await shop.push(
            DataType.CATEGORIES, [Outgoing(record=CATEGORIES[0])]
        )

        assert outcomes[0].ok
        assert emu.route_counts["token"] == 2

    async def test_bad_secret_stops_without_showing_it(
        self, emu: ShopwareEmulator, caplog: pytest.LogCaptureFixture
    ) -> None:
        """
        A wrong secret against the emulator is an AuthenticationError
        whose text, repr and logs never contain it.
        """
        caplog.set_level(logging.DEBUG)
        wrong = "WRONG-" + SECRET
        shop = Shopware6(
            "http://shop.test",
            emu.client_id,
            wrong,
            transport=httpx.ASGITransport(app=emu.app),
        )

        with pytest.raises(AuthenticationError) as info:
            await shop.push(
                DataType.CATEGORIES, [Outgoing(record=CATEGORIES[0])]
            )
        await shop.aclose()

        for text in (
            str(info.value),
            repr(info.value),
            repr(shop),
            caplog.text,
        ):
            assert wrong not in text
            assert SECRET not in text

    async def test_page_size_is_capped(
        self, emu: ShopwareEmulator, shop: Shopware6
    ) -> None:
        """
        Asking for batches above 500 still reads (Shopware's max limit).
        """
        for n in range(3):
            emu.place_order(order_number=str(20000 + n))

        batches = [b async for b in shop.fetch_orders(All(), batch_size=1000)]

        assert sum(len(b) for b in batches) == 3


_AT = datetime(2026, 11, 1, tzinfo=UTC)


class _Pages(httpx.AsyncBaseTransport):
    """
    The emulator behind a transport that notes the page of each search
    for orders with their lines (not the look-ups of who else holds a
    page's numbers), and may act after the first one.
    """

    def __init__(
        self,
        emu: ShopwareEmulator,
        after_first: Any = None,
        fail: int = 0,
        *,
        total: bool = True,
    ) -> None:
        self.inner = httpx.ASGITransport(app=emu.app)
        self.pages: list[int] = []
        self.sizes: list[int] = []
        self.read: list[str] = []
        self.after_first = after_first
        self.fail = fail
        self.flying = self.most = 0
        self.total = total

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        page = 0
        if request.url.path == "/api/search/order":
            body = json.loads(request.content)
            if "associations" in body:
                # pages are asked after the last row read, not by number
                page = len(self.pages) + 1
                self.pages.append(page)
                self.sizes.append(len(request.content))
        if page and page == self.fail:
            return httpx.Response(400, json={"errors": [{"code": "X"}]})
        self.flying += 1
        self.most = max(self.most, self.flying)
        try:
            await anyio.sleep(0.01)  # in flight: others may start meanwhile
            response = await self.inner.handle_async_request(request)
        finally:
            self.flying -= 1
        if self.pages == [1] and self.after_first is not None:
            self.after_first()
            self.after_first = None
        if not page:
            return response
        body = json.loads(await response.aread())
        self.read += [row["id"] for row in body.get("data", [])]
        if not self.total:
            body.pop("total", None)
        return httpx.Response(response.status_code, json=body)


class _Joining(_Pages):
    """
    `_Pages` whose shop changes between the pages of one read: page 2 is
    answered only after page 3 came back (as a shop may answer pages
    asked together), and *join* acts just before it.  A reader that
    reads one page after another asks for page 3 only after page 2:
    page 2 then waits a second for nothing.
    """

    def __init__(self, emu: ShopwareEmulator, join: Any) -> None:
        super().__init__(emu)
        self.join = join
        self.joined = False
        self.asked = 0
        self.third = anyio.Event()

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        page = 0
        if request.url.path == "/api/search/order":
            body = json.loads(request.content)
            if "associations" in body:
                self.asked += 1
                page = self.asked
        if page == 2:
            with anyio.move_on_after(1):
                await self.third.wait()
            self.join()
            self.joined = True
        response = await super().handle_async_request(request)
        if page == 3:
            self.third.set()
        return response


class TestOrderPages:
    @staticmethod
    async def _read(
        emu: ShopwareEmulator, transport: _Pages, batch_size: int
    ) -> list[list[str]]:
        shop = Shopware6(
            "http://shop.test",
            emu.client_id,
            emu.client_secret,
            transport=transport,
        )
        try:
            return [
                [o.number for o in page]
                async for page in shop.fetch_orders(
                    All(), batch_size=batch_size
                )
            ]
        finally:
            await shop.aclose()

    @pytest.mark.parametrize(
        ("orders", "size", "requests"),
        [
            (10, 3, 4),
            (9, 3, 4),
            (20, 3, 7),
            (2, 3, 1),
            (0, 3, 1),
            (3, 3, 2),
            # beyond the six pages Shopware's "next-pages" total looks ahead
            (40, 3, 14),
            (39, 3, 14),
            (64, 3, 22),
        ],
    )
    async def test_pages_as_one_after_another_reads_them(
        self, orders: int, size: int, requests: int
    ) -> None:
        """The pages are read one after another, each after the last row
        read, yielded in order, up to the first short page."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        for n in range(orders):
            emu.place_order(
                order_number=str(50000 + n),
                created_at=_AT + timedelta(minutes=n),
            )
        transport = _Pages(emu)

        pages = await self._read(emu, transport, size)

        assert [str(50000 + n) for n in range(orders)] == [
            number for page in pages for number in page
        ]
        assert all(0 < len(page) <= size for page in pages)
        assert requests == len(transport.pages)
        assert sorted(transport.pages) == list(range(1, requests + 1))
        assert 1 == transport.most

    async def test_without_a_total_pages_are_read_one_by_one(self) -> None:
        """A shop that gives no total: the pages one after another, up to
        the first short one."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        for n in range(7):
            emu.place_order(
                order_number=str(40000 + n),
                created_at=_AT + timedelta(minutes=n),
            )
        transport = _Pages(emu, total=False)

        pages = await self._read(emu, transport, 3)

        assert [[40000, 40001, 40002], [40003, 40004, 40005], [40006]] == [
            [int(n) for n in page] for page in pages
        ]
        assert ([1, 2, 3], 1) == (transport.pages, transport.most)

    async def test_orders_placed_while_reading_are_read(self) -> None:
        """More orders than the first page counted (placed meanwhile):
        the pages after the counted ones are read until a short one."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        for n in range(6):
            emu.place_order(
                order_number=str(60000 + n),
                created_at=_AT + timedelta(minutes=n),
            )

        def more() -> None:
            for n in range(6, 10):
                emu.place_order(
                    order_number=str(60000 + n),
                    created_at=_AT + timedelta(minutes=n),
                )

        transport = _Pages(emu, after_first=more)

        pages = await self._read(emu, transport, 3)

        assert [str(60000 + n) for n in range(10)] == [
            number for page in pages for number in page
        ]

    async def test_an_order_joining_a_changed_since_read_skips_none(
        self,
    ) -> None:
        """An old order edited while a ChangedSince read is under way
        joins the read's orders before pages not yet read: every order
        changed since is read all the same (one may come twice), none
        skipped (it would never be imported: the next read starts
        later)."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        edited = emu.place_order(
            order_number="OLD-1", created_at=_AT - timedelta(hours=2)
        )
        emu.touch("order", edited, _AT + timedelta(seconds=30))
        joining = emu.place_order(
            order_number="OLD-2", created_at=_AT - timedelta(hours=1)
        )
        for n in range(14):
            emu.place_order(
                order_number=str(80000 + n),
                created_at=_AT + timedelta(minutes=n),
            )

        def join() -> None:
            emu.touch("order", joining, _AT + timedelta(hours=1))

        transport = _Joining(emu, join)
        shop = Shopware6(
            "http://shop.test",
            emu.client_id,
            emu.client_secret,
            transport=transport,
        )
        try:
            read = {
                o.number
                async for page in shop.fetch_orders(
                    ChangedSince(_AT), batch_size=3
                )
                for o in page
            }
        finally:
            await shop.aclose()

        assert transport.joined
        assert {"OLD-1", *(str(80000 + n) for n in range(14))} <= read

    @pytest.mark.parametrize("changed_since", [False, True])
    async def test_an_order_deleted_mid_read_skips_none(
        self, changed_since: bool
    ) -> None:
        """An order deleted in the shop while a read pages through the
        orders moves none of the later ones out of the read: every order
        still in the shop is read (the next read starts later, so one
        skipped would never be imported)."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        ids = [
            emu.place_order(
                order_number=str(90000 + n),
                created_at=_AT + timedelta(minutes=n),
            )
            for n in range(10)
        ]

        def delete() -> None:
            del emu.entities["order"][ids[0]]

        transport = _Pages(emu, after_first=delete)
        shop = Shopware6(
            "http://shop.test",
            emu.client_id,
            emu.client_secret,
            transport=transport,
        )
        selection = ChangedSince(_AT) if changed_since else All()
        try:
            read = [
                o.number
                async for page in shop.fetch_orders(selection, batch_size=3)
                for o in page
            ]
        finally:
            await shop.aclose()

        assert [str(90000 + n) for n in range(10)] == read

    async def test_orders_placed_in_one_millisecond_are_each_read_once(
        self,
    ) -> None:
        """More orders placed in the same millisecond than a page holds:
        each is read once, none skipped, the read ends."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        for n in range(8):
            emu.place_order(order_number=str(91000 + n), created_at=_AT)
        emu.place_order(
            order_number="91100", created_at=_AT + timedelta(milliseconds=1)
        )
        transport = _Pages(emu)

        pages = await self._read(emu, transport, 3)

        read = [number for page in pages for number in page]
        assert sorted(read) == [*(str(91000 + n) for n in range(8)), "91100"]
        assert "91100" == read[-1]
        assert [1, 2, 3, 4] == transport.pages

    async def test_many_orders_in_one_millisecond_keep_requests_small(
        self,
    ) -> None:
        """Orders bulk-imported into one millisecond: each is read once,
        and no page's request grows with the pages read before it (an
        nginx in front of the shop refuses bodies over 1 MB)."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        for n in range(60):
            emu.place_order(order_number=str(92000 + n), created_at=_AT)
        transport = _Pages(emu)

        pages = await self._read(emu, transport, 3)

        read = [number for page in pages for number in page]
        assert [str(92000 + n) for n in range(60)] == sorted(read)
        assert 21 == len(transport.pages)
        later = transport.sizes[1:]
        # less than one more id (32 hex digits, quoted) than the smallest
        assert max(later) - min(later) < 34

    async def test_orders_sharing_a_millisecond_and_a_number_are_read_once(
        self,
    ) -> None:
        """Orders of one millisecond that share a number, or have none,
        more than a page holds: each order is read once, none skipped."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        numbers = ["93000"] * 4 + ["93001", "93002"] + ["x"] * 4
        ids = [
            emu.place_order(
                order_number=number,
                created_at=_AT,
                order_id=sw_id("order", str(n)),
            )
            for n, number in enumerate(numbers)
        ]
        for order_id in ids[-4:]:
            emu.entities["order"][order_id]["orderNumber"] = None
        later = emu.place_order(
            order_number="93003", created_at=_AT + timedelta(milliseconds=1)
        )
        transport = _Pages(emu)

        await self._read(emu, transport, 3)

        assert sorted([*ids, later]) == sorted(transport.read)
        assert later == transport.read[-1]
        assert 4 == len(transport.pages)

    async def test_numbers_sorted_by_the_collation_are_each_read(
        self,
    ) -> None:
        """Order numbers of one millisecond that utf8mb4_unicode_ci sorts
        otherwise than their code points (Ö as O, before P): each order
        read once, none skipped."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        for number in ("P-3", "Ö-2", "O-1", "o-4"):
            emu.place_order(order_number=number, created_at=_AT)
        transport = _Pages(emu)

        pages = await self._read(emu, transport, 2)

        read = [number for page in pages for number in page]
        assert ["O-1", "Ö-2", "o-4", "P-3"] == read

    async def test_a_failed_page_fails_as_itself(self) -> None:
        """A page that fails raises its own error (not a group), after
        the pages before it, and no later page is yielded."""
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        for n in range(12):
            emu.place_order(
                order_number=str(70000 + n),
                created_at=_AT + timedelta(minutes=n),
            )
        transport = _Pages(emu, fail=3)
        shop = Shopware6(
            "http://shop.test",
            emu.client_id,
            emu.client_secret,
            transport=transport,
        )
        seen: list[str] = []

        async def read() -> None:
            async for page in shop.fetch_orders(All(), batch_size=3):
                seen.extend(o.number for o in page)

        with pytest.raises(SyncError):
            await read()
        await shop.aclose()

        assert [str(70000 + n) for n in range(6)] == seen


class TestEndToEnd:
    async def test_all_five_types_on_loopback(self, tmp_path: Path) -> None:
        """
        A run of all five types against the emulator served on loopback
        succeeds and leaves the shop and the ERP in step.
        """
        emu = ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)
        erp = demo_erp(articles=40, categories=8, image_bytes=256)
        for n in (1, 2, 3):
            emu.place_order(
                order_number=f"3000{n}",
                lines=[
                    {
                        "productNumber": f"A-0000{n}",
                        "quantity": 1,
                        "unitPrice": 9.99,
                    }
                ],
            )
            erp.put(
                OrderStatus(
                    number=f"3000{n}",
                    state=OrderState.SHIPPED,
                    tracking_numbers=(f"T-{n}",),
                )
            )
        with serve(emu) as url:
            shop = Shopware6(url, emu.client_id, SECRET)
            store = SqliteStore(tmp_path / "state.db")
            sync = Synchronizer(
                erp=erp,
                platforms={"shop": shop},
                store=store,
                staging=MediaStaging(tmp_path / "staging"),
                license_timeout=5.0,
            )
            spec = SyncSpec(types={t: All() for t in DataType})
            with anyio.fail_after(120):
                async with capture_events(sync, spec) as run:
                    pass
            await shop.aclose()
            await store.aclose()

        summary = run.summary
        assert summary is not None
        assert summary.status == RunStatus.SUCCEEDED, summary.failures
        assert all(c.failed == 0 for c in summary.counts.values())
        numbers = _products(emu)
        assert len(numbers) == 40 + 2 * 3
        assert len(emu.entities["category"]) == 8 + 1
        assert emu.media_files
        assert {"30001", "30002", "30003"} <= set(erp.orders)
        delivery_states = {
            _state(emu, d) for d in emu.entities["order_delivery"].values()
        }
        assert {"shipped"} == delivery_states
