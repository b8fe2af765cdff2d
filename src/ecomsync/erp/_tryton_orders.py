"""
Importing orders into Tryton: each platform order becomes a confirmed
``sale.sale`` whose reference is the platform's order number (found again
by it, so importing is idempotent), its customer a party found by the
shop's customer number (a party identifier), with the order's addresses.
Both carry the order's platform (``Order.platform``): a line of the sale's
marks (`MARKS_ATTACHMENT`), the identifier ``platform:number``, so two
platforms' order "1001" and customer "1" stay apart; one made before
(unmarked) is matched as then, and marked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import UTC, date, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
import attrs

from .._contracts import Outcome
from .._model import Order, OrderState
from .._personal import redact, redact_error
from .._record_checks import minor_unit, problems
from ..exceptions import RetryableError, SyncError
from ._tryton_compare import SaleCheck
from ._tryton_marks import ADOPT_FIELDS, SaleMarks
from ._tryton_parties import Parties
from ._tryton_read import ALL
from ._tryton_rpc import Rpc, TrytonError
from ._tryton_sales import (
    PARTY_CODE_FIELDS,
    SaleRejected,
    charges,
    customer_sales,
    marks_values,
    own_sales,
    refuse_reopened,
    sale_mark,
    the_sale,
)
from ._tryton_shop_order import order_note
from ._tryton_stock import StockReader


if TYPE_CHECKING:
    from .tryton import TrytonErp


@attrs.define
class OrderImporter:
    """
    `ErpSession.import_orders` for one Tryton session.
    """

    _erp: TrytonErp
    _rpc: Rpc
    _stock: StockReader
    #: Decimal places of a sale line's unit price (Tryton's price digits).
    _price_places: int | None = None
    #: The company's time zone (Company > Timezone), UTC without one;
    #: its name where it is unknown here (read once, every order fails).
    _zone: tzinfo | str | None = None
    #: Currency ids by code, found once a session (not once an order).
    _currency_ids: dict[str, int] = attrs.field(factory=dict)
    _parties: Parties = attrs.field(init=False)
    _marks: SaleMarks = attrs.field(init=False)
    _check: SaleCheck = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._parties = Parties(self._erp, self._rpc)
        self._marks = SaleMarks(self._rpc, self._parties)
        self._check = SaleCheck(
            self._rpc,
            self._parties,
            self._unit_prices,
            lambda: self._price_places,
        )

    async def import_orders(self, orders: Sequence[Order]) -> list[Outcome]:
        outcomes = []
        for order in orders:
            outcomes.append(await self._import_one(order))
        return outcomes

    async def _import_one(self, order: Order) -> Outcome:
        bad = problems(order)
        if bad:
            return Outcome(
                number=order.number, error=bad[0].reason, field=bad[0].field
            )
        # Tryton's words may quote the customer's name or e-mail; a host
        # importing directly (no run to clean them) would log them
        try:
            async with self._erp._claimed(f"order:{order.number}"):
                outcome = await self._import_claimed(order)
        except Exception as exc:
            redact_error(exc, [order])
            raise
        if outcome.error is None:
            return outcome
        return attrs.evolve(outcome, error=redact(outcome.error, [order]))

    async def _import_claimed(self, order: Order) -> Outcome:
        try:
            # with their parties' identifiers, in this call: a sale whose
            # marks the merchant deleted is still found (`customer_sales`)
            found = await self._rpc.search_read(
                "sale.sale",
                [["reference", "=", order.number]],
                [
                    "state",
                    "number",
                    "party",
                    *ADOPT_FIELDS,
                    *PARTY_CODE_FIELDS,
                ],
                order=[["id", "ASC"]],
            )
            existing = own_sales(order, found) or customer_sales(order, found)
            if existing:
                for row in existing:
                    await self._marks.adopt(order, row)
                await self._marks.mark_platform(order, existing)
                row = the_sale(order, existing)
                sale = int(row["id"])
                if order.state is OrderState.CANCELLED:
                    await self._cancel(order, sale, row)
                else:
                    refuse_reopened(order, sale, row)
                    await self._check.compare(order, sale, row)
                    await self._finish(order, sale, row["state"])
                return Outcome(number=order.number, platform_id=str(sale))
            sale = await self._create_sale(order)
        except SaleRejected as exc:
            return Outcome(
                number=order.number, error=str(exc), field=exc.field
            )
        except TrytonError as exc:
            if exc.kind not in ("UserError", "UserWarning"):
                raise
            return Outcome(number=order.number, error=str(exc))
        return Outcome(number=order.number, platform_id=str(sale))

    async def _finish(self, order: Order, sale: int, state: str) -> None:
        """
        Confirm a sale an earlier import created and did not get to
        confirm (the process died in between, or the run was cancelled):
        left a draft, the order would never ship.  That import may not
        have checked its total either (`_check_total`): a sale Tryton
        totals otherwise fails on it and stays a draft, as an import
        that got to the check leaves none.
        """
        if not self._erp.confirm_orders or order.state is OrderState.CANCELLED:
            return
        steps = {"draft": ["quote", "confirm"], "quotation": ["confirm"]}
        todo = steps.get(state, [])
        if todo:
            await self._check_total(
                order,
                sale,
                f"sale {sale} not confirmed; correct the draft in Tryton "
                "(it is then confirmed), or delete it",
            )
        for step in todo:
            await self._with_warnings(
                partial(self._rpc.model, "sale.sale", step, [sale])
            )

    async def _cancel(self, order: Order, sale: int, row: Any) -> None:
        """
        Cancel the sale of an order cancelled in the shop after its
        import.  Tryton cancels a draft or quotation, and a confirmed sale
        once put back to draft; a sale it processed (its shipment made)
        it cannot cancel: the order fails on its state until the merchant
        cancelled the sale's shipments (nothing left to ship).
        """
        state = row["state"]
        steps = {
            "draft": ["cancel"],
            "quotation": ["cancel"],
            "confirmed": ["draft", "cancel"],
        }
        if state == "cancelled":
            return
        if state in steps:
            for step in steps[state]:
                await self._with_warnings(
                    partial(self._rpc.model, "sale.sale", step, [sale])
                )
            return
        (sold,) = await self._rpc.read("sale.sale", [sale], ["moves"])
        moves = await self._rpc.read("stock.move", sold["moves"], ["state"])
        left = [m for m in moves if m["state"] != "cancelled"]
        if not left:  # the merchant cancelled what was to ship
            await self._marks.mark_cancelled(order, row)
            return
        name = f"Tryton sale {row.get('number') or ''} (id {sale})"
        if any(m["state"] == "done" for m in left):
            returned = await self._rpc.model(
                "sale.sale",
                "search_count",
                [
                    ["origin", "=", f"sale.sale,{sale}"],
                    ["state", "!=", "cancelled"],
                ],
            )
            if returned:  # the merchant made its return sale
                await self._marks.mark_cancelled(order, row)
                return
            advice = (
                "it has shipped: take the goods back by hand with a "
                "return sale (Sale > Return Sale)"
            )
        else:
            advice = (
                "Tryton cannot cancel a sale it processed: cancel its "
                "customer shipments by hand before they leave"
            )
        raise SaleRejected(
            f"order {order.number} was cancelled in the shop, but {name} "
            f"is {state}; {advice}",
            "state",
        )

    async def _with_warnings(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """
        Run *call*; acknowledge a Tryton warning once if configured to.
        """
        try:
            return await call()
        except TrytonError as exc:
            if exc.kind != "UserWarning" or not self._erp.acknowledge_warnings:
                raise
            await self._rpc.model(
                "res.user.warning",
                "create",
                [
                    {
                        "user": self._rpc.user_id,
                        "name": exc.warning,
                        "always": False,
                    }
                ],
            )
            return await call()

    async def _create_sale(self, order: Order) -> int:
        warehouse = await self._stock.order_warehouse()
        currency = await self._currency(order.currency)
        prices = await self._unit_prices(order)
        products = await self._products(order)
        lines = []
        for line, price in zip(order.lines, prices, strict=True):
            product = products[line.article_number]
            lines.append(
                {
                    "type": "line",
                    "product": product["id"],
                    "description": line.name,
                    "quantity": float(line.quantity),
                    # the unit the shop sells by: its stock and list price
                    # are sent in it (a sale unit of g for goods kept in
                    # kg booked the shop's 1 kg as 1 g)
                    "unit": product["default_uom"],
                    "unit_price": price,
                }
            )
        lines += charges(order, prices, self._price_places)
        values = {
            "company": self._rpc.context["company"],
            "currency": currency,
            "warehouse": warehouse["id"],
            "reference": order.number,
            "sale_date": await self._sale_date(order),
            "invoice_method": "manual",
            "shipment_method": "order",
            "lines": [["create", lines]],
            # the marks say ecomsync made the sale (order status reads
            # only such), and for which platform; the shop's order as
            # sent tells the merchant's edits in Tryton from a change in
            # the shop.  On an attachment: Tryton prints the comment on
            # the sale's documents (sale/sale.fodt), and a note would be
            # unread to every user
            "attachments": [
                [
                    "create",
                    [
                        marks_values(
                            None,
                            f"{sale_mark(order.platform)}\n"
                            f"{order_note(order)}",
                        )
                    ],
                ]
            ],
        }
        # the party last: an order refused before its sale is made
        # leaves no party of a new customer behind
        # the customer's party is found or made, and its sale booked, by
        # one session at a time: a party without a sale yet is no
        # ecomsync party to a second order of a new customer at once
        async with self._erp._claimed(f"customer:{order.customer.number}"):
            customer = await self._parties.customer(order)
            party, billing, shipping, made, owed, undo = customer
            values |= {
                "party": party,
                "invoice_address": billing,
                "shipment_address": shipping,
            }
            try:
                sale = await self._book(order, values)
            except (TrytonError, RetryableError, SaleRejected):
                if made:  # nor one made for a sale now gone (unsold, a
                    # retry would take it for the merchant's: another)
                    with anyio.CancelScope(shield=True), suppress(SyncError):
                        await self._rpc.model("party.party", "delete", [party])
                # a party found keeps what it held: no sale's note says
                # the shop sent its new name (`Parties.customer`)
                with anyio.CancelScope(shield=True):
                    for call in undo:
                        with suppress(SyncError):
                            await call()
                raise
            if owed is not None:
                await self._parties.give_id(party, owed)
            return sale

    async def _book(self, order: Order, values: dict[str, Any]) -> int:
        """
        Create the sale of *values* for *order* and take it through the
        steps the order's state asks for.
        """
        (sale,) = await self._with_warnings(
            partial(self._rpc.model, "sale.sale", "create", [values])
        )
        steps = ["quote", "confirm"] if self._erp.confirm_orders else []
        if order.state is OrderState.CANCELLED:
            steps = ["cancel"]
        try:
            await self._check_total(order, sale)
            for step in steps:
                await self._with_warnings(
                    partial(self._rpc.model, "sale.sale", step, [sale])
                )
        except (TrytonError, RetryableError, SaleRejected):
            # leave nothing half-done: a draft with this reference would
            # make the next import believe the order is in.  Tryton only
            # deletes cancelled sales.
            with anyio.CancelScope(shield=True), suppress(SyncError):
                await self._rpc.model("sale.sale", "cancel", [sale])
                await self._rpc.model("sale.sale", "delete", [sale])
            raise
        return int(sale)

    async def _check_total(
        self, order: Order, sale: int, then: str = "not imported"
    ) -> None:
        """
        Make sure the sale Tryton made comes to the order's total (a
        module that adds taxes or charges of its own would change it);
        *then* says what becomes of it otherwise.
        """
        (row,) = await self._rpc.read("sale.sale", [sale], ["total_amount"])
        booked = Decimal(str(row["total_amount"]))
        expected = order.total.quantize(minor_unit(order.currency))
        if booked != expected:
            raise SaleRejected(
                f"Tryton's sale comes to {booked} {order.currency}, the "
                f"order to {expected}: {then}",
                "total",
            )

    async def _sale_date(self, order: Order) -> date:
        """
        The day *order* was placed on the company's calendar (its time
        zone, as Tryton's own "today"): by UTC, a Berlin order at 00:30
        was a sale of the day before, a new year's first orders booked in
        the old one.  UTC where the company has no time zone.
        """
        if self._zone is None:
            company = self._rpc.context["company"]
            (row,) = await self._rpc.read(
                "company.company", [company], ["timezone"]
            )
            name = row.get("timezone")
            try:
                self._zone = ZoneInfo(name) if name else UTC
            except (ZoneInfoNotFoundError, ValueError):
                self._zone = str(name)
        if isinstance(self._zone, str):
            raise SaleRejected(
                f"the Tryton company's time zone {self._zone!r} is unknown "
                "here (install tzdata): the order's sale date is not known",
                "ordered_at",
            )
        return order.ordered_at.astimezone(self._zone).date()

    async def _currency(self, code: str) -> int:
        if code not in self._currency_ids:
            found = await self._rpc.model(
                "currency.currency",
                "search",
                [["code", "=", code]],
                0,
                1,
                None,
            )
            if not found:
                raise SaleRejected(
                    f"Tryton has no currency {code!r}", "currency"
                )
            self._currency_ids[code] = int(found[0])
        return self._currency_ids[code]

    async def _unit_prices(self, order: Order) -> list[Decimal]:
        """
        The lines' unit prices with no more decimal places than Tryton
        keeps (a shop's line total over its quantity, 10.00 / 3, has
        endless ones): rounded there when each line's amount stays the
        same to the currency's smallest unit (a fils for KWD, as
        `charges` and `_check_total` count), else the line fails on its
        unit price.
        """
        if self._price_places is None:
            fields = await self._rpc.model(
                "sale.line", "fields_get", ["unit_price"]
            )
            digits = (fields.get("unit_price") or {}).get("digits")
            places = digits[1] if isinstance(digits, list | tuple) else None
            self._price_places = places if isinstance(places, int) else 4
        places = self._price_places
        quantum = Decimal(1).scaleb(-places)
        unit = minor_unit(order.currency)
        prices = []
        for i, line in enumerate(order.lines):
            price = line.unit_price
            exponent = price.as_tuple().exponent
            if not isinstance(exponent, int) or exponent >= -places:
                prices.append(price)  # fits as it is
                continue
            price = price.quantize(quantum, ROUND_HALF_EVEN)
            if (price * line.quantity).quantize(unit) != (
                line.unit_price * line.quantity
            ).quantize(unit):
                raise SaleRejected(
                    f"unit price {line.unit_price} has more than the "
                    f"{places} decimal places Tryton keeps, and "
                    f"rounding it would change the line's amount",
                    f"lines.{i}.unit_price",
                )
            prices.append(price)
        return prices

    async def _products(self, order: Order) -> dict[str, dict[str, Any]]:
        """
        The product of each line's article number: the active one, which
        Tryton sells.  An article the merchant deactivated, or made not
        salable, while the shop still sold it fails its line saying so
        (not "no article"; Tryton's own refusal names no line).
        """
        numbers = sorted({line.article_number for line in order.lines})
        rows = await self._rpc.search_read(
            "product.product",
            [["code", "in", numbers]],
            ["code", "default_uom", "active", "template.active", "salable"],
            order=[["id", "DESC"]],
            context=ALL,
        )
        found: dict[str, dict[str, Any]] = {}
        off: dict[str, int] = {}
        for row in rows:
            template = row.get("template.") or {}
            if row.get("active") and template.get("active", True):
                found[row["code"]] = row  # one: Tryton keeps codes unique
            else:
                off.setdefault(row["code"], int(row["id"]))  # the newest
        for i, line in enumerate(order.lines):
            number = line.article_number
            held = found.get(number)
            if held is None and number in off:
                problem = (
                    f"article {number!r} is inactive in Tryton (product id "
                    f"{off[number]}): activate it again to import the order"
                )
            elif held is None:
                problem = f"Tryton has no active article {number!r}"
            elif not held.get("salable"):
                problem = (
                    f"article {number!r} is not salable in Tryton (product "
                    f"id {held['id']}): tick Salable on it to import the order"
                )
            else:
                continue
            raise SaleRejected(problem, f"lines.{i}.article_number")
        return found
