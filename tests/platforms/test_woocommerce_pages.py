"""
WooCommerce reads whose list changes between the pages of one read:
orders deleted, or modified into the selection, behind the page being
read; categories deleted behind the term listing; orders deleted behind
an ``Only`` read by id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ecomsync import (
    All,
    Category,
    ChangedSince,
    DataType,
    Only,
    Outgoing,
    Refusal,
)
from ecomsync.exceptions import SyncError
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing._platform_contract import make_order
from ecomsync.testing.woocommerce import WooCommerceEmulator

from ._adapters import woocommerce_on


pytestmark = pytest.mark.anyio

KEY, SECRET = "ck_pages", "cs_pages"


class _AfterFirstPage(httpx.AsyncBaseTransport):
    """
    The emulator, which runs *change* once, right after it answered the
    first page of a ``GET`` of *path* (the merchant at work between two
    pages of one read).
    """

    def __init__(
        self, emu: WooCommerceEmulator, path: str, change: Callable[[], None]
    ) -> None:
        self._inner = httpx.ASGITransport(app=emu.app)
        self._path = path
        self._change: Callable[[], None] | None = None
        self.armed = change

    def arm(self) -> None:
        self._change = self.armed

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if (
            self._change is not None
            and request.method == "GET"
            and request.url.path == f"/wp-json/wc/v3/{self._path}"
        ):
            change, self._change = self._change, None
            change()
        return response


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


class TestCatalogueAndSelectionDrift:
    """
    Lists other than the changes read of orders (the category terms, an
    ``Only`` read by id) are read whole, however they move between pages.
    """

    async def test_category_deleted_behind_the_term_listing(self) -> None:
        """
        A category deleted by the merchant while the adapter lists the
        shop's terms (more than one page of them) hides no other term: a
        renamed category is updated in place, not made a second time
        under a ``-2`` slug.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        tree = [
            Category(number=f"C-{n:03}", name=f"Cat {n:03}")
            for n in range(150)
        ]
        seed = woocommerce_on(emu, SECRET, key=KEY)
        async with seed:
            await seed.push(
                DataType.CATEGORIES, [Outgoing(record=c) for c in tree]
            )
        by_name = sorted(
            emu.shop.categories.values(),
            key=lambda r: (str(r["name"]).lower(), r["id"]),
        )
        # the last term of the first page and the first of the second
        # (WooCommerce lists terms by name unless told otherwise; by id
        # they are one place earlier), and one of the first page
        targets, gone = by_name[99:101], by_name[1]
        numbers = [
            next(c.number for c in tree if c.name == t["name"])
            for t in targets
        ]
        transport = _AfterFirstPage(
            emu,
            "products/categories",
            lambda: emu.shop.categories.pop(gone["id"]),
        )
        woo = WooCommerce(
            "https://shop.test", KEY, SECRET, transport=transport
        )
        transport.arm()
        async with woo:
            outcomes = await woo.push(
                DataType.CATEGORIES,
                [
                    Outgoing(record=Category(number=n, name=f"Renamed {n}"))
                    for n in numbers
                ],
            )

        assert [None, None] == [o.error for o in outcomes]
        assert [str(t["id"]) for t in targets] == [
            o.platform_id for o in outcomes
        ]
        for n, t in zip(numbers, targets, strict=True):
            assert [f"Renamed {n}"] == [
                r["name"]
                for r in emu.shop.categories.values()
                if r["slug"].startswith(t["slug"])
            ]
        assert len(by_name) - 1 == len(emu.shop.categories)

    async def test_order_deleted_behind_an_only_read(self) -> None:
        """
        An ``Only`` read of more orders than a page holds (``include``)
        reads every selected order the shop still holds, though the
        merchant deletes one of the first page before the second is read.
        """
        numbers = [str(n) for n in range(4001, 4151)]
        emu, _ = _setup(numbers)
        transport = _AfterFirstPage(
            # on the first page whichever way the list is sorted
            emu,
            "orders",
            lambda: emu.shop.orders.pop(4100, None),
        )
        woo = WooCommerce(
            "https://shop.test", KEY, SECRET, transport=transport
        )
        transport.arm()
        got: list[str] = []
        async with woo:
            async for batch in woo.fetch_orders(Only(numbers), batch_size=100):
                got += [o.number for o in batch if not isinstance(o, Refusal)]

        assert set(numbers) - {"4100"} <= set(got)
        assert len(got) == len(set(got))


class _IgnoresOrderby(httpx.AsyncBaseTransport):
    """
    The emulator behind a term-order plugin ("Category Order and Taxonomy
    Terms Order" with autosort forces ``ORDER BY t.term_order`` on every
    ``get_terms`` outside wp-admin, REST included): ``orderby`` and
    ``order`` of *path* are dropped, the terms come by name.
    """

    def __init__(self, emu: WooCommerceEmulator, path: str) -> None:
        self._inner = httpx.ASGITransport(app=emu.app)
        self._path = f"/wp-json/wc/v3/{path}"
        self.requests = 0

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        if request.method == "GET" and request.url.path == self._path:
            self.requests += 1
            params = request.url.params.remove("orderby").remove("order")
            request = httpx.Request(
                "GET",
                request.url.copy_with(params=params),
                headers=request.headers,
            )
        return await self._inner.handle_async_request(request)


class TestShopIgnoringOrderby:
    """
    A shop that lists a list in its own order whatever ``orderby`` says
    still has every row read, each once.
    """

    async def test_term_listing_sorted_by_the_shop_reads_every_term(
        self,
    ) -> None:
        """
        More than 100 categories listed by a term-order plugin (not by
        id): a second push of the unlinked tree, renamed, renames every
        category in place; none is made a second time under a ``-2``
        slug.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        # names whose order is not the ids' order
        tree = [
            Category(number=f"C-{n:03}", name=f"Cat {(n * 37) % 150:03}")
            for n in range(150)
        ]
        seed = woocommerce_on(emu, SECRET, key=KEY)
        async with seed:
            await seed.push(
                DataType.CATEGORIES, [Outgoing(record=c) for c in tree]
            )
        ids = {r["name"]: r["id"] for r in emu.shop.categories.values()}
        transport = _IgnoresOrderby(emu, "products/categories")
        woo = WooCommerce(
            "https://shop.test", KEY, SECRET, transport=transport
        )
        async with woo:
            outcomes = await woo.push(
                DataType.CATEGORIES,
                [
                    Outgoing(
                        record=Category(number=c.number, name=f"New {c.name}")
                    )
                    for c in tree
                ],
            )

        assert [None] * 150 == [o.error for o in outcomes]
        assert [str(ids[c.name]) for c in tree] == [
            o.platform_id for o in outcomes
        ]
        assert len(ids) == len(emu.shop.categories)
        assert [f"New {c.name}" for c in tree] == [
            emu.shop.categories[ids[c.name]]["name"] for c in tree
        ]
