"""
Whether the sale of an order imported again still holds the order as the
shop has it: a field the shop changed since the import (its digest on the
sale's marks attachment differs, `_tryton_shop_order`) that the sale does
not hold fails the order on it; what the merchant edited in the sale (a
price, a quantity, an address, an article renumbered) is no change in the
shop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import attrs

from .._model import Order
from .._record_checks import minor_unit
from ._tryton_parties import Parties
from ._tryton_rpc import Rpc
from ._tryton_sales import (
    DISCOUNT_LINE,
    SHIPPING_LINE,
    SaleRejected,
    marks_attachment,
)
from ._tryton_shop_order import (
    CUSTOMER,
    FIELDS,
    ORDER_MARK,
    order_digests,
    order_note,
    recorded_digests,
)


@attrs.define
class SaleCheck:
    """
    `OrderImporter`'s comparison of an order imported again with its
    sale, for one session.
    """

    _rpc: Rpc
    _parties: Parties
    #: The order's unit prices as an import books them.
    _unit_prices: Callable[[Order], Awaitable[list[Decimal]]]
    #: Tryton's price digits, once `_unit_prices` read them.
    _price_places: Callable[[], int | None]
    #: Currency codes by id, read once a session (not once an order).
    _currencies: dict[int, str] = attrs.field(factory=dict)

    async def compare(self, order: Order, sale: int, row: Any) -> None:
        """
        Make sure sale *sale* (*row*: its ``number``, its `MARK_FIELDS`
        and ``notes.`` messages) holds *order* as the shop has it.  A field
        whose digest is the one recorded at the import is the shop's as
        it was: unchanged, costing no read.  One the shop changed fails
        the order on it unless the sale holds the shop's new value (the
        merchant made the change by hand); then the shop's order as it
        is now is recorded, so a later edit of the merchant's is told
        from the shop's.  A sale imported before its order was recorded
        is compared whole, its addresses by the digests an earlier
        version kept in its comment.  The shop's order as it is now is
        recorded on the marks attachment, which *row* has (`SaleMarks.
        adopt`).
        """
        recorded, _ = recorded_digests(row)
        now = order_digests(order)
        suspects = [f for f in FIELDS if recorded.get(f) != now[f]]
        if not suspects:
            return
        changed, said = await self._held_otherwise(order, sale, suspects)
        if changed is not None:
            name = f"Tryton sale {row.get('number') or ''} (id {sale})"
            detail = f": {said}" if said else ""
            raise SaleRejected(
                f"order {order.number} changed in the shop after its "
                f"import ({changed}{detail}), {name} holds it as imported: "
                f"change the sale by hand",
                changed,
            )
        # the attachment's, not a write on the sale: that would touch
        # the sale's write date, which order status reads changes by.
        # The customer as recorded stays (the party took it then)
        customer = {k: v for k, v in recorded.items() if k in CUSTOMER}
        message = order_note(order, customer)
        attachment = marks_attachment(row)
        assert attachment is not None  # `SaleMarks.adopt` gave it one
        kept = (attachment.get("description") or "").splitlines()
        lines = [ln for ln in kept if not ln.startswith(ORDER_MARK)]
        await self._rpc.model(
            "ir.attachment",
            "write",
            [int(attachment["id"])],
            {"description": "\n".join([*lines, message])},
        )

    async def _held_otherwise(
        self, order: Order, sale: int, suspects: list[str]
    ) -> tuple[str | None, str | None]:
        """
        The first of *suspects* (fields of *order*) that sale *sale*
        holds otherwise than the shop has it now, with what differs where
        that is said (an address's fields, never their values: the
        failure ledger keeps no customer's street); ``None`` where it
        holds them all.
        """
        (sold,) = await self._rpc.read(
            "sale.sale",
            [sale],
            [
                "lines",
                "total_amount",
                "invoice_address",
                "shipment_address",
                "currency",
            ],
        )
        lines: list[dict[str, Any]] = []
        if {"lines", "shipping_total", "discount_total"} & set(suspects):
            # the price digits the charges were booked to, read once
            await self._unit_prices(order)
            lines = await self._rpc.read(
                "sale.line",
                sold["lines"],
                ["type", "product", "quantity", "description", "unit_price"],
            )
        for field in suspects:
            said: str | None = None
            if field == "lines":
                held = await self._lines_held(order, lines)
            elif field == "currency":
                # the same figure in another currency is another total
                held = await self._currency_code(sold["currency"]) == (
                    order.currency
                )
            elif field in ("billing", "shipping"):
                address = (
                    order.billing if field == "billing" else order.shipping
                )
                key = (
                    "invoice_address"
                    if field == "billing"
                    else ("shipment_address")
                )
                said = await self._parties.address_differences(
                    sold[key], address, field
                )
                held = said is None
            elif field == "total":
                held = Decimal(
                    str(sold["total_amount"])
                ) == order.total.quantize(minor_unit(order.currency))
            else:
                held = self._charge_held(order, field, lines)
            if not held:
                return field, said
        return None, None

    async def _lines_held(
        self, order: Order, lines: list[dict[str, Any]]
    ) -> bool:
        """
        Whether the sale's *lines* hold *order*'s articles with their
        quantities and unit prices (as the import booked them, to
        Tryton's price digits): prices moved between lines leave the
        total as it was.
        """
        products = {
            p["id"]: p["code"]
            for p in await self._rpc.read(
                "product.product",
                sorted({ln["product"] for ln in lines if ln.get("product")}),
                ["code"],
            )
        }
        booked = sorted(
            (
                products.get(ln["product"]) or "",
                Decimal(str(ln["quantity"])),
                Decimal(str(ln.get("unit_price") or 0)),
            )
            for ln in lines
            if ln.get("type") == "line" and ln.get("product")
        )
        wanted = sorted(
            (line.article_number, Decimal(line.quantity), price)
            for line, price in zip(
                order.lines, await self._unit_prices(order), strict=True
            )
        )
        return booked == wanted

    def _charge_held(
        self, order: Order, field: str, lines: list[dict[str, Any]]
    ) -> bool:
        """
        Whether the sale's *lines* charge *order*'s shipping
        (``shipping_total``) or discount (``discount_total``): a
        free-shipping voucher dropped in the shop leaves the total as it
        was, not the sale's shipping and discount lines.
        """
        label, amount = (
            (SHIPPING_LINE, order.shipping_total)
            if field == "shipping_total"
            else (DISCOUNT_LINE, -order.discount_total)
        )
        charged = sum(
            (
                Decimal(str(ln["quantity"]))
                * Decimal(str(ln.get("unit_price") or 0))
                for ln in lines
                if not ln.get("product") and ln.get("description") == label
            ),
            Decimal(0),
        )
        places = self._price_places()
        quantum = Decimal(1).scaleb(-(places if places is not None else 4))
        unit = minor_unit(order.currency)
        # as `charges` booked it: to the price digits, then the unit
        kept = amount.quantize(quantum, ROUND_HALF_EVEN)
        return charged.quantize(unit) == kept.quantize(unit)

    async def _currency_code(self, currency: int) -> str:
        if currency not in self._currencies:
            (row,) = await self._rpc.read(
                "currency.currency", [currency], ["code"]
            )
            self._currencies[currency] = str(row["code"])
        return self._currencies[currency]
