"""
`TrytonErp` against a live Tryton server: the ERP contract, and what is
specific to Tryton (sessions, errors, secrets).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anyio
import attrs
import httpx
import pytest

from ecomsync import (
    Address,
    All,
    ChangedSince,
    DataType,
    Only,
    Order,
    OrderState,
    OrderStatus,
)
from ecomsync._model import number_key
from ecomsync._spec import Selection
from ecomsync.erp import _tryton_orders
from ecomsync.erp._tryton_orders import OrderImporter
from ecomsync.erp._tryton_products import ProductReader
from ecomsync.erp._tryton_sales import (
    ADDRESSES_MARK,
    MARK_FIELDS,
    SaleRejected,
    sale_marks,
)
from ecomsync.erp._tryton_shop_order import ORDER_MARK
from ecomsync.erp.tryton import TrytonErp, TrytonError
from ecomsync.exceptions import (
    AuthenticationError,
    ConfigurationError,
    RetryableError,
)
from ecomsync.testing._erp_contract import ErpSourceContract, make_order
from ecomsync.testing._tryton_seed import (
    TRAP_ARTICLES,
    TRAP_STOCK,
    TRAP_STOCK_PER_WAREHOUSE,
    sell,
    set_stock,
    storage_location,
)
from ecomsync.typing import ErpSource

from .conftest import (
    PASSWORD,
    CountingTransport,
    flour,
    make_erp,
    twin_sale,
)


pytestmark = pytest.mark.tryton


@pytest.fixture(name="source")
def _source(tryton: TrytonErp) -> TrytonErp:
    return tryton


def _marks(sale: dict[str, Any]) -> list[str]:
    """The marks of *sale* (read with `MARK_FIELDS`) but the digests of
    what the shop sent."""
    return [
        line
        for line in sale_marks(sale).splitlines()
        if not line.startswith((ADDRESSES_MARK, ORDER_MARK))
    ]


def _erp(source: ErpSource) -> TrytonErp:
    assert isinstance(source, TrytonErp)
    return source


#: The model and field `TestTrytonContract.touch` writes back unchanged.
_REWRITTEN = {
    DataType.CATEGORIES: ("product.category", "name"),
    DataType.ARTICLES: ("product.product", "description"),
}


class TestTrytonContract(ErpSourceContract):
    """
    The standard ERP behaviour, on a live Tryton.
    """

    @pytest.mark.anyio
    async def test_stock_levels(self, tryton_unsold: TrytonErp) -> None:
        """Stock levels are the seeded quantities available to sell, per
        warehouse or summed, on a server no test sells from: on the
        shared one, the open sales other tests leave (the parties' tests,
        run first) hold some of the stock."""
        await super().test_stock_levels(tryton_unsold)

    async def touch(
        self, source: ErpSource, data_type: DataType, number: str
    ) -> None:
        async with _erp(source).session() as session:
            rpc = session.rpc
            if data_type in _REWRITTEN:
                # Writing a field's own value back stamps write_date.
                model, field = _REWRITTEN[data_type]
                (row,) = await rpc.search_read(
                    model, [["code", "=", number]], [field]
                )
                await rpc.model(
                    model, "write", [row["id"]], {field: row[field]}
                )
            elif data_type is DataType.STOCK:
                (row,) = await rpc.search_read(
                    "product.product", [["code", "=", number]], ["quantity"]
                )
                location = await storage_location(rpc)
                await set_stock(
                    rpc, location, {row["id"]: row["quantity"] + 1}
                )
                await set_stock(rpc, location, {row["id"]: row["quantity"]})
            else:
                (row,) = await rpc.search_read(
                    "sale.sale", [["reference", "=", number]], ["shipments"]
                )
                shipments = await rpc.read(
                    "stock.shipment.out", row["shipments"], ["reference"]
                )
                for shipment in shipments:
                    await rpc.model(
                        "stock.shipment.out",
                        "write",
                        [shipment["id"]],
                        {"reference": shipment["reference"]},
                    )

    async def imported_count(
        self, source: ErpSource, order_number: str
    ) -> int:
        async with _erp(source).session() as session:
            return int(
                await session.rpc.model(
                    "sale.sale",
                    "search_count",
                    [["reference", "=", order_number]],
                )
            )

    async def imported_state(
        self, source: ErpSource, order_number: str
    ) -> OrderState:
        async with _erp(source).session() as session:
            (status,) = [
                s
                async for batch in session.read(
                    DataType.ORDER_STATUS, Only([order_number]), batch_size=1
                )
                for s in batch
            ]
        assert isinstance(status, OrderStatus)
        return status.state

    async def ship(self, source: ErpSource, order_number: str) -> None:
        async with _erp(source).session() as session:
            await ship_sale(session.rpc, order_number)


async def ship_sale(rpc: Any, order_number: str) -> None:
    """
    Send the customer shipments of the sale of *order_number*: reserve,
    pack, done (the warehouse's work in Tryton).
    """
    (row,) = await rpc.search_read(
        "sale.sale", [["reference", "=", order_number]], ["shipments"]
    )
    shipments = row["shipments"]
    assert shipments, row
    for shipment in await rpc.read(
        "stock.shipment.out",
        shipments,
        ["warehouse_storage", "warehouse_output", "inventory_moves"],
    ):
        # what the shipment takes arrives first, so the stock on hand
        # is what it was once the goods left (other tests count it)
        storage = shipment["warehouse_storage"]
        moves = await rpc.read(
            "stock.move",
            shipment["inventory_moves"],
            ["product", "quantity"],
        )
        wanted = {m["product"]: m["quantity"] for m in moves}
        held = await rpc.read(
            "product.product",
            list(wanted),
            ["quantity"],
            context={"locations": [storage]},
        )
        await set_stock(
            rpc,
            storage,
            {p["id"]: p["quantity"] + wanted[p["id"]] for p in held},
        )
        await rpc.model("stock.shipment.out", "assign_try", [shipment["id"]])
        (state,) = await rpc.read(
            "stock.shipment.out", [shipment["id"]], ["state"]
        )
        assert "assigned" == state["state"], state
        steps = ["pack", "do"]
        if shipment["warehouse_storage"] != shipment["warehouse_output"]:
            steps.insert(0, "pick")
        for step in steps:
            await rpc.model("stock.shipment.out", step, [shipment["id"]])


class TestSessions:
    """
    One Tryton session per `session()`.
    """

    @pytest.mark.anyio
    async def test_one_login_per_session(
        self, tryton_server: dict[str, Any], tryton: TrytonErp
    ) -> None:
        """Each session logs in on enter and out on exit, also on error."""
        counting = CountingTransport()
        erp = make_erp(tryton_server, transport=counting)

        async with erp.session(), erp.session():
            assert counting.open == 2
        with pytest.raises(ZeroDivisionError):
            async with erp.session():
                1 / 0  # noqa: B018

        assert counting.open == 0
        assert counting.most == 2


class TestErrors:
    """
    Tryton's refusals become ecomsync errors with Tryton's message.
    """

    @pytest.mark.anyio
    async def test_wrong_password(self, tryton_server: dict[str, Any]) -> None:
        """A refused login is an AuthenticationError without the password."""
        erp = make_erp(tryton_server)
        erp = attrs.evolve(erp, password="s3cret-Pa55word")

        with pytest.raises(AuthenticationError) as info:
            async with erp.session():
                pass

        assert "s3cret-Pa55word" not in str(info.value)
        assert "s3cret-Pa55word" not in repr(info.value)

    @pytest.mark.anyio
    async def test_unreachable_is_retryable(self) -> None:
        """A server that does not answer is a RetryableError."""
        erp = TrytonErp("http://127.0.0.1:9", "db", "admin", "pw", timeout=5)

        with pytest.raises(RetryableError):
            async with erp.session():
                pass

    @pytest.mark.anyio
    async def test_user_error_fails_that_order_alone(
        self, tryton: TrytonErp
    ) -> None:
        """Tryton's own validation message reaches the one bad order's
        outcome; the other order is imported."""
        good = make_order()
        line = attrs.evolve(good.lines[0], unit_price=Decimal("1.234567"))
        bad = attrs.evolve(make_order(), lines=(line,), total=Decimal("1.23"))

        async with tryton.session() as session:
            # as if Tryton kept six places: the price goes as it is, and
            # Tryton's own digits check refuses it
            session._orders._price_places = 6
            outcomes = await session.import_orders([bad, good])

        assert [o.ok for o in outcomes] == [False, True]
        assert "digits" in (outcomes[0].error or ""), outcomes[0].error
        assert (outcomes[0].error or "").startswith("Tryton")

    @pytest.mark.anyio
    async def test_unknown_article(self, tryton: TrytonErp) -> None:
        """An order for an article Tryton lacks names the line."""
        line = attrs.evolve(make_order().lines[0], article_number="NOPE-1")
        order = attrs.evolve(
            make_order(), lines=(line,), total=line.unit_price
        )

        async with tryton.session() as session:
            (outcome,) = await session.import_orders([order])

        assert outcome.field == "lines.0.article_number"
        assert "NOPE-1" in (outcome.error or "")

    @pytest.mark.anyio
    async def test_user_error_on_read_raises(self, tryton: TrytonErp) -> None:
        """A refused call outside import raises TrytonError with Tryton's
        message."""
        async with tryton.session() as session:
            with pytest.raises(TrytonError) as info:
                await session.rpc.model(
                    "product.category", "create", [{"name": None}]
                )

        assert info.value.kind == "UserError"
        assert info.value.message

    @pytest.mark.anyio
    async def test_unknown_warehouse(
        self, tryton_server: dict[str, Any], tryton: TrytonErp
    ) -> None:
        """A warehouse code Tryton lacks is a ConfigurationError."""
        erp = make_erp(tryton_server, warehouse="NOPE")

        async with erp.session() as session:
            with pytest.raises(ConfigurationError):
                await session.count(DataType.STOCK, All())


def _mock(status: int, payload: object, **headers: str) -> TrytonErp:
    """
    A TrytonErp whose server logs in, then answers every call with
    *status* and *payload*.
    """

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["method"] == "common.db.login":
            return httpx.Response(
                200, json={"id": 1, "result": [1, "t", None]}
            )
        if body["method"] == "model.res.user.get_preferences":
            return httpx.Response(
                200, json={"id": 2, "result": {"company": 1}}
            )
        if body["method"] == "common.db.logout":
            return httpx.Response(200, json={"id": 3, "result": None})
        return httpx.Response(status, json=payload, headers=headers)

    return TrytonErp(
        "http://erp.test",
        "db",
        "admin",
        "pw-not-shown",
        transport=httpx.MockTransport(handler),
    )


class TestErrorMapping:
    """
    Tryton's answers map to the ecomsync error tree (no server needed).
    """

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        ("status", "payload", "error"),
        [
            (401, {}, AuthenticationError),
            (429, {}, RetryableError),
            (503, {}, RetryableError),
            (403, {}, TrytonError),
            (
                200,
                {"id": 1, "error": ["ConcurrencyException", "changed"]},
                RetryableError,
            ),
            (
                200,
                {"id": 1, "error": ["UserError", ["Bad value", "Why", None]]},
                TrytonError,
            ),
            (
                200,
                {"id": 1, "error": ["KeyError: 'x'", "Traceback ..."]},
                TrytonError,
            ),
        ],
    )
    async def test_status_and_payload(
        self, status: int, payload: object, error: type[Exception]
    ) -> None:
        """Each failure is the error the engine can act on."""
        erp = _mock(status, payload, **{"Retry-After": "7"})

        with pytest.raises(error) as info:
            async with erp.session() as session:
                await session.count(DataType.ARTICLES, All())

        assert "pw-not-shown" not in str(info.value)
        if status == 429:
            assert info.value.retry_after.total_seconds() == 7  # type: ignore[attr-defined]

    @pytest.mark.anyio
    async def test_user_error_message(self) -> None:
        """A user error carries Tryton's message and description."""
        erp = _mock(
            200,
            {"id": 1, "error": ["UserError", ["Bad value", "Because.", None]]},
        )

        with pytest.raises(TrytonError) as info:
            async with erp.session() as session:
                await session.count(DataType.ARTICLES, All())

        assert info.value.kind == "UserError"
        assert info.value.text == "Bad value (Because.)"
        assert str(info.value).startswith("Tryton: Bad value (Because.)")

    @pytest.mark.anyio
    async def test_warning_fails_the_order(self) -> None:
        """A warning that needs acknowledging fails that order with its
        message (acknowledge_warnings=False)."""
        erp = _mock(
            200,
            {
                "id": 1,
                "error": ["UserWarning", ["w.name", "Are you sure?", ""]],
            },
        )

        async with erp.session() as session:
            (outcome,) = await session.import_orders([make_order()])

        assert "Tryton warning: Are you sure?" in (outcome.error or "")


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
        status = await TestTrytonContract().imported_state(
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
        status = await TestTrytonContract().imported_state(
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


class TestSecrets:
    """
    The password never shows.
    """

    def test_repr(self) -> None:
        """Neither repr nor str of TrytonErp contains the password."""
        erp = TrytonErp("http://erp", "db", "admin", "hunter2-secret")

        assert "hunter2-secret" not in repr(erp)
        assert "hunter2-secret" not in str(erp)

    def test_bad_url(self) -> None:
        """A URL without scheme is refused at construction."""
        with pytest.raises(ConfigurationError):
            TrytonErp("erp.example.com", "db", "admin", PASSWORD)


@pytest.fixture(name="traps")
def _traps(traps_server: dict[str, Any]) -> TrytonErp:
    return make_erp(traps_server)


async def _read(
    erp: TrytonErp, data_type: DataType, selection: Selection
) -> list[Any]:
    async with erp.session() as session:
        return [
            record
            async for batch in session.read(data_type, selection, batch_size=3)
            for record in batch
        ]


async def _drop_code(erp: TrytonErp, product: int) -> None:
    """Clear the code a test gave *product*, so that the reads of later
    tests on the shared server do not meet it."""
    async with erp.session() as session:
        await session.rpc.model(
            "product.product", "write", [product], {"suffix_code": None}
        )


def _levels(records: list[Any]) -> dict[Any, int]:
    return {
        (s.number, s.warehouse) if s.warehouse else s.number: s.quantity
        for s in records
    }


class TestVariantsAndReusedCodes:
    """
    Templates with variants and reused codes, on a live Tryton.
    """

    @pytest.mark.anyio
    async def test_articles_as_the_merchant_has_them(
        self, traps: TrytonErp
    ) -> None:
        """Variants under their template, options from attributes, the
        active product for a reused code, an inactive article inactive."""
        got = await _read(traps, DataType.ARTICLES, All())

        assert sorted(TRAP_ARTICLES, key=lambda a: number_key(a.number)) == got

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        ("numbers", "expected"),
        [
            (["Z-1"], ["Z-1"]),
            (["SHIRT-S"], ["SHIRT"]),
            (["SOCK"], ["SOCK"]),
            (["SHIRT-L", "G-1"], ["G-1", "SHIRT"]),
            # many numbers: selected here, not on the server
            (
                [f"N-{i}" for i in range(30)] + ["SOCK-RED", "Z-1"],
                ["SOCK", "Z-1"],
            ),
        ],
    )
    async def test_only(
        self, traps: TrytonErp, numbers: list[str], expected: list[str]
    ) -> None:
        """Only() finds an article by its number or a variant's; a reused
        code finds the active product."""
        got = await _read(traps, DataType.ARTICLES, Only(numbers))

        assert expected == [a.number for a in got]
        assert all(a.name != "Old Z" for a in got)

    @pytest.mark.anyio
    async def test_changed_inactive_duplicate_is_not_read(
        self, traps: TrytonErp
    ) -> None:
        """A change to the inactive Old Z yields nothing for Z-1; a change
        to a discontinued variant yields its article."""
        await anyio.sleep(0.01)
        moment = datetime.now(UTC)
        async with traps.session() as session:
            rpc = session.rpc
            rows = await rpc.search_read(
                "product.product",
                [["code", "in", ["Z-1", "SHIRT-L"]], ["active", "=", False]],
                ["code"],
                context={"active_test": False},
            )
            # an inactive product is read-only but for its active flag
            await rpc.model(
                "product.product",
                "write",
                [row["id"] for row in rows],
                {"active": False},
            )

        got = await _read(traps, DataType.ARTICLES, ChangedSince(moment))

        assert {"Z-1", "SHIRT-L"} == {row["code"] for row in rows}
        assert ["SHIRT"] == [a.number for a in got]
        assert [("SHIRT-M", "SHIRT-S")] == [
            tuple(v.number for v in a.variants) for a in got
        ]

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        ("template_code", "suffixes", "rivalled"),
        [
            (None, ["SHIRT"], ("Rival", "Shirt")),
            ("Z-1", ["-X", "-Y"], ("New Z", "Rival")),
        ],
        ids=["article-as-variants", "variants-as-article"],
    )
    @pytest.mark.parametrize("expand_limit", [1000, 0], ids=["lazy", "eager"])
    async def test_changed_rival_is_read_with_the_holder(
        self,
        traps: TrytonErp,
        template_code: str | None,
        suffixes: list[str],
        rivalled: tuple[str, str],
        expand_limit: int,
    ) -> None:
        """A new product numbered like an unchanged article (Tryton keeps
        active product codes unique, not a product's code apart from a
        template's) is read by ChangedSince together with that article, so
        the engine fails both instead of the newcomer overwriting the
        shop's product."""
        await anyio.sleep(0.01)
        moment = datetime.now(UTC)
        number = template_code or suffixes[0]
        async with traps.session() as session:
            rpc = session.rpc
            (unit,) = await rpc.model(
                "product.uom", "search", [["symbol", "=", "u"]], 0, 1, None
            )
            (template,) = await rpc.model(
                "product.template",
                "create",
                [
                    {
                        "name": "Rival",
                        "code": template_code,
                        "type": "goods",
                        "default_uom": unit,
                        "salable": True,
                        "sale_uom": unit,
                        "list_price": Decimal("1.00"),
                        "products": [
                            ["create", [{"suffix_code": s} for s in suffixes]]
                        ],
                    }
                ],
            )
            try:
                reader = ProductReader(rpc, traps, expand_limit=expand_limit)
                groups = await reader.article_groups(ChangedSince(moment))
                got = await reader.articles(groups)
            finally:
                await rpc.model("product.template", "delete", [template])

        assert rivalled == tuple(sorted(a.name for a in got))
        assert [number, number] == [a.number for a in got]

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        "selection",
        [
            ChangedSince(datetime(2000, 1, 1, tzinfo=UTC)),
            Only(["Z-1", "SOCK"]),
        ],
        ids=["since", "only"],
    )
    async def test_many_changed_read_every_candidate(
        self, traps: TrytonErp, selection: Selection
    ) -> None:
        """With more matched templates than the expansion limit, every
        candidate is read and the same articles come out."""
        async with traps.session() as session:
            eager = ProductReader(session.rpc, traps, expand_limit=0)
            lazy = ProductReader(session.rpc, traps)
            got = [g.number for g in await eager.article_groups(selection)]
            want = [g.number for g in await lazy.article_groups(selection)]

        assert want == got
        assert got


class TestStockAvailable:
    """
    Stock is available to sell: on hand minus what open orders hold.
    """

    @pytest.mark.anyio
    async def test_summed_over_warehouses(self, traps: TrytonErp) -> None:
        """By default one level per article: both warehouses summed, less
        waiting and assigned shipments; shipped goods are gone."""
        got = await _read(traps, DataType.STOCK, All())

        assert TRAP_STOCK == _levels(got)

    @pytest.mark.anyio
    async def test_only_by_article_number(self, traps: TrytonErp) -> None:
        """Only() with a template's number selects its variants' levels."""
        got = await _read(traps, DataType.STOCK, Only(["SHIRT", "Z-1"]))

        assert {
            n: TRAP_STOCK[n] for n in ("SHIRT-M", "SHIRT-S", "Z-1")
        } == _levels(got)

    @pytest.mark.anyio
    async def test_only_by_derived_article_number(
        self, traps: TrytonErp
    ) -> None:
        """Only() with the number of an article whose template has no code
        (its variants' prefix, "SOCK") selects its variants' levels, as
        it selects the article: "sync this article" synced no stock."""
        got = await _read(traps, DataType.STOCK, Only(["SOCK"]))

        assert {
            n: TRAP_STOCK[n] for n in ("SOCK-BLUE", "SOCK-RED")
        } == _levels(got)

    @pytest.mark.anyio
    async def test_per_warehouse(
        self, traps_server: dict[str, Any], traps: TrytonErp
    ) -> None:
        """With stock_per_warehouse, one level per warehouse code."""
        erp = make_erp(traps_server, stock_per_warehouse=True)

        got = await _read(erp, DataType.STOCK, All())

        assert TRAP_STOCK_PER_WAREHOUSE == _levels(got)

    @pytest.mark.anyio
    async def test_chosen_warehouses(
        self, traps_server: dict[str, Any], traps: TrytonErp
    ) -> None:
        """stock_warehouses picks which warehouses count."""
        erp = make_erp(traps_server, stock_warehouses=["WH2"])

        got = await _read(erp, DataType.STOCK, Only(["SHIRT-S", "SHIRT-M"]))

        assert {"SHIRT-M": 0, "SHIRT-S": 5} == _levels(got)

    @pytest.mark.anyio
    async def test_unknown_warehouse_named(
        self, traps_server: dict[str, Any], traps: TrytonErp
    ) -> None:
        """An unknown warehouse code is a ConfigurationError naming it and
        the codes Tryton has."""
        erp = make_erp(traps_server, stock_warehouses=("WH2", "NOPE"))

        with pytest.raises(ConfigurationError) as info:
            await _read(erp, DataType.STOCK, All())

        assert "'NOPE'" in str(info.value)
        assert "'WH2'" in str(info.value)

    @pytest.mark.anyio
    async def test_renumbered_product_is_a_stock_change(
        self, traps: TrytonErp
    ) -> None:
        """A product whose code changed (or that got one) since the moment
        is read by ChangedSince with its stock, though no stock moved: the
        article under its new number reached the shop without stock."""
        async with traps.session() as session:
            rpc = session.rpc
            unit = await rpc.model(
                "product.uom", "search", [["symbol", "=", "u"]], 0, 1, None
            )
            (template,) = await rpc.model(
                "product.template",
                "create",
                [
                    {
                        "name": "Renumbered",
                        "type": "goods",
                        "default_uom": unit[0],
                        "list_price": Decimal(1),
                        "products": [["create", [{"suffix_code": "RN-1"}]]],
                    }
                ],
            )
            (product,) = await rpc.model(
                "product.product", "search", [["template", "=", template]]
            )
            await set_stock(rpc, await storage_location(rpc), {product: 4})
            await anyio.sleep(0.01)
            moment = datetime.now(UTC)
            await rpc.model(
                "product.product", "write", [product], {"suffix_code": "RN-2"}
            )
        try:
            changed = await _read(traps, DataType.STOCK, ChangedSince(moment))
        finally:
            await _drop_code(traps, product)

        assert {"RN-2": 4} == _levels(changed)

    @pytest.mark.anyio
    async def test_weighed_goods_held_in_another_unit(
        self, traps: TrytonErp
    ) -> None:
        """Goods kept in kg and sold in g: 2.5 kg on hand less 750 g on
        a waiting shipment is 1.75 kg available, 1 rounded down; sold
        past what is on hand, the level is negative (rounded down)."""
        async with traps.session() as session:
            rpc = session.rpc
            product = await flour(rpc, "KG-1")
            await sell(rpc, product, 750, unit="g")
        try:
            held = await _read(traps, DataType.STOCK, Only(["KG-1"]))
            async with traps.session() as session:
                await sell(session.rpc, product, 2000, unit="g")
            oversold = await _read(traps, DataType.STOCK, Only(["KG-1"]))
        finally:
            await _drop_code(traps, product)

        assert ({"KG-1": 1}, {"KG-1": -1}) == (
            _levels(held),
            _levels(oversold),
        )

    @pytest.mark.anyio
    async def test_a_new_order_holds_stock(
        self, traps_server: dict[str, Any], traps: TrytonErp
    ) -> None:
        """A sale confirmed after the moment is found as a stock change and
        holds its units; cancelling its shipment frees them again."""
        products = traps_server["products"]
        await anyio.sleep(0.01)
        moment = datetime.now(UTC)
        async with traps.session() as session:
            sale = await sell(session.rpc, products["SHIRT-S"], 2)

        changed = await _read(traps, DataType.STOCK, ChangedSince(moment))

        async with traps.session() as session:
            (row,) = await session.rpc.read("sale.sale", [sale], ["shipments"])
            await session.rpc.model(
                "stock.shipment.out", "cancel", row["shipments"]
            )
        after = await _read(traps, DataType.STOCK, Only(["SHIRT-S"]))

        assert {"SHIRT-S": TRAP_STOCK["SHIRT-S"] - 2} == _levels(changed)
        assert {"SHIRT-S": TRAP_STOCK["SHIRT-S"]} == _levels(after)


class TestOptions:
    """
    TrytonErp's stock options are checked at construction.
    """

    @pytest.mark.parametrize("codes", [(), [""], [1]])
    def test_bad_stock_warehouses(self, codes: Any) -> None:
        """stock_warehouses must be non-empty warehouse codes."""
        with pytest.raises(ConfigurationError):
            TrytonErp(
                "http://erp", "db", "admin", "pw", stock_warehouses=codes
            )

    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("timeout", 0),
            ("timeout", -5),
            ("timeout", float("nan")),
            ("timeout", "60"),
            ("confirm_orders", "no"),
            ("gross_prices", "false"),
            ("stock_per_warehouse", 1),
            ("acknowledge_warnings", None),
            ("warehouse", ""),
            ("tax_rate", "x"),
            ("tax_rate", "NaN"),
            ("tax_rate", float("inf")),
            ("tax_rate", -19),
            ("tax_rate", True),
        ],
    )
    def test_setting_out_of_range_refused(
        self, setting: str, value: Any
    ) -> None:
        """A setting out of its range is a ConfigurationError naming it
        (confirm_orders="no" counted as true, tax_rate="x" raised a bare
        InvalidOperation, a NaN rate was reported for every article)."""
        with pytest.raises(
            ConfigurationError, match=f"TrytonErp {setting} must be"
        ):
            TrytonErp("http://erp", "db", "admin", "pw", **{setting: value})

    @pytest.mark.parametrize("position", [1, 2, 3])
    def test_empty_login_refused(self, position: int) -> None:
        """An empty database, user or password is refused naming it."""
        login = ["db", "admin", "pw"]
        login[position - 1] = ""
        names = {1: "database", 2: "user", 3: "password"}

        with pytest.raises(ConfigurationError, match=names[position]):
            TrytonErp("http://erp", *login)

    def test_documented_tax_rate_forms_taken(self) -> None:
        """A tax rate given as a number or a text becomes a Decimal."""
        rates = [
            TrytonErp("http://erp", "db", "u", "pw", tax_rate=r).tax_rate
            for r in (7, 7.0, "7", Decimal("7.0"), 0)
        ]

        assert [Decimal(7)] * 4 + [Decimal(0)] == rates

    def test_one_code(self) -> None:
        """A single code is taken as one warehouse."""
        erp = TrytonErp(
            "http://erp", "db", "admin", "pw", stock_warehouses="WH"
        )

        assert ("WH",) == erp.stock_warehouses
