"""
Order states through the WooCommerce adapter: read from the shop, written
to it without moving a paid, completed or cancelled order where it must not
go, tracking notes posted once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ecomsync import (
    All,
    ChangedSince,
    DataType,
    Only,
    Order,
    OrderState,
    OrderStatus,
    Outgoing,
    Refusal,
)
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing._platform_contract import (
    make_order,
)
from ecomsync.testing.woocommerce import Faults, WooCommerceEmulator

from .._retries import fast_retries
from ._woocommerce import KEY, SECRET, WooFixtures


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)


class TestOrderStates(WooFixtures):
    """
    Order states read from the shop and written to it, and tracking notes
    posted once.
    """

    async def test_order_states_read(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        A cancelled or refunded order reads cancelled (its cancellation
        reaches the ERP); a failed one (payment declined) is not read: it
        is not cancelled (WooCommerce lets the customer pay it again),
        and WooCommerce took no stock for it.
        """
        statuses = {
            "2201": "cancelled",
            "2202": "refunded",
            "2203": "failed",
            "2204": "on-hold",
            "2205": "completed",
        }
        for number, status in statuses.items():
            oid = emu.place(make_order(number))
            emu.shop.orders[oid]["status"] = status

        read = [
            o
            async for batch in woo.fetch_orders(All(), batch_size=10)
            for o in batch
        ]
        got = {o.number: o.state for o in read if isinstance(o, Order)}

        # refused only where the ERP imported it (on hold, then set back)
        assert [("2203", True)] == [
            (o.number, o.if_imported) for o in read if isinstance(o, Refusal)
        ]
        assert {
            "2201": OrderState.CANCELLED,
            "2202": OrderState.CANCELLED,
            "2204": OrderState.OPEN,
            "2205": OrderState.COMPLETED,
        } == got

    async def test_checkout_drafts_are_no_orders(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        A block checkout's draft (``checkout-draft``: the customer opened
        the checkout, placed nothing) and an ``auto-draft`` are not read
        as orders: ``status=any`` lists them (woocommerce#63743,
        woocommerce#62106), and imported they would be ERP orders nobody
        placed.  Once placed, the order is read.
        """
        numbers = {"2301": "processing", "2302": "checkout-draft"}
        numbers |= {"2303": "auto-draft"}
        ids = {}
        for number, status in numbers.items():
            ids[number] = oid = emu.place(make_order(number))
            emu.shop.orders[oid]["status"] = status

        async def read(selection: Any) -> list[str]:
            return [
                o.number
                async for batch in woo.fetch_orders(selection, batch_size=10)
                for o in batch
            ]

        every = await read(All())
        only = await read(Only(set(numbers)))
        emu.shop.orders[ids["2302"]]["status"] = "processing"  # placed
        placed = await read(All())

        assert ["2301"] == every
        assert ["2301"] == only
        assert ["2301", "2302"] == placed

    @pytest.mark.parametrize("unpaid", ["pending", "failed"])
    async def test_pending_order_waits_for_payment(
        self, woo: WooCommerce, emu: WooCommerceEmulator, unpaid: str
    ) -> None:
        """
        A ``pending`` or ``failed`` order (unpaid; WooCommerce has not
        taken its stock) is not imported: a changes read refuses it only
        for the engine to record where the ERP imported it (an on-hold
        order set back), an ``Only`` of its number refuses it on
        ``status`` naming the number and the status where the ERP did
        not; once paid (``processing``) the next changes read imports it.
        """
        since = datetime.now(UTC) - timedelta(minutes=1)
        oid = emu.place(make_order("2401"))
        # placed unpaid: never paid, so no date_paid
        emu.shop.orders[oid].update(
            status=unpaid, date_paid=None, date_paid_gmt=None
        )
        emu.shop.stamp(emu.shop.orders[oid], created=False)  # modified now

        async def read(selection: Any) -> list[Order | Refusal]:
            return [
                o
                async for batch in woo.fetch_orders(selection, batch_size=10)
                for o in batch
            ]

        changed = await read(ChangedSince(since))
        every = await read(All())
        asked = await read(Only({"2401"}))
        emu.shop.update_order(oid, {"status": "processing"})
        paid = await read(ChangedSince(since))

        for left in (changed, every):
            assert [("2401", True)] == [
                (r.number, r.if_imported)
                for r in left
                if isinstance(r, Refusal)
            ]
            assert len(left) == 1
        assert [True, False] == [
            r.if_imported for r in asked if isinstance(r, Refusal)
        ]
        refused = asked[1]
        assert isinstance(refused, Refusal)
        assert ("2401", "status") == (refused.number, refused.field)
        assert f"order 2401 is {unpaid} in WooCommerce" in refused.reason
        assert [("2401", OrderState.IN_PROGRESS)] == [
            (o.number, o.state) for o in paid if isinstance(o, Order)
        ]

    async def test_failed_order_whose_stock_was_taken_is_imported(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        An ``on-hold`` order turned ``failed`` before a read keeps its
        units off stock in WooCommerce (no hook moves stock on
        ``failed``; its lines show ``_reduced_stock``): it is imported,
        open, as it would have been a moment earlier, so the ERP holds
        its units as the shop does.
        """
        since = datetime.now(UTC) - timedelta(minutes=1)
        emu.shop.create_product(
            {"name": "Hat", "sku": "H-1", "manage_stock": True}
        )
        oid = emu.place_order(
            status="on-hold",
            billing={"country": "DE", "last_name": "Muster"},
            lines=[{"sku": "H-1", "quantity": 3, "price": "10.00"}],
            total="30.00",
        )
        emu.shop.update_order(oid, {"status": "failed"})

        got = [
            (o.number, o.state)
            async for batch in woo.fetch_orders(
                ChangedSince(since), batch_size=10
            )
            for o in batch
            if isinstance(o, Order)
        ]

        assert [(str(oid), OrderState.OPEN)] == got

    @pytest.mark.parametrize("pushed", [False, True])
    async def test_paid_order_set_back_to_pending_is_refused(
        self, woo: WooCommerce, emu: WooCommerceEmulator, pushed: bool
    ) -> None:
        """
        A paid order (or one whose status the ERP pushed: imported) the
        merchant set back to ``pending``, which gave its units back to
        stock in WooCommerce, is refused on ``status`` by a changes read
        instead of left out in silence: the ERP may hold those units
        while the shop sells them again; the reason says what to do.
        """
        since = datetime.now(UTC) - timedelta(minutes=1)
        emu.shop.create_product(
            {"name": "Hat", "sku": "H-1", "manage_stock": True}
        )
        oid = emu.place_order(
            status="on-hold" if pushed else "processing",
            billing={"country": "DE", "last_name": "Muster"},
            lines=[{"sku": "H-1", "quantity": 3, "price": "10.00"}],
            total="30.00",
        )
        if pushed:
            (sent,) = await woo.push(
                DataType.ORDER_STATUS,
                [
                    Outgoing(
                        record=OrderStatus(
                            number=str(oid), state=OrderState.OPEN
                        )
                    )
                ],
            )
            assert sent.ok, sent.error
        emu.shop.update_order(oid, {"status": "pending"})

        (refused,) = [
            o
            async for batch in woo.fetch_orders(
                ChangedSince(since), batch_size=10
            )
            for o in batch
        ]

        assert isinstance(refused, Refusal)
        assert (str(oid), "status") == (refused.number, refused.field)
        assert "gave its units back to stock" in refused.reason
        assert ("the ERP still holds them" in refused.reason) is pushed
        assert "cancel the order in the ERP" in refused.reason

    @pytest.mark.parametrize(
        "current", ["pending", "on-hold", "failed", "processing"]
    )
    @pytest.mark.parametrize(
        "state", [OrderState.OPEN, OrderState.IN_PROGRESS]
    )
    async def test_open_or_in_progress_keeps_where_the_payment_is(
        self,
        woo: WooCommerce,
        emu: WooCommerceEmulator,
        current: str,
        state: OrderState,
    ) -> None:
        """
        Open or in progress in the ERP (which knows nothing of payments)
        leaves a WooCommerce status that says where the order's payment
        is as it is: ``processing`` means paid (WooCommerce sets its
        ``date_paid``), ``pending`` unpaid (WooCommerce cancels an unpaid
        checkout order after its hold-stock time).  The ERP's state goes
        to the order's meta.
        """
        oid = emu.place(make_order("2401"))
        emu.shop.orders[oid]["status"] = current

        (outcome,) = await woo.push(
            DataType.ORDER_STATUS,
            [Outgoing(record=OrderStatus(number="2401", state=state))],
        )

        order = emu.shop.orders[oid]
        meta = {m["key"]: m["value"] for m in order["meta_data"]}
        assert outcome.ok, outcome
        assert current == order["status"]
        assert state.value == meta["_ecomsync_state"]

    @pytest.mark.parametrize(
        "state", [OrderState.OPEN, OrderState.IN_PROGRESS]
    )
    async def test_open_after_completed_is_processing(
        self, woo: WooCommerce, emu: WooCommerceEmulator, state: OrderState
    ) -> None:
        """
        Open or in progress for an order the shop has completed takes it
        back to ``processing`` (paid, not shipped yet), never to
        ``pending``.
        """
        oid = emu.place(make_order("2402"))
        emu.shop.orders[oid]["status"] = "completed"

        outcomes = await woo.push(
            DataType.ORDER_STATUS,
            [Outgoing(record=OrderStatus(number="2402", state=state))],
        )

        assert all(o.ok for o in outcomes), outcomes
        assert "processing" == emu.shop.orders[oid]["status"]

    @pytest.mark.parametrize("closed", ["cancelled", "refunded"])
    async def test_shipped_for_an_order_the_shop_cancelled(
        self, woo: WooCommerce, emu: WooCommerceEmulator, closed: str
    ) -> None:
        """
        "Shipped" (or any state but cancelled) for an order the shop has
        cancelled or refunded since fails on ``state`` by name and leaves
        the order as it is, instead of reopening it as completed;
        "cancelled" goes through without turning a refunded order into a
        cancelled one.
        """
        oid = emu.place(make_order("2101"))
        emu.shop.orders[oid]["status"] = closed

        def push(state: OrderState) -> Any:
            return woo.push(
                DataType.ORDER_STATUS,
                [
                    Outgoing(
                        record=OrderStatus(
                            number="2101",
                            state=state,
                            tracking_numbers=("T-1",),
                        )
                    )
                ],
            )

        (ship,) = await push(OrderState.SHIPPED)
        kept = emu.shop.orders[oid]["status"]
        (cancel,) = await push(OrderState.CANCELLED)

        assert ("2101", "state") == (ship.number, ship.field)
        assert f"2101 is {closed} in WooCommerce" in str(ship.error)
        assert closed == kept
        assert cancel.ok, cancel
        assert closed == emu.shop.orders[oid]["status"]

    async def test_tracking_note_whose_answer_was_lost_is_not_posted_again(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        A tracking note that landed but whose answer was lost is found
        on the order before it is sent again, not posted a second time:
        the customer is told each tracking number once.
        """
        oid = emu.place(make_order("2102"))
        woo = WooCommerce(
            "https://shop.test",
            KEY,
            SECRET,
            request_deadline=0.3,
            transport=httpx.ASGITransport(app=emu.app),
        )
        shipped = Outgoing(
            record=OrderStatus(
                number="2102",
                state=OrderState.SHIPPED,
                tracking_numbers=("T-1", "T-2"),
            )
        )
        emu.faults = Faults(commit_then_timeout=1, hang_s=1)
        (first,) = await woo.push(DataType.ORDER_STATUS, [shipped])
        emu.faults = Faults()
        (again,) = await woo.push(DataType.ORDER_STATUS, [shipped])
        (third,) = await woo.push(DataType.ORDER_STATUS, [shipped])
        await woo.aclose()

        assert first.ok, first
        assert again.ok, again
        assert third.ok, third
        assert ["Tracking number: T-1", "Tracking number: T-2"] == sorted(
            n["note"] for n in emu.shop.notes[oid] if n["customer_note"]
        )
        assert "completed" == emu.shop.orders[oid]["status"]

    async def test_tracking_note_of_a_dead_push_is_not_posted_again(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        A tracking note posted by a push that died before it recorded
        the tracking on the order is not posted again by the next push.
        """
        oid = emu.place(make_order("2103"))
        emu.shop.add_note(oid, "Tracking number: T-1", customer_note=True)

        (outcome,) = await woo.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="2103",
                        state=OrderState.SHIPPED,
                        tracking_numbers=("T-1", "T-2"),
                    )
                )
            ],
        )

        assert outcome.ok, outcome
        assert ["Tracking number: T-1", "Tracking number: T-2"] == sorted(
            n["note"] for n in emu.shop.notes[oid] if n["customer_note"]
        )
