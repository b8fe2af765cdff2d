"""
The pipeline: types in dependency order; orders come in (inbound).
"""

from __future__ import annotations

import attrs
import pytest

from ecomsync import (
    All,
    DataType,
    MemoryErp,
    MemoryPlatform,
    Order,
    OrderState,
    OrderStatus,
    Outcome,
    RecordFailed,
    RecordRejected,
    RunFinished,
    RunStarted,
    SqliteStore,
    Synchronizer,
    SyncSpec,
    Trigger,
    TypeStarted,
    _stock_fold,
)
from ecomsync.testing import capture_events, shipped

from .._shop_orders import orders_for
from ..conftest import T0
from ._support import spec


pytestmark = pytest.mark.anyio


class TestTypeOrder:
    async def test_dependency_order(self, sync: Synchronizer) -> None:
        """Types run categories, articles, orders, stock, status."""
        async with capture_events(
            sync, SyncSpec(types={t: All() for t in DataType})
        ) as run:
            started = [e.data_type for e in run.of(TypeStarted)]

        assert [
            DataType.CATEGORIES,
            DataType.ARTICLES,
            DataType.ADDRESSES_AND_ORDERS,
            DataType.STOCK,
            DataType.ORDER_STATUS,
        ] == started
        assert isinstance(run.events[0], RunStarted)
        assert isinstance(run.events[-1], RunFinished)


class TestInbound:
    async def test_import_and_status(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Orders come into the ERP once; their status goes back."""
        orders = list(orders_for(5, articles=6))
        for order in orders:
            platform.place_order(order, changed_at=T0)

        first = await sync.execute(spec(addresses_and_orders=All()))
        again = await sync.execute(spec(addresses_and_orders=All()))
        erp.put(shipped(orders[0], "TRACK-1"))
        status = await sync.execute(spec(order_status=All()))

        assert 5 == first.counts[DataType.ADDRESSES_AND_ORDERS].created
        assert 5 == again.counts[DataType.ADDRESSES_AND_ORDERS].unchanged
        assert {o.number for o in orders} == set(erp.orders)
        assert 5 == len(erp.customers)
        assert 1 == status.counts[DataType.ORDER_STATUS].created
        held = platform.held(DataType.ORDER_STATUS)[orders[0].number]
        assert ("TRACK-1",) == held.tracking_numbers  # type: ignore[union-attr]

    async def test_refused_order_fails_alone(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """An order the ERP refuses fails alone with the ERP's message."""
        orders = list(orders_for(3, articles=6))
        for order in orders:
            platform.place_order(order)
        erp.refuse_orders[orders[1].number] = "Kunde gesperrt"

        async with capture_events(
            sync, spec(addresses_and_orders=All())
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert (orders[1].number, "Kunde gesperrt") == (
            failed.number,
            failed.message,
        )
        assert 2 == len(erp.orders)

    async def test_order_rejected_by_a_raise_fails_alone(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: MemoryPlatform,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """An ERP that raises RecordRejected for one order of a batch fails
        that order alone, with its message and field; the others are
        imported (it failed the whole run)."""
        orders = list(orders_for(3, articles=6))
        for order in orders:
            platform.place_order(order)
        refused = orders[1].number
        real = erp._import

        def importing(order: Order) -> Outcome:
            if order.number == refused:
                raise RecordRejected(
                    "customer blocked", number=refused, field="customer"
                )
            return real(order)

        monkeypatch.setattr(erp, "_import", importing)

        async with capture_events(
            sync, spec(addresses_and_orders=All())
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert (refused, "customer", "customer blocked") == (
            failed.number,
            failed.field,
            failed.message,
        )
        assert {orders[0].number, orders[2].number} == set(erp.orders)


class TestChecksums:
    async def test_each_record_fingerprinted_once(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A rerun without changes computes each record's checksum once,
        shared by the ambiguity check and the change check, and still
        finds every record unchanged."""
        await sync.execute(spec(categories=All(), articles=All()))
        seen: list[str] = []
        real = _stock_fold.checksum

        def counting(record: object) -> str:
            seen.append(getattr(record, "number", ""))
            return real(record)  # type: ignore[arg-type]

        monkeypatch.setattr(_stock_fold, "checksum", counting)

        again = await sync.execute(spec(categories=All(), articles=All()))

        assert seen
        assert sorted(seen) == sorted(set(seen))
        assert len(seen) == sum(c.unchanged for c in again.counts.values())
        assert all(c.created + c.updated == 0 for c in again.counts.values())


class TestOrderChangedInTheShop:
    async def test_cancellation_reaches_the_erp(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """An order cancelled in the shop after its import is imported
        again (its cancellation changes its fingerprint) and cancelled in
        the ERP, which then does not ship it."""
        (order,) = orders_for(1, articles=6)
        platform.place_order(order)
        await sync.execute(spec(addresses_and_orders=All()))
        platform.place_order(attrs.evolve(order, state=OrderState.CANCELLED))

        run = await sync.execute(spec(addresses_and_orders=All()))

        assert 1 == run.counts[DataType.ADDRESSES_AND_ORDERS].updated
        assert OrderState.CANCELLED is erp.order_states[order.number]

    async def test_shipped_then_cancelled_fails_until_handled(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: MemoryPlatform,
        store: SqliteStore,
    ) -> None:
        """An order the ERP shipped and the shop then cancelled fails on
        its state, by name, into the failure ledger: retried by each
        scheduled run, never counted as unchanged, until the merchant
        handled it in the ERP."""
        (order,) = orders_for(1, articles=6)
        platform.place_order(order)
        await sync.execute(
            spec(addresses_and_orders=All()), trigger=Trigger.SCHEDULED
        )
        erp.order_states[order.number] = OrderState.SHIPPED
        platform.place_order(attrs.evolve(order, state=OrderState.CANCELLED))

        async with capture_events(
            sync,
            spec(addresses_and_orders=All()),
            trigger=Trigger.SCHEDULED,
        ) as run:
            (failed,) = run.of(RecordFailed)
        again = await sync.execute(
            spec(addresses_and_orders=All()), trigger=Trigger.SCHEDULED
        )
        (ledger,) = await store.list_failures(
            "shop", DataType.ADDRESSES_AND_ORDERS
        )
        erp.order_states[order.number] = OrderState.CANCELLED  # by hand
        healed = await sync.execute(
            spec(addresses_and_orders=All()), trigger=Trigger.SCHEDULED
        )

        assert (order.number, "state") == (failed.number, failed.field)
        assert f"SO-{order.number}" in failed.message
        counts = again.counts[DataType.ADDRESSES_AND_ORDERS]
        assert 1 == counts.failed
        assert 0 == counts.unchanged + counts.created + counts.updated
        assert order.number == ledger.number
        assert 1 == healed.counts[DataType.ADDRESSES_AND_ORDERS].updated
        assert [] == await store.list_failures(
            "shop", DataType.ADDRESSES_AND_ORDERS
        )

    async def test_status_does_not_reopen_what_the_shop_cancelled(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """The race the other way: the ERP shipped an order the shop then
        cancelled. The import fails on state, and pushing "shipped" for
        it fails on state too instead of reopening it in the shop."""
        (order,) = orders_for(1, articles=6)
        platform.place_order(order)
        await sync.execute(spec(addresses_and_orders=All()))
        erp.order_states[order.number] = OrderState.SHIPPED
        erp.put(OrderStatus(number=order.number, state=OrderState.SHIPPED))
        platform.place_order(attrs.evolve(order, state=OrderState.CANCELLED))

        async with capture_events(
            sync, spec(addresses_and_orders=All(), order_status=All())
        ) as run:
            failed = run.of(RecordFailed)

        assert [
            (DataType.ADDRESSES_AND_ORDERS, "state"),
            (DataType.ORDER_STATUS, "state"),
        ] == [(f.data_type, f.field) for f in failed]
        assert all(f.number == order.number for f in failed)
        assert order.number not in platform.held(DataType.ORDER_STATUS)


class TestTwoPlatforms:
    @pytest.fixture(name="shops")
    def _shops(self) -> dict[str, MemoryPlatform]:
        return {"woo": MemoryPlatform(), "shop": MemoryPlatform()}

    @pytest.fixture(name="two")
    def _two(
        self,
        erp: MemoryErp,
        shops: dict[str, MemoryPlatform],
        store: SqliteStore,
    ) -> Synchronizer:
        return Synchronizer(erp=erp, platforms=shops, store=store)

    async def test_same_numbers_are_two_orders(
        self,
        two: Synchronizer,
        erp: MemoryErp,
        shops: dict[str, MemoryPlatform],
    ) -> None:
        """Order "1001" of customer "1" on two platforms: the ERP learns
        each order's platform, so both land as two orders of two
        customers (the second failed as "changed in the shop", or merged
        into the first); run again, both are unchanged."""
        (woo_order,) = orders_for(1, articles=6)
        shop_order = attrs.evolve(
            woo_order,
            lines=woo_order.lines[:1],
            total=woo_order.lines[0].unit_price * woo_order.lines[0].quantity,
            customer=attrs.evolve(woo_order.customer, first_name="Hans"),
        )
        shops["woo"].place_order(woo_order)
        shops["shop"].place_order(shop_order)
        number = woo_order.number
        customer = woo_order.customer.number

        runs = []
        for name in ("woo", "shop", "woo", "shop"):
            spec_ = SyncSpec(
                types={DataType.ADDRESSES_AND_ORDERS: All()},
                platform=name,
                force=True,
            )
            async with capture_events(two, spec_) as run:
                runs.append(run)

        assert [] == [e for r in runs for e in r.of(RecordFailed)]
        assert "woo" == erp.orders[number].platform
        assert erp.orders[("shop", number)].lines == shop_order.lines
        assert "Hans" == erp.customers[("shop", customer)].first_name
        assert "Hans" != erp.customers[customer].first_name

    async def test_status_goes_to_its_own_platform(
        self, store: SqliteStore, shops: dict[str, MemoryPlatform]
    ) -> None:
        """Statuses the ERP names a platform for go to that platform
        only; of a number's statuses the platform's own wins over one
        that names none, which goes where nothing else does."""
        numbers = ("1001", "1002", "1003")
        for shop in shops.values():
            for number in numbers:
                shop.place_order(attrs.evolve(_ORDER, number=number))
        erp = MemoryErp(
            [
                OrderStatus(
                    number="1001", state=OrderState.SHIPPED, platform="woo"
                ),
                OrderStatus(
                    number="1001",
                    state=OrderState.CANCELLED,
                    platform="shop",
                ),
                OrderStatus(number="1002", state=OrderState.IN_PROGRESS),
                OrderStatus(
                    number="1002", state=OrderState.SHIPPED, platform="woo"
                ),
                OrderStatus(
                    number="1003", state=OrderState.SHIPPED, platform="shop"
                ),
            ]
        )
        two = Synchronizer(erp=erp, platforms=shops, store=store)

        runs = []
        for name in shops:
            spec_ = SyncSpec(
                types={DataType.ORDER_STATUS: All()}, platform=name
            )
            async with capture_events(two, spec_) as run:
                runs.append(run)

        def states(name: str) -> dict[str, OrderState]:
            held = shops[name].held(DataType.ORDER_STATUS)
            return {n: s.state for n, s in held.items()}  # type: ignore[union-attr]

        assert [] == [e for r in runs for e in r.of(RecordFailed)]
        assert {
            "1001": OrderState.SHIPPED,
            "1002": OrderState.SHIPPED,
        } == states("woo")
        assert {
            "1001": OrderState.CANCELLED,
            "1002": OrderState.IN_PROGRESS,
            "1003": OrderState.SHIPPED,
        } == states("shop")


(_ORDER,) = orders_for(1, articles=6)
