"""
The party of an order's customer in Tryton, found again by the shop's
customer number: it follows the name and e-mail the shop has for the
customer, and keeps what the merchant edited.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from ecomsync import Order
from ecomsync.erp.tryton import TrytonErp
from ecomsync.testing._erp_contract import make_order


pytestmark = [pytest.mark.anyio, pytest.mark.tryton]


def _renamed(first: Order, **changes: str) -> Order:
    """A new order of *first*'s customer, changed in the shop."""
    return attrs.evolve(
        make_order(), customer=attrs.evolve(first.customer, **changes)
    )


async def _party(erp: TrytonErp, sale: str | None) -> dict[str, Any]:
    async with erp.session() as session:
        (row,) = await session.rpc.read(
            "sale.sale", [int(sale or 0)], ["party"]
        )
        (party,) = await session.rpc.read(
            "party.party", [row["party"]], ["name", "email"]
        )
    return party


async def test_name_and_email_changed_in_the_shop_reach_the_party(
    tryton: TrytonErp,
) -> None:
    """A customer who changed their name and e-mail in the shop has them
    on their party once their next order is imported (customers move
    from the shop to the ERP), still one party; before, the party kept
    the first order's for ever."""
    first = make_order()
    second = _renamed(first, last_name="Schmidt", email="erika@example.org")
    async with tryton.session() as session:
        outcomes = await session.import_orders([first, second])
    party = await _party(tryton, outcomes[1].platform_id)

    assert all(o.ok for o in outcomes), outcomes
    assert ("Erika Schmidt", "erika@example.org") == (
        party["name"],
        party["email"],
    )
    assert party == await _party(tryton, outcomes[0].platform_id)


async def test_name_the_merchant_edited_on_the_party_stays(
    tryton: TrytonErp,
) -> None:
    """A party name the merchant edited in Tryton stays when the shop
    changes the customer's name; the e-mail the merchant left as the
    shop sent it follows the shop."""
    first = make_order()
    second = _renamed(first, last_name="Schmidt", email="erika@example.org")
    async with tryton.session() as session:
        (one,) = await session.import_orders([first])
        (row,) = await session.rpc.read(
            "sale.sale", [int(one.platform_id or 0)], ["party"]
        )
        await session.rpc.model(
            "party.party",
            "write",
            [row["party"]],
            {"name": "Dr. Erika Mustermann"},
        )
        (two,) = await session.import_orders([second])
    party = await _party(tryton, two.platform_id)

    assert (None, None) == (one.error, two.error), two
    assert ("Dr. Erika Mustermann", "erika@example.org") == (
        party["name"],
        party["email"],
    )
