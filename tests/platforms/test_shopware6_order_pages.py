"""
Reading orders from a Shopware 6 shop page by page: each order read once
and none skipped while orders are placed, changed or deleted during the
read, or share a millisecond or a number; a failed page fails as itself.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest

from ecomsync import (
    All,
    ChangedSince,
)
from ecomsync.exceptions import SyncError
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._mapping import sw_id
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._retries import fast_retries
from ._shopware6 import SECRET
from ._shopware6_adapter import (
    adapter_emu,
)


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)

_emu = adapter_emu


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
        #: Every order search sent (pages and look-ups).
        self.searches = 0

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        page = 0
        if request.url.path == "/api/search/order":
            self.searches += 1
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
        """A page that fails raises its own error (not a group) at once:
        no request after it (the page before waits for its look-up and
        is not handed on), and no later page is yielded."""
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

        assert [str(70000 + n) for n in range(3)] == seen
        assert 3 == transport.searches  # the pages; page 3 failed
