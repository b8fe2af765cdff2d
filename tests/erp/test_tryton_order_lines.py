"""
The products an order's lines are booked on in Tryton: found by article
number among the active ones, and salable.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import attrs
import pytest

from ecomsync.erp.tryton import TrytonErp
from ecomsync.testing._erp_contract import make_order

from .conftest import make_erp


pytestmark = [pytest.mark.anyio, pytest.mark.tryton]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"active": False}, "is inactive in Tryton"),
        ({"salable": False}, "is not salable in Tryton"),
    ],
)
async def test_line_of_an_article_tryton_does_not_sell(
    tryton: TrytonErp, change: dict[str, bool], said: str
) -> None:
    """An order line for an article deactivated in Tryton, or no longer
    salable there, while the shop still sold it fails on that line's
    article number saying so (not "no article", nor Tryton's domain error
    naming no line), and the order makes no sale."""
    number = f"OFF-{uuid.uuid4().hex[:8]}"
    async with tryton.session() as session:
        rpc = session.rpc
        (unit,) = await rpc.model(
            "product.uom", "search", [["symbol", "=", "u"]], 0, 1, None
        )
        templates = await rpc.model(
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
        await rpc.model("product.template", "write", templates, change)
        order = make_order()
        line = attrs.evolve(
            order.lines[0], article_number=number, unit_price="5.00"
        )
        order = attrs.evolve(
            order, lines=(order.lines[1], line), total="84.98"
        )
        (outcome,) = await session.import_orders([order])
        sales = await rpc.model(
            "sale.sale", "search", [["reference", "=", order.number]]
        )
        # no product of this test stays on the shared server, whose
        # catalog and stock other modules read whole
        await rpc.model("product.template", "delete", templates)

    assert ("lines.1.article_number", []) == (outcome.field, sales)
    assert f"article {number!r} {said}" in (outcome.error or ""), outcome


async def test_line_of_a_number_an_inactive_product_had_before(
    tryton_server: dict[str, Any], tryton: TrytonErp
) -> None:
    """An article number Tryton has twice, on an inactive product (a
    retired article) and on the active one that took the number over,
    books the order's line on the active product, and the order imported
    again is the same sale."""
    number = f"TWIN-{uuid.uuid4().hex[:8]}"
    # drafts: Tryton deletes only a cancelled sale, and cancels no
    # processed one
    drafts = make_erp(tryton_server, confirm_orders=False)
    async with drafts.session() as session:
        rpc = session.rpc
        (unit,) = await rpc.model(
            "product.uom", "search", [["symbol", "=", "u"]], 0, 1, None
        )
        template = {
            "name": "Mug",
            "type": "goods",
            "default_uom": unit,
            "salable": True,
            "sale_uom": unit,
            "list_price": Decimal("5.00"),
            "products": [["create", [{"suffix_code": number}]]],
        }
        (old,) = await rpc.model("product.template", "create", [template])
        retired = await rpc.model(
            "product.product", "search", [["template", "=", old]]
        )
        # Tryton keeps codes unique among active products only
        await rpc.model("product.product", "write", retired, {"active": False})
        await rpc.model("product.template", "write", [old], {"active": False})
        (new,) = await rpc.model("product.template", "create", [template])
        (active,) = await rpc.model(
            "product.product", "search", [["template", "=", new]]
        )
        order = make_order()
        line = attrs.evolve(
            order.lines[0], article_number=number, unit_price="5.00"
        )
        order = attrs.evolve(order, lines=(line,), total="5.00")
        try:
            (first,) = await session.import_orders([order])
            (again,) = await session.import_orders([order])
            (sale,) = await rpc.read(
                "sale.sale", [int(first.platform_id or 0)], ["lines"]
            )
            (booked,) = await rpc.read("sale.line", sale["lines"], ["product"])
        finally:
            # no product of this test stays on the shared server, whose
            # catalog and stock other modules read whole
            sales = await rpc.model(
                "sale.sale", "search", [["reference", "=", order.number]]
            )
            await rpc.model("sale.sale", "cancel", sales)
            await rpc.model("sale.sale", "delete", sales)
            await rpc.model("product.template", "delete", [old, new])
    await drafts.aclose()

    assert (None, None) == (first.error, again.error), again
    assert first.platform_id == again.platform_id
    assert active == booked["product"]
