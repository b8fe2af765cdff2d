"""
An order imported into Tryton again (its status changed in the shop, a
manual rerun): what the shop sent at the import tells the merchant's
edits of the sale in Tryton from a change in the shop.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import attrs
import pytest

from ecomsync import DataType, Only, Order, OrderState
from ecomsync.erp._tryton_rpc import Rpc
from ecomsync.erp._tryton_sales import (
    MARK_FIELDS,
    addresses_line,
    sale_mark,
    sale_marks,
    sale_platform,
)
from ecomsync.erp._tryton_shop_order import (
    order_digests,
    order_note,
    recorded_digests,
)
from ecomsync.erp.tryton import TrytonErp
from ecomsync.testing._erp_contract import make_order

from .conftest import make_erp


pytestmark = [pytest.mark.anyio, pytest.mark.tryton]


@pytest.fixture(name="drafts")
async def _drafts(
    tryton_server: dict[str, Any], tryton: TrytonErp
) -> AsyncIterator[TrytonErp]:
    """The seeded live Tryton, its imported sales left drafts."""
    erp = make_erp(tryton_server, confirm_orders=False)
    yield erp
    await erp.aclose()


async def _edit_shirt_line(erp: TrytonErp, sale: str) -> None:
    """The merchant books 3 shirts at 35.00 on the draft *sale*, by hand."""
    async with erp.session() as session:
        (row,) = await session.rpc.read("sale.sale", [int(sale)], ["lines"])
        lines = await session.rpc.read("sale.line", row["lines"], ["quantity"])
        (shirts,) = [ln["id"] for ln in lines if ln["quantity"] == 2]
        await session.rpc.model(
            "sale.line",
            "write",
            [shirts],
            {"quantity": 3.0, "unit_price": Decimal("35.00")},
        )


async def test_price_and_quantity_edited_in_a_draft_are_no_change_in_the_shop(
    drafts: TrytonErp,
) -> None:
    """A quantity and a unit price the merchant edited in the draft sale
    after the import are no change in the shop: the order read again (its
    status changed in the shop) goes through and the sale keeps the
    merchant's edit, where it failed as "changed in the shop" for ever."""
    order = make_order()
    async with drafts.session() as session:
        (first,) = await session.import_orders([order])
    await _edit_shirt_line(drafts, first.platform_id or "")
    async with drafts.session() as session:
        (again,) = await session.import_orders(
            [attrs.evolve(order, state=OrderState.IN_PROGRESS)]
        )
        (row,) = await session.rpc.read(
            "sale.sale", [int(first.platform_id or 0)], ["lines"]
        )
        lines = await session.rpc.read(
            "sale.line", row["lines"], ["quantity", "unit_price"]
        )

    assert (None, first.platform_id) == (again.error, again.platform_id)
    assert (3, Decimal("35.00")) in {
        (ln["quantity"], ln["unit_price"]) for ln in lines
    }


async def test_shop_change_after_a_merchant_edit_names_the_shops_field(
    drafts: TrytonErp,
) -> None:
    """Shipping the shop added to an order whose line the merchant had
    edited in Tryton fails on ``shipping_total``, the field the shop
    changed (not on ``lines``, the merchant's edit)."""
    order = make_order()
    charged = attrs.evolve(
        order, shipping_total="4.90", total=order.total + Decimal("4.90")
    )
    async with drafts.session() as session:
        (first,) = await session.import_orders([order])
    await _edit_shirt_line(drafts, first.platform_id or "")
    async with drafts.session() as session:
        (again,) = await session.import_orders([charged])

    assert "shipping_total" == again.field, again
    assert "changed in the shop" in (again.error or "")
    assert order.number in (again.error or "")


async def _mug(rpc: Rpc, number: str) -> tuple[int, int]:
    """A salable product *number* of its own: its template and product."""
    (unit,) = await rpc.model(
        "product.uom", "search", [["symbol", "=", "u"]], 0, 1, None
    )
    (template,) = await rpc.model(
        "product.template",
        "create",
        [
            {
                "name": "Mug",
                "type": "goods",
                "default_uom": unit,
                "salable": True,
                "sale_uom": unit,
                "list_price": Decimal("5.00"),
                "products": [["create", [{"suffix_code": number}]]],
            }
        ],
    )
    (product,) = await rpc.model(
        "product.product", "search", [["template", "=", template]]
    )
    return int(template), int(product)


def _mug_order(number: str) -> Order:
    order = make_order()
    line = attrs.evolve(
        order.lines[0], article_number=number, unit_price="5.00"
    )
    return attrs.evolve(order, lines=(line,), total="5.00")


async def test_article_renumbered_in_tryton_is_no_change_in_the_shop(
    drafts: TrytonErp,
) -> None:
    """An article the merchant renumbered in Tryton (its product code
    changed) after the import is no change in the shop: the order read
    again goes through, where it failed on ``lines`` for ever."""
    number = f"MUG-{uuid.uuid4().hex[:8]}"
    async with drafts.session() as session:
        rpc = session.rpc
        template, product = await _mug(rpc, number)
        order = _mug_order(number)
        try:
            (first,) = await session.import_orders([order])
            await rpc.model(
                "product.product",
                "write",
                [product],
                {"suffix_code": f"{number}-NEW"},
            )
            (again,) = await session.import_orders(
                [attrs.evolve(order, state=OrderState.IN_PROGRESS)]
            )
        finally:
            # no product of this test stays on the shared server, whose
            # catalog and stock other modules read whole (Tryton deletes
            # only cancelled sales)
            sales = await rpc.model(
                "sale.sale", "search", [["reference", "=", order.number]]
            )
            await rpc.model("sale.sale", "cancel", sales)
            await rpc.model("sale.sale", "delete", sales)
            await rpc.model("product.template", "delete", [template])

    assert first.ok, first
    assert (None, first.platform_id) == (again.error, again.platform_id)


async def test_printed_sale_holds_no_bookkeeping_and_no_unread_note(
    tryton: TrytonErp,
) -> None:
    """The sale as Tryton prints it for the customer (its report) holds
    none of ecomsync's marks, and the sale shows no note, read or unread;
    before, its comment printed 'Platform (ecomsync): "shop"' and the
    shop's order was kept in a note unread to every user.  They are on
    one attachment of the sale, which order status and imports read."""
    order = attrs.evolve(make_order(), platform="shop")
    async with tryton.session() as session:
        rpc = session.rpc
        (first,) = await session.import_orders([order])
        sale = int(first.platform_id or 0)
        _, printed, *_ = await rpc.call(
            "report.sale.sale.execute", [sale], {}, rpc.context
        )
        badges = await rpc.model("sale.sale", "resources", sale)
        (row,) = await rpc.read("sale.sale", [sale], MARK_FIELDS)
        (again,) = await session.import_orders([order])
    # an OpenDocument text (a zip): what the customer is given
    with zipfile.ZipFile(io.BytesIO(bytes(printed))) as document:
        text = document.read("content.xml").decode()

    assert (None, first.platform_id) == (again.error, again.platform_id)
    assert order.number in text  # the printed sale, with its reference
    assert "ecomsync" not in text
    assert (0, 0) == (badges["note_count"], badges["note_unread"])
    assert None is row["comment"]
    assert sale_platform(sale_marks(row)) == "shop"


async def test_sale_of_the_release_with_notes_is_read_and_moved(
    drafts: TrytonErp,
) -> None:
    """A sale the previous release imported (its marks in its comment,
    the shop's order in a note) is still the order's: imported again it
    is found (no second sale), order status reads it for its platform,
    and once the shop made the change the merchant had made by hand, the
    shop's order as it is now moves to the marks attachment, the note
    gone."""
    order = attrs.evolve(make_order(), platform="shop")
    shirts = attrs.evolve(order.lines[1], quantity=3, unit_price=Decimal(35))
    changed = attrs.evolve(
        order, lines=(order.lines[0], shirts), total=Decimal("194.90")
    )
    async with drafts.session() as session:
        rpc = session.rpc
        (first,) = await session.import_orders([order])
        sale = int(first.platform_id or 0)
        (row,) = await rpc.read("sale.sale", [sale], ["attachments"])
        await rpc.model("ir.attachment", "delete", row["attachments"])
        await rpc.model(
            "sale.sale", "write", [sale], {"comment": sale_mark("shop")}
        )
        await rpc.model(
            "ir.note",
            "create",
            [{"resource": f"sale.sale,{sale}", "message": order_note(order)}],
        )
        (again,) = await session.import_orders([order])
        statuses = [
            status
            async for batch in session.read(
                DataType.ORDER_STATUS,
                Only([order.number]),
                batch_size=5,
                platform="shop",
            )
            for status in batch
        ]
    await _edit_shirt_line(drafts, first.platform_id or "")
    async with drafts.session() as session:
        (moved,) = await session.import_orders([changed])
        (row,) = await session.rpc.read(
            "sale.sale", [sale], ["notes", *MARK_FIELDS]
        )

    assert (None, first.platform_id) == (again.error, again.platform_id)
    assert ["shop"] == [status.platform for status in statuses]
    assert (None, first.platform_id) == (moved.error, moved.platform_id)
    assert [] == row["notes"]
    assert "shop" == sale_platform(sale_marks(row))
    recorded, holder = recorded_digests(row)
    assert "ir.attachment" == (holder or ("", 0))[0]
    assert order_digests(changed)["lines"] == recorded["lines"]


async def test_sale_of_an_earlier_release_is_read_and_kept_apart(
    drafts: TrytonErp,
) -> None:
    """A sale imported by an earlier release (the shop's addresses as a
    digest line in its comment, no note) is read as then: an address the
    merchant corrected is no change in the shop; once imported again, a
    price the merchant edits later is none either."""
    order = make_order()
    async with drafts.session() as session:
        rpc = session.rpc
        (first,) = await session.import_orders([order])
        sale = int(first.platform_id or 0)
        (row,) = await rpc.read(
            "sale.sale", [sale], ["attachments", "shipment_address"]
        )
        await rpc.model("ir.attachment", "delete", row["attachments"])
        await rpc.model(
            "sale.sale",
            "write",
            [sale],
            {"comment": f"{sale_mark(None)}\n{addresses_line(order)}"},
        )
        await rpc.model(
            "party.address",
            "write",
            [row["shipment_address"]],
            {"street": "Lieferweg 3a"},
        )
        (corrected,) = await session.import_orders([order])
    await _edit_shirt_line(drafts, first.platform_id or "")
    async with drafts.session() as session:
        (edited,) = await session.import_orders([order])

    assert (None, None) == (corrected.error, edited.error), edited
    assert first.platform_id == edited.platform_id


async def test_unchanged_order_imported_again_costs_one_call(
    tryton: TrytonErp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orders imported again as the shop sent them cost one JSON-RPC call
    each (finding the sale), where each read the sale, its lines, their
    products and its currency; new orders find the currency once a
    session, not once an order."""
    orders = [make_order() for _ in range(3)]
    methods: list[str] = []
    call = Rpc.call

    async def counted(self: Rpc, method: str, *params: object) -> Any:
        methods.append(method)
        return await call(self, method, *params)

    monkeypatch.setattr(Rpc, "call", counted)
    async with tryton.session() as session:
        first = await session.import_orders(orders)
        currency = [m for m in methods if ".currency.currency." in m]
        methods.clear()
        again = await session.import_orders(
            [attrs.evolve(o, state=OrderState.SHIPPED) for o in orders]
        )
        reimport = list(methods)

    assert all(o.ok for o in first + again), first + again
    assert ["model.currency.currency.search"] == currency
    assert ["model.sale.sale.search_read"] * 3 == reimport


async def test_shop_change_the_merchant_made_in_tryton_too_goes_through(
    drafts: TrytonErp,
) -> None:
    """A quantity the shop changed that the merchant had already booked
    in the sale goes through (the sale holds the order as the shop has
    it), and is then the shop's as imported: a price the merchant edits
    later is no change in the shop."""
    order = make_order()
    one, two = order.lines
    more = attrs.evolve(
        order,
        lines=(one, attrs.evolve(two, quantity=3)),
        total=order.total + two.unit_price,
    )
    async with drafts.session() as session:
        rpc = session.rpc
        (first,) = await session.import_orders([order])
        (row,) = await rpc.read(
            "sale.sale", [int(first.platform_id or 0)], ["lines"]
        )
        lines = await rpc.read("sale.line", row["lines"], ["quantity"])
        (shirts,) = [ln["id"] for ln in lines if ln["quantity"] == 2]
        await rpc.model("sale.line", "write", [shirts], {"quantity": 3.0})
        (booked,) = await session.import_orders([more])
        await rpc.model(
            "sale.line", "write", [shirts], {"unit_price": Decimal("35.00")}
        )
        (edited,) = await session.import_orders([more])

    assert (None, None) == (booked.error, edited.error), edited
    assert first.platform_id == edited.platform_id


async def _statuses(erp: TrytonErp, number: str, platform: str) -> list[Any]:
    """The order statuses *platform* reads of order *number*."""
    async with erp.session() as session:
        return [
            status
            async for batch in session.read(
                DataType.ORDER_STATUS,
                Only([number]),
                batch_size=5,
                platform=platform,
            )
            for status in batch
        ]


@pytest.mark.parametrize("where", ["attachment", "comment"])
async def test_sale_whose_marks_were_deleted_is_still_the_orders(
    tryton: TrytonErp, where: str
) -> None:
    """A sale whose marks the merchant deleted (its attachment 'Shop
    order (ecomsync)', or the comment lines of a sale an earlier release
    imported) is still its order's, found by the order number on the
    shop customer's party: imported again, the order gets no second sale
    (before: a second sale, shipped twice), the sale gets its marks back,
    and order status reads it again."""
    order = attrs.evolve(make_order(), platform="shop")
    async with tryton.session() as session:
        rpc = session.rpc
        (first,) = await session.import_orders([order])
        sale = int(first.platform_id or 0)
        (row,) = await rpc.read("sale.sale", [sale], ["attachments"])
        await rpc.model("ir.attachment", "delete", row["attachments"])
        if where == "comment":  # as an earlier release kept them
            await rpc.model(
                "sale.sale",
                "write",
                [sale],
                {"comment": "Gift wrap, please"},
            )
        (again,) = await session.import_orders([order])
        (twice,) = await session.import_orders([order])
        sales = await rpc.search_read(
            "sale.sale",
            [["reference", "=", order.number]],
            ["comment", *MARK_FIELDS],
        )
    statuses = await _statuses(tryton, order.number, "shop")

    assert (None, first.platform_id) == (again.error, again.platform_id)
    assert (None, first.platform_id) == (twice.error, twice.platform_id)
    assert [sale] == [row["id"] for row in sales]
    assert "shop" == sale_platform(sale_marks(sales[0]))
    recorded, holder = recorded_digests(sales[0])
    assert "ir.attachment" == (holder or ("", 0))[0]
    assert order_digests(order)["lines"] == recorded["lines"]
    expected = "Gift wrap, please" if where == "comment" else None
    assert expected == sales[0]["comment"]
    assert ["shop"] == [status.platform for status in statuses]


@pytest.mark.parametrize("release", ["notes", "attachment"])
async def test_marks_of_an_earlier_release_move_off_the_printed_comment(
    tryton: TrytonErp, monkeypatch: pytest.MonkeyPatch, release: str
) -> None:
    """The marks a sale of an earlier release keeps in its comment (which
    Tryton prints for the customer) move to its attachment 'Shop order
    (ecomsync)' when an import next finds the sale, with the shop's order
    its note kept (the note deleted), in one write of the sale; the
    merchant's own comment lines stay, and the import after costs one
    call again."""
    order = attrs.evolve(make_order(), platform="shop")
    comment = (
        f"Gift wrap, please\n{sale_mark('shop')}\n{addresses_line(order)}"
    )
    methods: list[str] = []
    call = Rpc.call

    async def counted(self: Rpc, method: str, *params: object) -> Any:
        methods.append(method)
        return await call(self, method, *params)

    async with tryton.session() as session:
        rpc = session.rpc
        (first,) = await session.import_orders([order])
        sale = int(first.platform_id or 0)
        (row,) = await rpc.read("sale.sale", [sale], ["attachments"])
        if release == "notes":  # the marks in the comment, the order noted
            await rpc.model("ir.attachment", "delete", row["attachments"])
            await rpc.model(
                "ir.note",
                "create",
                [
                    {
                        "resource": f"sale.sale,{sale}",
                        "message": order_note(order),
                    }
                ],
            )
        else:  # the release before: the shop's order moved, not the marks
            await rpc.model(
                "ir.attachment",
                "write",
                row["attachments"],
                {"description": order_note(order)},
            )
        await rpc.model("sale.sale", "write", [sale], {"comment": comment})
        monkeypatch.setattr(Rpc, "call", counted)
        (moved,) = await session.import_orders([order])
        moving = list(methods)
        methods.clear()
        (again,) = await session.import_orders([order])
        after = list(methods)
        monkeypatch.undo()
        (row,) = await rpc.read("sale.sale", [sale], ["notes", *MARK_FIELDS])

    assert (None, None) == (moved.error, again.error), moved
    assert first.platform_id == again.platform_id
    assert "Gift wrap, please" == row["comment"]
    assert [] == row["notes"]
    assert "shop" == sale_platform(sale_marks(row))
    recorded, holder = recorded_digests(row)
    assert "ir.attachment" == (holder or ("", 0))[0]
    assert order_digests(order) == {
        k: v for k, v in recorded.items() if k in order_digests(order)
    }
    assert 1 == moving.count("model.sale.sale.write")
    assert ["model.sale.sale.search_read"] == after
