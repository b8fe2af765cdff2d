"""
The party of an order's customer in Tryton, found again by the shop's
customer number: it follows the name and e-mail the shop has for the
customer, and keeps what the merchant edited.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from ecomsync import Order
from ecomsync.erp._tryton_rpc import Rpc
from ecomsync.erp.tryton import TrytonErp, TrytonError
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


async def test_a_sale_refused_leaves_the_party_as_the_shop_sent_it(
    tryton: TrytonErp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An order with the customer's new name and e-mail whose sale Tryton
    refuses leaves the party as it was, so the shop's next change still
    reaches it; before, the party took the refused order's name, no
    sale recorded it as the shop's, and the next change was kept back as
    if the merchant had edited the party."""
    first = make_order()
    refused = _renamed(first, last_name="Schmidt", email="erika@example.org")
    third = _renamed(first, last_name="Meier", email="meier@example.org")
    model = Rpc.model

    async def refusing(
        self: Rpc, name: str, method: str, *args: Any, **kw: Any
    ) -> Any:
        if (name, method) == ("sale.sale", "quote"):
            raise TrytonError("UserError", "The sale cannot be quoted.")
        return await model(self, name, method, *args, **kw)

    async with tryton.session() as session:
        (one,) = await session.import_orders([first])
        with monkeypatch.context() as patch:
            patch.setattr(Rpc, "model", refusing)
            (two,) = await session.import_orders([refused])
        (three,) = await session.import_orders([third])
    party = await _party(tryton, three.platform_id)

    assert one.error is None, one
    assert "The sale cannot be quoted." in (two.error or ""), two
    assert ("Erika Meier", "meier@example.org") == (
        party["name"],
        party["email"],
    )


async def test_an_older_order_imported_late_leaves_the_newer_name(
    tryton: TrytonErp,
) -> None:
    """An order the customer placed before their newest one, imported
    after it (a retry, a backlog), leaves the party with the name and
    e-mail of the newest order; before, the sale imported last counted
    as the newest and the party took the older name back.  A still newer
    order's name is then followed again."""
    newer = attrs.evolve(
        _renamed(make_order(), last_name="Schmidt", email="s@example.org"),
        ordered_at=make_order().ordered_at + timedelta(days=2),
    )
    older = attrs.evolve(
        _renamed(newer, last_name="Mustermann", email="m@example.org"),
        ordered_at=newer.ordered_at - timedelta(days=1),
    )
    newest = attrs.evolve(
        _renamed(newer, last_name="Meier", email="meier@example.org"),
        ordered_at=newer.ordered_at + timedelta(hours=1),
    )
    async with tryton.session() as session:
        (one,) = await session.import_orders([newer])
        (two,) = await session.import_orders([older])
        after_older = await _party(tryton, two.platform_id)
        (three,) = await session.import_orders([newest])
    party = await _party(tryton, three.platform_id)

    assert (None, None, None) == (one.error, two.error, three.error)
    assert ("Erika Schmidt", "s@example.org") == (
        after_older["name"],
        after_older["email"],
    )
    assert ("Erika Meier", "meier@example.org") == (
        party["name"],
        party["email"],
    )


async def test_a_naive_order_time_fails_that_order_alone(
    tryton: TrytonErp,
) -> None:
    """An order placed at a naive time (no UTC offset) of a customer
    with a sale fails on ``ordered_at``, and makes no sale; the order
    after it in the call is imported.  Before, the whole call raised
    TypeError (comparing it with the party's last order)."""
    first = make_order()
    naive = attrs.evolve(
        _renamed(first, last_name="Schmidt"),
        ordered_at=first.ordered_at.replace(tzinfo=None) + timedelta(days=1),
    )
    after = _renamed(first, last_name="Meier")
    async with tryton.session() as session:
        await session.import_orders([first])
        bad, good = await session.import_orders([naive, after])
        sales = await session.rpc.model(
            "sale.sale", "search_count", [["reference", "=", naive.number]]
        )

    assert ("ordered_at", "must be timezone-aware") == (bad.field, bad.error)
    assert 0 == sales
    assert good.ok
