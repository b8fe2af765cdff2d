"""
Shop orders imported into a live Tryton as sales: totals, rounding,
addresses, customers, drafts left by a dead import, cancellations from the
shop, prices.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anyio
import attrs
import pytest

from ecomsync import (
    Address,
    ChangedSince,
    DataType,
    Only,
    Order,
    OrderState,
    OrderStatus,
)
from ecomsync.erp import _tryton_orders
from ecomsync.erp._tryton_orders import OrderImporter
from ecomsync.erp._tryton_rpc import Rpc
from ecomsync.erp._tryton_sales import (
    MARK_FIELDS,
    SaleRejected,
)
from ecomsync.erp.tryton import TrytonErp
from ecomsync.testing._erp_contract import make_order

from . import test_tryton
from ._tryton import (
    _marks,
    _read,
    ship_sale,
)
from .conftest import (
    make_erp,
    twin_sale,
)


pytestmark = pytest.mark.tryton


class TestMapping:
    """
    What Tryton's records become.
    """

    @pytest.mark.anyio
    async def test_imported_order_in_tryton(self, tryton: TrytonErp) -> None:
        """An imported order is a confirmed sale with the platform number,
        its customer a party found again by customer number."""
        first = make_order()
        second = attrs.evolve(make_order(), customer=first.customer)

        async with tryton.session() as session:
            outcomes = await session.import_orders([first, second])
            sales = await session.rpc.read(
                "sale.sale",
                [int(o.platform_id or 0) for o in outcomes],
                ["reference", "state", "party", "lines"],
            )
            (status,) = [
                s
                async for batch in session.read(
                    DataType.ORDER_STATUS, Only([first.number]), batch_size=5
                )
                for s in batch
            ]

        assert [first.number, second.number] == [s["reference"] for s in sales]
        assert {"processing"} == {s["state"] for s in sales}
        assert sales[0]["party"] == sales[1]["party"]
        assert len(sales[0]["lines"]) == 2
        assert isinstance(status, OrderStatus)
        assert status.state.value == "in_progress"

    @pytest.mark.anyio
    async def test_shipping_and_discount_make_the_sale_total(
        self, tryton: TrytonErp
    ) -> None:
        """Shipping and the order-level discount become sale lines without
        a product, so the confirmed sale comes to the order's total."""
        order = make_order(
            shipping_total="4.90", discount_total="10.00", total="164.78"
        )

        async with tryton.session() as session:
            (outcome,) = await session.import_orders([order])
            (sale,) = await session.rpc.read(
                "sale.sale",
                [int(outcome.platform_id or 0)],
                ["state", "total_amount", "lines"],
            )
            lines = await session.rpc.read(
                "sale.line",
                sale["lines"],
                ["product", "description", "amount"],
            )

        assert outcome.ok, outcome
        assert "processing" == sale["state"]
        assert Decimal("164.78") == Decimal(str(sale["total_amount"]))
        assert [
            ("Shipping", Decimal("4.90")),
            ("Discount", Decimal("-10.00")),
        ] == [
            (line["description"], Decimal(str(line["amount"])))
            for line in lines
            if not line["product"]
        ]

    @pytest.mark.anyio
    async def test_rounding_difference_is_booked(
        self, tryton: TrytonErp
    ) -> None:
        """Where Tryton's rounding of a line misses the shop's total by a
        cent the order check allows, a rounding line makes up for it."""
        line = attrs.evolve(
            make_order().lines[0], quantity=1, unit_price=Decimal("10.004")
        )
        order = attrs.evolve(make_order(), lines=(line,), total="10.01")

        async with tryton.session() as session:
            (outcome,) = await session.import_orders([order])
            (sale,) = await session.rpc.read(
                "sale.sale", [int(outcome.platform_id or 0)], ["total_amount"]
            )

        assert outcome.ok, outcome
        assert Decimal("10.01") == Decimal(str(sale["total_amount"]))

    @pytest.mark.anyio
    async def test_sale_with_another_total_is_not_kept(
        self, tryton: TrytonErp, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A sale that Tryton totals differently from the order (here: its
        shipping line lost) fails on ``total`` and is removed again."""
        order = make_order(shipping_total="4.90", total="174.78")

        async with tryton.session() as session:
            monkeypatch.setattr(_tryton_orders, "charges", lambda *_: [])
            (outcome,) = await session.import_orders([order])
            left = await session.rpc.model(
                "sale.sale", "search", [["reference", "=", order.number]]
            )

        assert ("total", []) == (outcome.field, left)
        assert "comes to 169.88 EUR, the order to 174.78" in (
            outcome.error or ""
        )

    @pytest.mark.anyio
    async def test_a_draft_left_unchecked_is_not_confirmed_with_another_total(
        self, tryton: TrytonErp, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A sale whose import was cancelled after Tryton made it and
        before its total was checked (left a draft) is not confirmed by
        the next import where Tryton totals it differently from the order
        (here: its shipping line lost): the order fails on ``total`` and
        the sale stays a draft."""
        order = make_order(shipping_total="4.90", total="174.78")
        monkeypatch.setattr(_tryton_orders, "charges", lambda *_: [])
        check = OrderImporter._check_total

        with anyio.CancelScope() as scope:

            async def cut(*_: Any) -> None:
                scope.cancel()
                await anyio.lowlevel.checkpoint()

            monkeypatch.setattr(OrderImporter, "_check_total", cut)
            async with tryton.session() as session:
                await session.import_orders([order])
        monkeypatch.setattr(OrderImporter, "_check_total", check)
        async with tryton.session() as session:
            (outcome,) = await session.import_orders([order])
            rows = await session.rpc.search_read(
                "sale.sale",
                [["reference", "=", order.number]],
                ["state", "total_amount"],
            )

        assert scope.cancelled_caught
        assert "total" == outcome.field, outcome
        assert "comes to 169.88 EUR, the order to 174.78" in (
            outcome.error or ""
        )
        assert [("draft", Decimal("169.88"))] == [
            (r["state"], Decimal(str(r["total_amount"]))) for r in rows
        ]

    @pytest.mark.anyio
    async def test_one_order_imported_by_two_runs_at_once(
        self, tryton: TrytonErp
    ) -> None:
        """Runs importing at the same time (a manual import while the
        scheduled one runs) create one sale for an order both import, with
        both outcomes naming it, and one party for a new customer of two
        orders."""
        order = make_order()
        other = attrs.evolve(make_order(), customer=order.customer)
        outcomes: dict[str, set[str | None]] = {}

        async def run(one: Order) -> None:
            async with tryton.session() as session:
                for outcome in await session.import_orders([one]):
                    outcomes.setdefault(one.number, set()).add(
                        outcome.platform_id
                    )

        async with anyio.create_task_group() as tg:
            for one in (order, order, other):
                tg.start_soon(run, one)
        async with tryton.session() as session:
            sales = await session.rpc.search_read(
                "sale.sale",
                [["reference", "in", [order.number, other.number]]],
                ["reference", "party"],
            )
            identifiers = await session.rpc.search_read(
                "party.identifier",
                [["code", "=", order.customer.number]],
                ["party"],
            )

        assert sorted([order.number, other.number]) == sorted(
            s["reference"] for s in sales
        )
        assert {s["reference"]: {str(s["id"])} for s in sales} == outcomes
        assert 1 == len(identifiers)
        assert {identifiers[0]["party"]} == {s["party"] for s in sales}

    @pytest.mark.anyio
    async def test_padded_address_is_the_same_when_imported_again(
        self, tryton: TrytonErp
    ) -> None:
        """An address with surrounding spaces (a shop's form fields) is
        one party address and, imported again, the same as its sale's:
        Tryton strips its name, postal code and city, and the order failed
        on ``billing`` ("changed in the shop") for ever."""
        padded = Address(
            first_name=" Erika",
            last_name="Muster ",
            street="  Padweg 1 ",
            zip_code="10115 ",
            city="Berlin ",
            country="DE",
            company="ACME ",
        )
        order = make_order(billing=padded, shipping=padded)

        async with tryton.session() as session:
            (first,) = await session.import_orders([order])
            (again,) = await session.import_orders(
                [attrs.evolve(order, state=OrderState.IN_PROGRESS)]
            )
            (sale,) = await session.rpc.read(
                "sale.sale",
                [int(first.platform_id or 0)],
                ["invoice_address", "shipment_address"],
            )

        assert (None, None) == (first.error, again.error), again
        assert first.platform_id == again.platform_id
        assert sale["invoice_address"] == sale["shipment_address"]

    @pytest.mark.anyio
    async def test_known_customer_ships_to_a_new_address(
        self, tryton: TrytonErp
    ) -> None:
        """A known customer's next order to another address keeps the
        party: the address is added to it and is the sale's shipment
        address; the known billing address is reused, not copied."""
        first = make_order()
        moved = Address(
            first_name="Erika",
            last_name="Mustermann",
            street="Neue Allee 7",
            zip_code="80331",
            city="München",
            country="DE",
        )
        second = make_order(customer=first.customer, shipping=moved)

        async with tryton.session() as session:
            outcomes = await session.import_orders([first, second])
            sales = await session.rpc.read(
                "sale.sale",
                [int(o.platform_id or 0) for o in outcomes],
                ["party", "invoice_address", "shipment_address"],
            )
            addresses = await session.rpc.search_read(
                "party.address",
                [["party", "=", sales[0]["party"]]],
                ["street"],
            )
            (shipped_to,) = await session.rpc.read(
                "party.address", [sales[1]["shipment_address"]], ["street"]
            )

        assert sales[0]["party"] == sales[1]["party"]
        assert sales[0]["invoice_address"] == sales[1]["invoice_address"]
        assert "Neue Allee 7" == shipped_to["street"]
        assert 3 == len(addresses)

    @pytest.mark.anyio
    async def test_customer_without_number_fails_on_it(
        self, tryton: TrytonErp
    ) -> None:
        """An order whose customer has no customer number fails on
        ``customer.number`` (it failed with Tryton's 'A value is required
        for field "Code" ... of "Party Identifier"', naming no field);
        no sale is made."""
        order = make_order()
        order = attrs.evolve(
            order, customer=attrs.evolve(order.customer, number=" ")
        )

        async with tryton.session() as session:
            (outcome,) = await session.import_orders([order])
            sales = await session.rpc.model(
                "sale.sale", "search_count", [["reference", "=", order.number]]
            )

        assert "customer.number" == outcome.field
        assert "customer number" in (outcome.error or "")
        assert 0 == sales

    @pytest.mark.anyio
    async def test_order_in_tryton_twice_fails_naming_both(
        self, tryton: TrytonErp
    ) -> None:
        """An order two processes imported at once (two sales with its
        number) fails on ``number`` naming both sales, instead of the
        first being taken as the order while the other ships too; once
        the merchant cancelled one, the other is the order's sale."""
        order = make_order()
        async with tryton.session() as session:
            (first,) = await session.import_orders([order])
            sale = int(first.platform_id or 0)
            twin = await twin_sale(session.rpc, sale, order.number)
            (twice,) = await session.import_orders([order])
            await session.rpc.model("sale.sale", "cancel", [twin])
            (once,) = await session.import_orders([order])

        assert "number" == twice.field
        assert f"(id {sale})" in (twice.error or "")
        assert f"draft (id {twin})" in (twice.error or "")
        assert (None, str(sale)) == (once.error, once.platform_id)

    @pytest.mark.anyio
    async def test_draft_left_by_a_dead_import_is_confirmed(
        self, tryton_server: dict[str, Any], tryton: TrytonErp
    ) -> None:
        """A sale an import created and did not confirm (the process died
        in between) is confirmed by the next import of its order, not
        taken as done: the order ships; still one sale."""
        order = make_order()
        drafts = make_erp(tryton_server, confirm_orders=False)
        async with drafts.session() as session:
            (left,) = await session.import_orders([order])
        await drafts.aclose()

        async with tryton.session() as session:
            (again,) = await session.import_orders([order])
            sales = await session.rpc.search_read(
                "sale.sale", [["reference", "=", order.number]], ["state"]
            )

        assert left.platform_id == again.platform_id
        assert [(int(left.platform_id or 0), "processing")] == [
            (s["id"], s["state"]) for s in sales
        ]

    @pytest.mark.anyio
    async def test_cancelled_in_the_shop_cancels_a_draft_sale(
        self, tryton_server: dict[str, Any], tryton: TrytonErp
    ) -> None:
        """An order cancelled in the shop whose sale is still a draft or a
        quotation (confirm_orders=False) is cancelled in Tryton."""
        order = make_order()
        drafts = make_erp(tryton_server, confirm_orders=False)
        async with drafts.session() as session:
            (first,) = await session.import_orders([order])
            (outcome,) = await session.import_orders(
                [attrs.evolve(order, state=OrderState.CANCELLED)]
            )
            (sale,) = await session.rpc.search_read(
                "sale.sale", [["reference", "=", order.number]], ["state"]
            )
        await drafts.aclose()

        assert outcome.ok, outcome
        assert first.platform_id == outcome.platform_id
        assert "cancelled" == sale["state"]

    @pytest.mark.anyio
    async def test_cancelled_in_the_shop_after_processing(
        self, tryton: TrytonErp
    ) -> None:
        """A processed sale (its shipment made) cannot be cancelled through
        Tryton: the order fails on state naming the sale and telling the
        merchant to cancel the shipments; once they did, the next import
        of the cancelled order goes through, and order status reads the
        sale as cancelled, as the shop has it (it read in progress, which
        the shop refused on every run)."""
        order = make_order()
        cancelled = attrs.evolve(order, state=OrderState.CANCELLED)
        async with tryton.session() as session:
            (first,) = await session.import_orders([order])
            (refused,) = await session.import_orders([cancelled])
            (sale,) = await session.rpc.search_read(
                "sale.sale",
                [["reference", "=", order.number]],
                ["state", "number", "shipments"],
            )
            await session.rpc.model(
                "stock.shipment.out", "cancel", sale["shipments"]
            )
            await anyio.sleep(0.01)  # the merchant's cancel before it
            moment = datetime.now(UTC)
            (handled,) = await session.import_orders([cancelled])
            (again,) = await session.import_orders([cancelled])
            (reopened,) = await session.import_orders([order])
            (marked,) = await session.rpc.read(
                "sale.sale", [sale["id"]], MARK_FIELDS
            )
        status = await test_tryton.TestTrytonContract().imported_state(
            tryton, order.number
        )
        changed = await _read(
            tryton, DataType.ORDER_STATUS, ChangedSince(moment)
        )

        assert OrderState.CANCELLED is status
        # a delta run pushes it: the mark is a change of the sale's
        assert [OrderState.CANCELLED] == [
            s.state for s in changed if s.number == order.number
        ]
        assert [
            "Imported (ecomsync)",
            "Cancelled in the shop (ecomsync)",
        ] == _marks(marked)
        assert again.ok, again
        assert ("state", False) == (reopened.field, reopened.ok)
        assert "Cancelled in the shop (ecomsync)" in str(reopened.error)
        assert "processing" == sale["state"]
        assert ("state", False) == (refused.field, refused.ok)
        assert f"Tryton sale {sale['number']} (id {sale['id']})" in str(
            refused.error
        )
        assert "cancel its customer shipments" in str(refused.error)
        assert handled.ok, handled
        assert first.platform_id == handled.platform_id

    @pytest.mark.anyio
    async def test_a_mark_added_is_read_as_a_change_without_a_sale_write(
        self, tryton: TrytonErp, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A mark added to an imported sale (here the platform of an
        order first imported for none) is a change the next ChangedSince
        order status read sees, and writes the sale's marks attachment
        alone: no write of the sale (before, its comment was written back
        unchanged to move its write date, one call more)."""
        order = make_order()
        methods: list[str] = []
        call = Rpc.call

        async def counted(self: Rpc, method: str, *params: object) -> Any:
            methods.append(method)
            return await call(self, method, *params)

        async with tryton.session() as session:
            (first,) = await session.import_orders([order])
        await anyio.sleep(0.01)  # the import's writes before it
        moment = datetime.now(UTC)
        monkeypatch.setattr(Rpc, "call", counted)
        async with tryton.session() as session:
            (named,) = await session.import_orders(
                [attrs.evolve(order, platform="shop")]
            )
        monkeypatch.undo()
        changed = await _read(
            tryton, DataType.ORDER_STATUS, ChangedSince(moment)
        )

        assert (None, first.platform_id) == (named.error, named.platform_id)
        assert ["shop"] == [
            s.platform for s in changed if s.number == order.number
        ]
        assert [] == [
            m
            for m in methods
            if m.startswith("model.sale.sale.")
            and m.split(".")[-1] not in ("search_read", "read")
        ]
        assert 1 == methods.count("model.ir.attachment.write")

    @pytest.mark.anyio
    async def test_cancelled_in_the_shop_after_shipping(
        self, tryton: TrytonErp
    ) -> None:
        """An order cancelled in the shop after its sale shipped fails on
        state asking for a return sale; once the merchant made one with
        Tryton's Return Sale wizard, the next import goes through."""
        order = make_order()
        cancelled = attrs.evolve(order, state=OrderState.CANCELLED)
        async with tryton.session() as session:
            rpc = session.rpc
            (first,) = await session.import_orders([order])
            await ship_sale(rpc, order.number)
            (refused,) = await session.import_orders([cancelled])
            sale = int(first.platform_id or 0)
            wizard, _, _ = await rpc.call(
                "wizard.sale.return_sale.create", rpc.context
            )
            await rpc.call(
                "wizard.sale.return_sale.execute",
                wizard,
                {},
                "return_",
                {
                    **rpc.context,
                    "active_model": "sale.sale",
                    "active_id": sale,
                    "active_ids": [sale],
                },
            )
            await rpc.call(
                "wizard.sale.return_sale.delete", wizard, rpc.context
            )
            (handled,) = await session.import_orders([cancelled])
        status = await test_tryton.TestTrytonContract().imported_state(
            tryton, order.number
        )

        assert ("state", False) == (refused.field, refused.ok)
        assert "return sale" in str(refused.error)
        assert handled.ok, handled
        assert OrderState.CANCELLED is status

    @pytest.mark.anyio
    async def test_endless_unit_price_rounds_to_tryton_digits(
        self, tryton: TrytonErp
    ) -> None:
        """A unit price with endless decimals (a shop's discounted line
        total over its quantity, 10.00 / 3) is imported rounded to
        Tryton's four places when the line's amount stays exact; where
        rounding would change the amount the order fails on that line's
        unit price, without a sale."""
        base = make_order()
        line = attrs.evolve(
            base.lines[0], quantity=3, unit_price=Decimal(10) / 3
        )
        exact = attrs.evolve(make_order(), lines=(line,), total="10.00")
        too_many = attrs.evolve(
            make_order(),
            lines=(base.lines[1], attrs.evolve(line, quantity=900)),
            total="3079.98",
        )

        async with tryton.session() as session:
            landed, failed = await session.import_orders([exact, too_many])
            (row,) = await session.rpc.search_read(
                "sale.line",
                [["sale", "=", int(landed.platform_id or 0)]],
                ["unit_price", "amount"],
            )
            refused = await session.rpc.model(
                "sale.sale", "search", [["reference", "=", too_many.number]]
            )

        assert (Decimal("3.3333"), Decimal("10.00")) == (
            Decimal(str(row["unit_price"])),
            Decimal(str(row["amount"])),
        )
        assert ("lines.1.unit_price", None) == (
            failed.field,
            failed.platform_id,
        )
        assert "4 decimal places" in (failed.error or "")
        assert [] == refused

    @pytest.mark.anyio
    async def test_rounded_unit_price_keeps_a_three_decimal_amount(
        self, tryton: TrytonErp
    ) -> None:
        """A unit price rounded to Tryton's four places must keep the
        line's amount to the currency's smallest unit: a fils for KWD,
        not a cent (142.857 KWD over 100 is 1.42857, rounded 1.4286 makes
        142.860: three fils too many, hidden by a rounding line)."""
        line = attrs.evolve(
            make_order().lines[0], quantity=100, unit_price="1.42857"
        )
        order = attrs.evolve(
            make_order(), currency="KWD", lines=(line,), total="142.857"
        )
        euros = attrs.evolve(order, currency="EUR", total="142.86")
        async with tryton.session() as session:
            # no stock is read: the price digits are given
            importer = OrderImporter(tryton, session.rpc, None, 4)  # type: ignore[arg-type]
            with pytest.raises(SaleRejected) as refused:
                await importer._unit_prices(order)
            prices = await importer._unit_prices(euros)

        assert "lines.0.unit_price" == refused.value.field
        assert "rounding it would change" in str(refused.value)
        assert [Decimal("1.4286")] == prices

    @pytest.mark.anyio
    async def test_net_prices(
        self, tryton_server: dict[str, Any], tryton: TrytonErp
    ) -> None:
        """With net list prices, the gross price adds the tax rate."""
        erp = make_erp(tryton_server, gross_prices=False, tax_rate=19)

        async with erp.session() as session:
            (batch,) = [
                b
                async for b in session.read(
                    DataType.ARTICLES, Only(["A-10"]), batch_size=5
                )
            ]

        assert Decimal("11.84") == batch[0].price  # type: ignore[union-attr]
