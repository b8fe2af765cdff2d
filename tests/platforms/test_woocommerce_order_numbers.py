"""
WooCommerce orders ecomsync cannot import as they are: a number another
order holds too (a numbering plugin's reset or overlap), refused on
``number``, never imported as one; a fractional line quantity, refused
on the line, never cut to whole units.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ecomsync import (
    All,
    ChangedSince,
    DataType,
    NumberRange,
    Only,
    Order,
    OrderState,
    OrderStatus,
    Outcome,
    Outgoing,
    Refusal,
)
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing._platform_contract import make_order
from ecomsync.testing.woocommerce import WooCommerceEmulator


pytestmark = pytest.mark.anyio

KEY, SECRET = "ck_numbers", "cs_numbers"


class _Queries(httpx.AsyncBaseTransport):
    """
    The emulator, noting the query of every order list read (without
    the OAuth parameters).
    """

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.orders: list[dict[str, str]] = []

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        if request.url.path.endswith("/orders"):
            self.orders.append(
                {
                    k: v
                    for k, v in request.url.params.items()
                    if not k.startswith("oauth_")
                }
            )
        return await self.inner.handle_async_request(request)


async def _read(
    emu: WooCommerceEmulator,
    batch_size: int,
    selection: All | ChangedSince | NumberRange | Only | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[list[Order | Refusal]]:
    """Every page `fetch_orders` yields from *emu* (all orders by default)."""
    async with WooCommerce(
        "http://shop.test",
        KEY,
        SECRET,
        transport=transport or httpx.ASGITransport(app=emu.app),
    ) as woo:
        return [
            list(page)
            async for page in woo.fetch_orders(
                selection or All(), batch_size=batch_size
            )
        ]


class TestSharedOrderNumbers:
    """
    A number two shop orders hold is refused, naming both orders.
    """

    async def test_two_orders_of_one_number_in_one_page_are_refused(
        self,
    ) -> None:
        """
        Two orders numbered ``1001`` (ids apart) were both handed over
        as order 1001: the ERP took the second for the first (or an
        edit of it).  Neither is imported: one refusal on ``number``
        naming both order ids; the other orders come as ever.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        first = emu.place_order(number="1001", total="1.00")
        emu.place(make_order("2001"))
        second = emu.place_order(number="1001", total="2.00")

        (page,) = await _read(emu, batch_size=10)

        orders = [o.number for o in page if isinstance(o, Order)]
        refusals = [o for o in page if isinstance(o, Refusal)]
        assert ["2001"] == orders
        assert ["1001"] == [r.number for r in refusals]
        assert "number" == refusals[0].field
        assert f"#{first}" in refusals[0].reason
        assert f"#{second}" in refusals[0].reason

    async def test_a_later_page_twin_is_refused(self) -> None:
        """
        The second order of a number, read on a later page than the
        first, was handed over as that order again: it is refused on
        ``number``, naming the first order's id and its own.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        first = emu.place_order(number="W-1", total="1.00")
        for number in ("W-2", "W-3", "W-4"):
            emu.place(make_order(number))
        second = emu.place_order(number="W-1", total="2.00")

        pages = await _read(emu, batch_size=2)

        read = [o for page in pages for o in page]
        assert ["W-1", "W-2", "W-3", "W-4"] == [
            o.number for o in read if isinstance(o, Order)
        ]
        (refusal,) = [o for o in read if isinstance(o, Refusal)]
        assert ("W-1", "number") == (refusal.number, refusal.field)
        assert first < second
        assert f"#{first}" in refusal.reason
        assert f"#{second}" in refusal.reason

    async def test_a_plugin_number_of_an_older_orders_id_is_refused(
        self,
    ) -> None:
        """
        A numbering plugin started below the ids in use: a new order
        numbered ``100`` while order #100 (numbered by its id, as
        WooCommerce does) is not in this read (unchanged since).  It was
        handed over as order 100, which the ERP holds already; it is
        refused on ``number`` naming both.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        old = datetime(2026, 1, 5, tzinfo=UTC)
        new = datetime(2026, 6, 5, tzinfo=UTC)
        first = emu.place_order(number="100", created_at=old, modified_at=old)
        second = emu.place_order(number="100", created_at=new, modified_at=new)

        pages = await _read(
            emu, 10, ChangedSince(datetime(2026, 3, 1, tzinfo=UTC))
        )

        (refusal,) = [o for page in pages for o in page]
        assert isinstance(refusal, Refusal)
        assert ("100", "number") == (refusal.number, refusal.field)
        assert f"#{first}" in refusal.reason
        assert f"#{second}" in refusal.reason
        assert 100 == first

    async def test_a_shared_number_the_selection_left_out_is_not_refused(
        self,
    ) -> None:
        """
        Twins numbered ``W-1`` outside the selection were refused all the
        same: a read of X-1..X-9 yielded a refusal of W-1 next to order
        X-5 (a failure for an order nobody asked for).  Only the selected
        order comes.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        emu.place_order(number="W-1", total="1.00")
        emu.place(make_order("X-5"))
        emu.place_order(number="W-1", total="2.00")

        pages = await _read(emu, 10, NumberRange("X-1", "X-9"))

        assert ["X-5"] == [o.number for page in pages for o in page]

    async def test_a_retry_by_number_sees_the_plugin_numbered_twin(
        self,
    ) -> None:
        """
        The retry of a refused number (``Only(["100"])``) read order #100
        by id only, handed it over as order 100, and the ledger's failure
        cleared while the plugin-numbered twin #101 (numbered ``100``)
        was never imported nor reported.  The retry also searches the
        number: both are read, and the number is refused again.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        first = emu.place_order(number="100", total="1.00")
        second = emu.place_order(number="100", total="2.00")
        emu.place(make_order("2001"))

        pages = await _read(emu, 10, Only(["100"]))

        (refusal,) = [o for page in pages for o in page]
        assert isinstance(refusal, Refusal)
        assert ("100", "number") == (refusal.number, refusal.field)
        assert (100, True) == (first, second != first)
        assert f"#{first}" in refusal.reason
        assert f"#{second}" in refusal.reason

    async def test_only_reads_an_order_by_its_plugin_number(self) -> None:
        """
        ``Only(["W-7"])`` (a retry or a hand pick of a plugin-numbered
        order) read nothing: WooCommerce lists orders by id, and W-7 is
        no id.  The number is searched: the order comes, the one whose
        address merely contains the text does not.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        emu.place(make_order("W-1"))
        emu.place(make_order("W-7"))
        emu.place_order(
            number="W-8",
            billing={"address_1": "W-7 Tower", "last_name": "Doe"},
        )

        pages = await _read(emu, 10, Only(["W-7"]))

        assert ["W-7"] == [o.number for page in pages for o in page]

    async def test_a_retry_on_a_shop_numbering_by_id_searches_nothing(
        self,
    ) -> None:
        """
        A retry of three orders of a shop without a numbering plugin
        (each number its order's id) searched each number too: four
        requests, and a search for ``5`` lists every order with a 5 in
        its address, page after page.  The orders are read by id, and
        one look at the newest orders shows no number apart from its id:
        two requests, no search; the three orders come.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        for number in ("5", "6", "7", "8"):
            emu.place(make_order(number))
        queries = _Queries(emu.app)

        pages = await _read(emu, 10, Only(["5", "6", "7"]), queries)

        assert ["5", "6", "7"] == [o.number for page in pages for o in page]
        assert [] == [q for q in queries.orders if "search" in q]
        assert 2 == len(queries.orders)

    async def test_a_retry_of_several_plugin_numbers_refuses_each_twin(
        self,
    ) -> None:
        """
        A numbering plugin gave ``100`` and ``101`` to two orders each
        (the newer ones numbered below their ids): a retry of both reads
        every holder and refuses both numbers, naming their orders, in
        four requests (the ids' orders read by id were looked up by id
        once more).
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        first = emu.place_order(number="100", total="1.00")
        other = emu.place_order(number="101", total="1.00")
        twins = [
            emu.place_order(number=n, total="2.00") for n in ("100", "101")
        ]
        emu.place(make_order("2001"))
        queries = _Queries(emu.app)

        pages = await _read(emu, 10, Only(["100", "101"]), queries)

        refusals = [o for page in pages for o in page]
        assert all(isinstance(r, Refusal) for r in refusals)
        assert ["100", "101"] == sorted(r.number for r in refusals)
        for refusal, ids in zip(
            sorted(refusals, key=lambda r: r.number),
            ((first, twins[0]), (other, twins[1])),
            strict=True,
        ):
            assert all(f"#{i}" in refusal.reason for i in ids)
        assert ["100", "101"] == sorted(
            q["search"] for q in queries.orders if "search" in q
        )
        # include=, the look at the newest orders, the two searches
        assert 4 == len(queries.orders)


async def _status(
    emu: WooCommerceEmulator, number: str, platform_id: str | None = None
) -> Outcome:
    """Order *number* pushed as shipped to *emu*: its outcome."""
    async with WooCommerce(
        "http://shop.test",
        KEY,
        SECRET,
        transport=httpx.ASGITransport(app=emu.app),
    ) as woo:
        (outcome,) = await woo.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number=number, state=OrderState.SHIPPED
                    ),
                    platform_id=platform_id,
                )
            ],
        )
    return outcome


class TestStatusOfPluginNumbers:
    """
    A status reaches the order a numbering plugin numbered, found by its
    number; a number two orders hold is written to neither.
    """

    async def test_a_status_reaches_an_order_by_its_plugin_number(
        self,
    ) -> None:
        """
        The status of order ``W-7`` (a plugin's number, no id) failed as
        "order W-7 does not exist in WooCommerce" on every push: the
        adapter read orders by id only.  The number is searched: the
        order is completed, its outcome names its id.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        oid = emu.place_order(number="W-7", status="processing")
        emu.place_order(number="W-70", status="processing")

        outcome = await _status(emu, "W-7")

        assert (True, str(oid)) == (outcome.ok, outcome.platform_id)
        assert ["completed", "processing"] == [
            r["status"] for r in emu.shop.orders.values()
        ]

    async def test_a_plugin_number_that_is_another_orders_id(self) -> None:
        """
        A plugin numbered order #102 ``101`` while order #101 has the
        number ``W-1``: the status of ``101`` read order #101, saw
        another number and failed as "does not exist".  It reaches #102;
        #101 is left as it is.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        other = emu.place_order(number="W-1", status="processing")
        oid = emu.place_order(number=str(other), status="processing")

        outcome = await _status(emu, str(other))

        assert (True, str(oid)) == (outcome.ok, outcome.platform_id)
        assert ("processing", "completed") == (
            emu.shop.orders[other]["status"],
            emu.shop.orders[oid]["status"],
        )

    async def test_a_status_of_a_number_two_orders_hold_is_refused(
        self,
    ) -> None:
        """
        Two orders numbered ``W-8``: the status fails on ``number``
        naming both, and neither order is written (the ERP's order may
        be either).
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        ids = [
            emu.place_order(number="W-8", status="processing")
            for _ in range(2)
        ]

        outcome = await _status(emu, "W-8")

        assert (False, "number") == (outcome.ok, outcome.field)
        assert all(f"#{i}" in (outcome.error or "") for i in ids)
        assert ["processing"] * 2 == [
            r["status"] for r in emu.shop.orders.values()
        ]


class TestFractionalQuantities:
    """
    A line quantity that is not a whole number is refused, not cut.
    """

    async def test_a_fractional_quantity_is_refused_on_the_line(self) -> None:
        """
        A decimal-quantity plugin lets a customer buy 1.5 kg: WooCommerce
        answers ``"quantity": 1.5``, which was read as 1 unit at the price
        of 1.5 (the order's total still matched), so the ERP booked one
        unit.  The order is refused on ``lines.0.quantity`` naming the
        quantity; the other orders come as ever.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        oid = emu.place_order(
            number="W-1",
            lines=[{"sku": "K-1", "name": "Cheese", "price": "10.00"}],
            total="15.00",
        )
        line = emu.shop.orders[oid]["line_items"][0]
        line.update(quantity=1.5, subtotal="15.00", total="15.00")
        emu.place(make_order("W-2"))

        (page,) = await _read(emu, batch_size=10)

        refusal, order = page
        assert isinstance(refusal, Refusal)
        assert ("W-1", "lines.0.quantity") == (refusal.number, refusal.field)
        assert "1.5" in refusal.reason
        assert isinstance(order, Order)
        assert "W-2" == order.number
