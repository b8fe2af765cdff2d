"""
Shopware 6 orders sharing an order number (a number range reset, orders
imported from another system): none of them reaches the ERP as if it
were the other; each read fails the number once, naming every order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ecomsync import (
    All,
    ChangedSince,
    DataType,
    MemoryErp,
    NumberRange,
    Only,
    Order,
    OrderState,
    OrderStatus,
    Outgoing,
    Refusal,
    RunStatus,
    Synchronizer,
    SyncSpec,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._push import pushing, shopware6
from ._shopware6 import SECRET


pytestmark = pytest.mark.anyio

ORDERS = DataType.ADDRESSES_AND_ORDERS
IMPORT = SyncSpec(types={ORDERS: All()})
FIRST, SECOND = "a" * 32, "b" * 32
#: An order id after every other, by id and by when it was placed.
LAST = "f" * 32
#: One customer, who orders the same again.
CUSTOMER = {
    "email": "erika@example.com",
    "firstName": "Erika",
    "lastName": "Mustermann",
    "customerNumber": "K-1",
}


def _place(
    emu: ShopwareEmulator, number: str, order_id: str, quantity: int = 1
) -> str:
    return emu.place_order(
        order_number=number,
        order_id=order_id,
        customer=CUSTOMER,
        lines=[{"productNumber": "A-1", "quantity": quantity, "unitPrice": 9}],
        created_at=emu.now() + timedelta(minutes=quantity),
    )


def _place_many(emu: ShopwareEmulator, count: int) -> None:
    """Place orders P-0 .. P-<count - 1>, a second apart."""
    for n in range(count):
        emu.place_order(
            order_number=f"P-{n}",
            created_at=emu.now() + timedelta(seconds=n),
        )


async def _pages(
    shop: Shopware6, selection: Any, batch_size: int
) -> list[Sequence[Order | Refusal]]:
    """Every page *shop* reads of *selection*; the shop closed after."""
    try:
        return [
            page
            async for page in shop.fetch_orders(
                selection, batch_size=batch_size
            )
        ]
    finally:
        await shop.aclose()


def _failures(record: Any) -> list[tuple[str, str | None]]:
    return [(f.number, f.field) for f in record.failures]


@pytest.fixture(name="emu")
def _emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIANUMBERS", client_secret=SECRET)


async def _import(
    emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path, spec: SyncSpec
) -> Any:
    async with pushing(shopware6(emu, SECRET), erp, tmp_path) as sync:
        return await sync.execute(spec)


class TestReusedOrderNumber:
    async def test_later_order_with_an_imported_number_is_not_merged(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """
        A second shop order with the number of one already imported (the
        same customer ordering the same again) fails on ``number`` naming
        both orders; the ERP keeps the first as it was, not taking the
        second for it.
        """
        _place(emu, "5001", FIRST)
        first = await _import(emu, erp, tmp_path, IMPORT)
        kept = erp.orders["5001"]
        _place(emu, "5001", SECOND)
        again = await _import(emu, erp, tmp_path, IMPORT)

        assert RunStatus.SUCCEEDED is first.status, first.failures
        assert [("5001", "number")] == _failures(again)
        (failure,) = again.failures
        assert FIRST in failure.message
        assert SECOND in failure.message
        assert kept == erp.orders["5001"]
        assert 0 == again.counts[ORDERS].updated

    async def test_two_orders_of_one_read_neither_imported(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """
        Two orders of one number in one read, on two pages: the number
        fails once, naming both; neither order reaches the ERP (neither
        first wins nor the second is reported as an edit of the first).
        """
        _place(emu, "5002", FIRST, quantity=1)
        _place(emu, "5002", SECOND, quantity=2)
        async with pushing(shopware6(emu, SECRET), erp, tmp_path) as sync:
            sync.order_page_size = 1
            record = await sync.execute(IMPORT)

        assert [("5002", "number")] == _failures(record)
        assert FIRST in record.failures[0].message
        assert "changed in the shop" not in record.failures[0].message
        assert "5002" not in erp.orders
        ledger = await _ledger(emu, erp, tmp_path)
        assert ["5002"] == ledger

    async def test_only_the_number_fails_it_once(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """
        The "sync this order" button on a shared number fails it once,
        on ``number``, not also as a number the shop does not show.
        """
        _place(emu, "5003", FIRST)
        _place(emu, "5003", SECOND)
        record = await _import(
            emu, erp, tmp_path, SyncSpec(types={ORDERS: Only({"5003"})})
        )

        assert [("5003", "number")] == _failures(record)
        assert "5003" not in erp.orders

    async def test_plan_lists_it_as_refused(
        self, emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """
        A preview refuses the shared number, naming both orders, and
        would import the other order.
        """
        _place(emu, "5004", FIRST)
        _place(emu, "5004", SECOND)
        _place(emu, "5005", "c" * 32)
        async with pushing(shopware6(emu, SECRET), erp, tmp_path) as sync:
            plan = await sync.plan(IMPORT)

        part = plan.types[ORDERS]
        (refusal,) = part.invalid
        assert isinstance(refusal, Refusal)
        assert ("5004", "number") == (refusal.number, refusal.field)
        assert SECOND in refusal.reason
        assert ["5005"] == list(part.create)


class TestLookUpRequests:
    @pytest.mark.parametrize("shared", [False, True])
    async def test_a_full_page_costs_one_look_up(
        self, emu: ShopwareEmulator, erp: MemoryErp, shared: bool
    ) -> None:
        """
        A page of 500 orders (Shopware's most) whose numbers no other
        order holds is looked up by the next page's own search (no
        request of its own); where one number is held twice, one look-up
        reads its holders and the number fails.
        """
        numbers = [f"L-{n}" for n in range(500)]
        for number in numbers:
            emu.place_order(order_number=number)
        if shared:
            # placed later: on the second page, its number on the first
            emu.place_order(
                order_number="L-0",
                order_id=LAST,
                created_at=emu.now() + timedelta(minutes=1),
            )
        shop = shopware6(emu, SECRET)
        seen = len(emu.requests)
        try:
            pages = [
                page async for page in shop.fetch_orders(All(), batch_size=500)
            ]
        finally:
            await shop.aclose()

        searches = sum(
            1
            for r in list(emu.requests)[seen:]
            if r.path == "/api/search/order"
        )
        refused = [
            r.number for p in pages for r in p if isinstance(r, Refusal)
        ]
        # Pages: 500 orders, then an empty one (or the one more) carrying
        # the first page's look-up; with the shared number, one look-up of
        # its holders, and none for the second page (its number failed).
        assert (3 if shared else 2) == searches
        assert (["L-0"] if shared else []) == refused

    @pytest.mark.parametrize(
        "selection",
        [All(), Only({f"P-{n}" for n in range(0, 1001, 2)})],
        ids=["All", "Only-501"],
    )
    async def test_one_look_up_per_page_of_orders(
        self, emu: ShopwareEmulator, selection: Any
    ) -> None:
        """
        A read of 1,001 orders with distinct numbers (or of 501 of them
        by number) sends per page of orders its search, each carrying
        the look-up of the page before's numbers, and one look-up of
        the last page's, nothing more.
        """
        _place_many(emu, 1001)
        shop = shopware6(emu, SECRET)
        seen = len(emu.requests)
        pages = await _pages(shop, selection, 500)

        sent = [
            r
            for r in list(emu.requests)[seen:]
            if r.path != "/api/oauth/token"
        ]
        read = [o for p in pages for o in p]
        assert not any(isinstance(o, Refusal) for o in read)
        # All: pages of 500, 500, 1, then the last one's look-up; Only
        # (501 numbers, 500 a filter): 500 and an empty page, then 1 and
        # its look-up.
        assert (1001 if isinstance(selection, All) else 501) == len(read)
        expected = 4
        assert ["/api/search/order"] * expected == [r.path for r in sent]

    @pytest.mark.parametrize(
        "selection",
        [
            All(),
            ChangedSince(datetime(2026, 1, 1, tzinfo=UTC)),
            NumberRange("P-0", "P-999"),
            Only({f"P-{n}" for n in range(0, 1001, 2)}),
        ],
        ids=["All", "ChangedSince", "NumberRange", "Only-501"],
    )
    async def test_no_search_counts_the_whole_shop(
        self, emu: ShopwareEmulator, selection: Any
    ) -> None:
        """
        No order search of a read aggregates over the shop's orders (a
        count over a million orders costs the shop seconds per page):
        every aggregation is filtered on numbers of a page read (a page
        carrying one has the read's filter as ``post-filter``, which
        aggregations do not see); and no page asks for the exact total
        (a ``COUNT`` over every matching order): pages are asked after
        the last row read, with no total.
        """
        _place_many(emu, 1001)
        sent = _Searches(emu)
        shop = Shopware6(
            "http://shop.test", emu.client_id, SECRET, transport=sent
        )
        pages = await _pages(shop, selection, 500)

        bodies = sent.bodies
        read = {o.number for p in pages for o in p}
        counted = []
        carried = 0
        for body in bodies:
            if "associations" in body:  # a page of orders
                if body.get("total-count-mode") is not None:
                    assert 2 == body["total-count-mode"]  # next-pages
                    counted.append(body["page"])
                if "aggregations" not in body:
                    assert "post-filter" not in body
                    continue
                # the look-up of the page before's numbers
                carried += 1
                assert "filter" not in body
                [look_up] = body["aggregations"]
                assert "filter" == look_up["type"]
                assert "terms" == look_up["aggregation"]["type"]
                [by_number] = look_up["filter"]
            else:  # a look-up: its aggregation sees only the numbers
                assert "post-filter" not in body
                assert body["aggregations"]
                [by_number] = body["filter"]
            assert "equalsAny" == by_number["type"]
            assert "orderNumber" == by_number["field"]
            assert 0 < len(by_number["value"]) <= 500
            assert set(by_number["value"]) <= read
        assert read
        assert carried
        # All, NumberRange: one read; Only: two of 500 and 1; ChangedSince
        # a read asks each page after the last row read, one after
        # another, so no page asks for a total at all
        assert [] == counted


class _Searches(httpx.AsyncBaseTransport):
    """
    The emulator behind a transport that keeps the criteria of each
    order search.
    """

    def __init__(self, emu: ShopwareEmulator) -> None:
        self.inner = httpx.ASGITransport(app=emu.app)
        self.bodies: list[dict[str, Any]] = []

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        if request.url.path == "/api/search/order":
            self.bodies.append(json.loads(request.content))
        return await self.inner.handle_async_request(request)


class _PlacedAfterPage(httpx.AsyncBaseTransport):
    """
    The emulator behind a transport that calls *between* once, after it
    answered the first page of orders (before that page's look-up).
    """

    def __init__(self, emu: ShopwareEmulator, between: Any) -> None:
        self.inner = httpx.ASGITransport(app=emu.app)
        self.between = between

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = json.loads(request.content) if request.content else {}
        if self.between is not None and "associations" in body:
            self.between()
            self.between = None
        return response


class TestPlacedDuringTheRead:
    @pytest.mark.parametrize("filtered", [False, True])
    async def test_an_order_placed_after_its_page_is_looked_up(
        self, emu: ShopwareEmulator, filtered: bool
    ) -> None:
        """
        An order placed under a page's number after the page was read
        and before its look-up: the look-up finds both and the number
        fails (neither reaches the ERP as the other).
        """
        since = emu.now()
        _place(emu, "5010", FIRST)
        _place(emu, "5011", "c" * 32, quantity=2)
        shop = Shopware6(
            "http://shop.test",
            emu.client_id,
            SECRET,
            transport=_PlacedAfterPage(
                emu, lambda: _place(emu, "5010", LAST, quantity=3)
            ),
        )
        selection = ChangedSince(since) if filtered else All()
        read = [o for page in await _pages(shop, selection, 10) for o in page]

        assert [("5010", "number"), ("5011", None)] == [
            (o.number, o.field if isinstance(o, Refusal) else None)
            for o in read
        ]
        refusal = read[0]
        assert isinstance(refusal, Refusal)
        assert FIRST in refusal.reason
        assert LAST in refusal.reason


class _BetweenHolderPages(httpx.AsyncBaseTransport):
    """
    The emulator behind a transport that calls *between* once, after it
    answered the first look-up of who holds a page's numbers (an order
    search without the orders' lines).
    """

    def __init__(self, emu: ShopwareEmulator, between: Any) -> None:
        self.inner = httpx.ASGITransport(app=emu.app)
        self.between = between
        self.look_ups = 0

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = json.loads(request.content) if request.content else {}
        if (
            request.url.path == "/api/search/order"
            and "associations" not in body
        ):
            self.look_ups += 1
            if self.between is not None:
                self.between()
                self.between = None
        return response


class TestHoldersDeletedDuringTheLookUp:
    async def test_an_order_deleted_between_pages_hides_no_holder(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        A read of 300 orders whose numbers 300 older orders hold too (a
        number range reset), the look-up of their holders taking two
        pages and an order of its first page deleted in the shop before
        the second is read: every number still held twice fails (paged
        by number, the deletion moved an older order onto the page read
        already, and its number's new order was imported as if alone).
        The deleted order was read before it went: its number fails too.
        """
        since = emu.now()
        for n in range(300):
            emu.place_order(
                order_number=f"H-{n}",
                order_id=f"{n:032x}",
                created_at=since + timedelta(seconds=n),
            )
        old = {}
        for n in range(300):
            old[f"H-{n}"] = emu.place_order(
                order_number=f"H-{n}",
                order_id=f"f{n:031x}",
                created_at=since - timedelta(days=1, seconds=-n),
            )
        sent = _BetweenHolderPages(
            emu, lambda: emu.entities["order"].pop(old["H-0"])
        )
        shop = Shopware6(
            "http://shop.test", emu.client_id, SECRET, transport=sent
        )
        read = [
            o for p in await _pages(shop, ChangedSince(since), 500) for o in p
        ]

        assert 2 == sent.look_ups
        assert [] == [o.number for o in read if isinstance(o, Order)]
        refused = {o.number for o in read if isinstance(o, Refusal)}
        assert {f"H-{n}" for n in range(300)} == refused


async def _ledger(
    emu: ShopwareEmulator, erp: MemoryErp, tmp_path: Path
) -> list[str]:
    async with pushing(shopware6(emu, SECRET), erp, tmp_path) as sync:
        assert isinstance(sync, Synchronizer)
        failures = await sync.store.list_failures("shop", ORDERS)
    return [f.number for f in failures]


class TestStatusOfASharedNumber:
    async def test_a_full_batch_still_sees_both_orders(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        A batch of 500 statuses (a page of Shopware's at most) where one
        number is held by two orders finds both, however many rows the
        look-up gives: that status fails on ``number`` and neither order
        moves (the look-up read one page and lost the second order, and
        the first was moved as if it were the only one).
        """
        _place(emu, "S-0", FIRST)
        numbers = ["S-0"] + [f"S-{n}" for n in range(1, 500)]
        for number in numbers[1:]:
            emu.place_order(order_number=number)
        _place(emu, "S-0", LAST)
        shop = shopware6(emu, SECRET)
        try:
            outcomes = await shop.push(
                DataType.ORDER_STATUS,
                [
                    Outgoing(
                        record=OrderStatus(
                            number=n, state=OrderState.IN_PROGRESS
                        )
                    )
                    for n in numbers
                ],
            )
        finally:
            await shop.aclose()

        assert [("S-0", "number")] == [
            (o.number, o.field) for o in outcomes if not o.ok
        ]
        moved = {t.entity_id for t in emu.transitions}
        assert 499 == len(moved)
        assert {FIRST, LAST}.isdisjoint(moved)

    async def test_an_order_deleted_between_pages_hides_no_other(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        A batch of 500 statuses whose look-up takes two pages (one number
        held by two orders), an order of the first page deleted in the
        shop before the second is read: the number's second order is
        still found, that status fails on ``number`` and neither order
        moves (paged by number, the deletion moved the second order onto
        the page read already, and the first moved as if it were alone).
        """
        _place(emu, "S-0", FIRST)
        numbers = ["S-0"] + [f"S-{n}" for n in range(1, 500)]
        placed = {n: emu.place_order(order_number=n) for n in numbers[1:]}
        _place(emu, "S-0", LAST)
        shop = Shopware6(
            "http://shop.test",
            emu.client_id,
            SECRET,
            transport=_PlacedAfterPage(
                emu, lambda: emu.entities["order"].pop(placed["S-7"])
            ),
        )
        try:
            outcomes = await shop.push(
                DataType.ORDER_STATUS,
                [
                    Outgoing(
                        record=OrderStatus(
                            number=n, state=OrderState.IN_PROGRESS
                        )
                    )
                    for n in numbers
                ],
            )
        finally:
            await shop.aclose()

        failed = {o.number: o.field for o in outcomes if not o.ok}
        # S-7 was read, then deleted: its move fails as the shop says
        assert ["S-0", "S-7"] == sorted(failed)
        assert "number" == failed["S-0"]
        moved = {t.entity_id for t in emu.transitions}
        assert 498 == len(moved)
        assert {FIRST, LAST}.isdisjoint(moved)

    async def test_a_number_shopware_takes_for_another_is_read_once(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        Orders ``S-E`` and ``S-É`` placed in one millisecond, the look-up
        paged between them (utf8mb4_unicode_ci takes the numbers for
        equal, the keyset's folding does not): ``S-E`` is read once, its
        status moves it, not refused as "held by 2 orders".
        """
        start = emu.now() - timedelta(hours=1)
        numbers = [f"S-{n}" for n in range(1, 499)]
        for n, number in enumerate(numbers):
            emu.place_order(
                order_number=number, created_at=start + timedelta(seconds=n)
            )
        both = emu.now()
        # the last two rows of the first page, in id order
        emu.place_order(order_number="S-E", order_id=FIRST, created_at=both)
        emu.place_order(order_number="S-É", order_id=SECOND, created_at=both)
        emu.place_order(
            order_number="S-499", created_at=both + timedelta(seconds=1)
        )
        numbers += ["S-E", "S-499"]
        shop = shopware6(emu, SECRET)
        try:
            outcomes = await shop.push(
                DataType.ORDER_STATUS,
                [
                    Outgoing(
                        record=OrderStatus(
                            number=n, state=OrderState.IN_PROGRESS
                        )
                    )
                    for n in numbers
                ],
            )
        finally:
            await shop.aclose()

        assert [] == [(o.number, o.error) for o in outcomes if not o.ok]
        moved = {t.entity_id for t in emu.transitions}
        assert FIRST in moved
        assert SECOND not in moved
