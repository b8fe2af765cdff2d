"""
The products an order's lines are booked on in Tryton: found by article
number among the active ones, and salable.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import attrs
import pytest

from ecomsync.erp.tryton import TrytonErp
from ecomsync.testing._erp_contract import make_order


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
