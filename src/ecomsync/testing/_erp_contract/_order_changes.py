"""
The contract of orders that change in the shop after their import.
"""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from ..._model import OrderState
from ...typing import ErpSource
from ._base import SourceHooks
from ._seed import make_order


class OrderChangeContract(SourceHooks):
    """
    Orders cancelled, reopened or edited in the shop after their import;
    part of `ErpSourceContract`.
    """

    # -- orders that change in the shop after their import ------------------

    @pytest.mark.anyio
    async def test_order_cancelled_in_the_shop_before_it_shipped(
        self, source: ErpSource
    ) -> None:
        """An imported order cancelled in the shop before it shipped is
        cancelled in the ERP, or (where the ERP cannot cancel it) fails on
        ``state`` naming the order; never ok while the ERP order stands.
        Importing it again changes nothing."""
        order = make_order()
        cancelled = attrs.evolve(order, state=OrderState.CANCELLED)
        async with source.session() as session:
            (first,) = await session.import_orders([order])
            (outcome,) = await session.import_orders([cancelled])
            (again,) = await session.import_orders([cancelled])

        state = await self.imported_state(source, order.number)
        assert first.ok, first
        for answer in (outcome, again):
            assert answer.ok == (state is OrderState.CANCELLED), answer
            if answer.ok:
                assert first.platform_id == answer.platform_id
            else:
                assert "state" == answer.field
                assert order.number in str(answer.error)
        assert await self.imported_count(source, order.number) == 1

    @pytest.mark.anyio
    async def test_order_cancelled_in_the_shop_after_it_shipped(
        self, source: ErpSource
    ) -> None:
        """An order the ERP shipped and the shop then cancelled fails on
        ``state``, naming the order and the ERP order (the merchant must
        take the goods back by hand), every time it is imported again;
        the ERP order stays as it was."""
        order = make_order()
        cancelled = attrs.evolve(order, state=OrderState.CANCELLED)
        async with source.session() as session:
            (first,) = await session.import_orders([order])
        await self.ship(source, order.number)
        before = await self.imported_state(source, order.number)
        async with source.session() as session:
            outcomes = await session.import_orders([cancelled, cancelled])

        assert first.ok, first
        assert before in (OrderState.SHIPPED, OrderState.COMPLETED)
        for outcome in outcomes:
            assert not outcome.ok, outcome
            assert "state" == outcome.field
            assert order.number in str(outcome.error)
            assert str(first.platform_id) in str(outcome.error)
        assert before == await self.imported_state(source, order.number)

    @pytest.mark.anyio
    async def test_order_cancelled_before_its_import(
        self, source: ErpSource
    ) -> None:
        """An order first seen cancelled is imported cancelled: it counts,
        the ERP does not ship it."""
        order = make_order(state=OrderState.CANCELLED)
        async with source.session() as session:
            (outcome,) = await session.import_orders([order])

        assert outcome.ok, outcome
        assert await self.imported_count(source, order.number) == 1
        state = await self.imported_state(source, order.number)
        assert state is OrderState.CANCELLED

    @pytest.mark.anyio
    async def test_order_reopened_in_the_shop_after_its_cancellation(
        self, source: ErpSource
    ) -> None:
        """An order open in the shop again after its ERP order was
        cancelled fails on ``state`` naming the order, every time it is
        imported; the ERP order stays cancelled (never a silent ok while
        the ERP holds it cancelled)."""
        cancelled = make_order(state=OrderState.CANCELLED)
        reopened = attrs.evolve(cancelled, state=OrderState.OPEN)
        async with source.session() as session:
            (first,) = await session.import_orders([cancelled])
            outcomes = await session.import_orders([reopened])
            outcomes += await session.import_orders([reopened])

        assert first.ok, first
        for outcome in outcomes:
            assert ("state", False) == (outcome.field, outcome.ok), outcome
            assert cancelled.number in str(outcome.error)
        assert await self.imported_count(source, cancelled.number) == 1
        state = await self.imported_state(source, cancelled.number)
        assert state is OrderState.CANCELLED

    @pytest.mark.anyio
    async def test_state_the_erp_pushed_back_changes_nothing(
        self, source: ErpSource
    ) -> None:
        """An order read again with the state the ERP pushed to the shop
        (in progress, shipped, completed) imports as before."""
        order = make_order()
        async with source.session() as session:
            outcomes = await session.import_orders(
                [
                    order,
                    *(
                        attrs.evolve(order, state=state)
                        for state in (
                            OrderState.IN_PROGRESS,
                            OrderState.SHIPPED,
                            OrderState.COMPLETED,
                        )
                    ),
                ]
            )

        assert all(o.ok for o in outcomes), outcomes
        assert len({o.platform_id for o in outcomes}) == 1

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        ("edit", "field"),
        [
            ("quantity", "lines"),
            ("line", "lines"),
            ("street", "shipping"),
            ("billing", "billing"),
            ("charge", "shipping_total total"),
            ("voucher", "shipping_total discount_total"),
            ("currency", "currency"),
            ("prices", "lines"),
        ],
    )
    async def test_order_edited_in_the_shop_after_its_import(
        self, source: ErpSource, edit: str, field: str
    ) -> None:
        """An order whose lines, addresses, currency or charges changed in
        the shop after its import (also with its total as it was: shipping
        and a voucher both dropped, another currency, prices moved between
        lines) fails on that field, naming the order; the ERP
        keeps its one order (no silent success while the ERP holds
        something else)."""
        order = make_order()
        one, two = order.lines
        assert two.quantity == 2
        cent = Decimal("0.01")
        changed = {
            "quantity": attrs.evolve(
                order,
                lines=(one, attrs.evolve(two, quantity=3)),
                total=order.total + two.unit_price,
            ),
            "line": attrs.evolve(
                order, lines=(two,), total=order.total - one.unit_price
            ),
            "street": attrs.evolve(
                order,
                shipping=attrs.evolve(order.shipping, street="Neuer Weg 9"),
            ),
            "billing": attrs.evolve(
                order, billing=attrs.evolve(order.billing, city="Bonn")
            ),
            "voucher": order,
            "currency": attrs.evolve(order, currency="USD"),
            # 2 cents off one line, 1 cent more on each of the other's 2
            "prices": attrs.evolve(
                order,
                lines=(
                    attrs.evolve(one, unit_price=one.unit_price - 2 * cent),
                    attrs.evolve(two, unit_price=two.unit_price + cent),
                ),
            ),
            "charge": attrs.evolve(
                order,
                shipping_total=Decimal("4.90"),
                total=order.total + Decimal("4.90"),
            ),
        }[edit]
        if edit == "voucher":  # free shipping by a voucher, then neither
            order = attrs.evolve(
                order,
                shipping_total="4.90",
                discount_total="4.90",
            )
        async with source.session() as session:
            (first,) = await session.import_orders([order])
            (outcome,) = await session.import_orders([changed])

        assert first.ok, first
        assert not outcome.ok, outcome
        assert str(outcome.field).split(".")[0] in field.split(), outcome
        assert order.number in str(outcome.error)
        assert await self.imported_count(source, order.number) == 1
