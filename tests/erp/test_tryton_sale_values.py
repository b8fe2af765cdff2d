"""
What a sale Tryton makes for an order holds, beyond its lines and total:
its date as the company reads its calendar; addresses corrected in
Tryton after the import; failures that name fields, not a customer's
data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

import attrs
import pytest

from ecomsync import OrderState
from ecomsync.erp import _tryton_orders
from ecomsync.erp._tryton_rpc import Rpc
from ecomsync.erp.tryton import TrytonErp, TrytonError
from ecomsync.testing._erp_contract import make_order


pytestmark = [pytest.mark.anyio, pytest.mark.tryton]


@pytest.fixture(name="berlin")
async def _berlin(tryton: TrytonErp) -> AsyncIterator[TrytonErp]:
    """
    The live Tryton with its company in Europe/Berlin (as set in
    Company > Timezone), put back afterwards.
    """
    async with tryton.session() as session:
        company = session.rpc.context["company"]
        (row,) = await session.rpc.read(
            "company.company", [company], ["timezone"]
        )
        await session.rpc.model(
            "company.company",
            "write",
            [company],
            {"timezone": "Europe/Berlin"},
        )
    try:
        yield tryton
    finally:
        async with tryton.session() as session:
            await session.rpc.model(
                "company.company",
                "write",
                [company],
                {"timezone": row.get("timezone")},
            )


async def test_sale_date_is_the_companys_day(berlin: TrytonErp) -> None:
    """An order placed at 00:30 in Berlin (23:30 UTC the day before) is a
    sale of that day in a Tryton whose company is in Europe/Berlin, not of
    the UTC day before (a new year's first orders booked in the old
    one)."""
    order = make_order(ordered_at=datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    late = attrs.evolve(
        make_order(), ordered_at=datetime(2026, 12, 31, 22, 59, tzinfo=UTC)
    )
    async with berlin.session() as session:
        outcomes = await session.import_orders([order, late])
        rows = await session.rpc.read(
            "sale.sale",
            [int(o.platform_id or 0) for o in outcomes],
            ["sale_date"],
        )

    assert all(o.ok for o in outcomes), outcomes
    assert [date(2027, 1, 1), date(2026, 12, 31)] == [
        row["sale_date"] for row in rows
    ]


async def test_an_unknown_company_zone_is_read_once(
    berlin: TrytonErp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the company's time zone is unknown here (no tzdata), every
    order fails naming it and its field, and the company is read once,
    not again for every order."""

    def unknown(name: str) -> tzinfo:
        raise ZoneInfoNotFoundError(name)

    monkeypatch.setattr(_tryton_orders, "ZoneInfo", unknown)
    zone_reads = 0
    read = Rpc.read

    async def counted(
        self: Rpc, model: str, ids: Any, fields: Any, **kw: Any
    ) -> Any:
        nonlocal zone_reads
        zone_reads += model == "company.company" and fields == ["timezone"]
        return await read(self, model, ids, fields, **kw)

    monkeypatch.setattr(Rpc, "read", counted)
    orders = [make_order() for _ in range(3)]
    async with berlin.session() as session:
        outcomes = await session.import_orders(orders)

    assert [("ordered_at", True)] * 3 == [
        (o.field, "'Europe/Berlin' is unknown" in (o.error or ""))
        for o in outcomes
    ]
    assert 1 == zone_reads


async def _correct_street(erp: TrytonErp, sale: str, street: str) -> None:
    """Fix the street of *sale*'s shipment address in Tryton, by hand."""
    async with erp.session() as session:
        (row,) = await session.rpc.read(
            "sale.sale", [int(sale)], ["shipment_address"]
        )
        await session.rpc.model(
            "party.address",
            "write",
            [row["shipment_address"]],
            {"street": street},
        )


async def test_address_corrected_in_tryton_is_no_change_in_the_shop(
    tryton: TrytonErp,
) -> None:
    """An address the merchant corrected in Tryton after the import (a
    typo fixed on the party's address) is no change in the shop: the
    order imported again as the shop still has it goes through, where it
    failed as "changed in the shop" on ``shipping``."""
    order = make_order()
    async with tryton.session() as session:
        (first,) = await session.import_orders([order])
    await _correct_street(tryton, first.platform_id or "", "Lieferweg 3a")
    async with tryton.session() as session:
        (again,) = await session.import_orders(
            [attrs.evolve(order, state=OrderState.IN_PROGRESS)]
        )

    assert (None, None) == (first.error, again.error), again
    assert first.platform_id == again.platform_id


async def test_address_changed_in_the_shop_names_what_differs(
    tryton: TrytonErp,
) -> None:
    """An address the shop changed after the import (the merchant had
    corrected it in Tryton too) fails on ``shipping``, naming the field
    that differs and neither street: the failure ledger keeps no
    customer's address."""
    order = make_order()
    moved = attrs.evolve(
        order, shipping=attrs.evolve(order.shipping, street="Neuer Weg 9")
    )
    async with tryton.session() as session:
        (first,) = await session.import_orders([order])
    await _correct_street(tryton, first.platform_id or "", "Lieferweg 3a")
    async with tryton.session() as session:
        (again,) = await session.import_orders([moved])

    assert "shipping" == again.field, again
    assert "shipping.street differs from the sale's address in Tryton" in (
        again.error or ""
    )
    assert "Neuer Weg" not in (again.error or "")
    assert "Lieferweg" not in (again.error or "")


async def test_tryton_words_reach_a_host_without_personal_data(
    tryton: TrytonErp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tryton refusing a sale in words that quote the customer's e-mail
    and name fails the order, for a host importing directly (no run to
    clean them), with the fields in their place."""
    order = make_order()
    email, name = order.customer.email, "Erika Mustermann"
    model = Rpc.model

    async def refusing(
        self: Rpc, model_: str, method: str, *a: Any, **kw: Any
    ) -> Any:
        if (model_, method) == ("sale.sale", "create"):
            raise TrytonError(
                "UserError",
                f'The email address "{email}" for party "{name}" is not '
                "valid.",
            )
        return await model(self, model_, method, *a, **kw)

    monkeypatch.setattr(Rpc, "model", refusing)
    async with tryton.session() as session:
        (outcome,) = await session.import_orders([order])

    assert (
        'The email address "<customer.email>" for party '
        '"<customer.first_name> <customer.last_name>" is not valid.'
    ) in (outcome.error or ""), outcome
    assert email not in (outcome.error or "")
