"""
Orders in (with billing and shipping addresses, by ``modified_after``)
and order statuses out (a status update and an order note per tracking
number).

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial

import attrs

from ..._anyio_util import concurrently
from ..._contracts import Outcome, Outgoing, Refusal
from ..._model import (
    Address,
    Customer,
    Order,
    OrderLine,
    OrderState,
    OrderStatus,
    number_key,
)
from ..._spec import All, ChangedSince, NumberRange, Only, Selection
from ._client import MAX_PER_PAGE, RestApi, WooApiError
from ._common import Row, fail
from ._order_numbers import (
    NOT_PLACED,
    by_number,
    id_holders,
    number_of,
    refusal,
    shared_numbers,
    twins,
)
from ._order_payment import STATE_META, awaiting_payment, unpaid
from ._refunds import amount_of, sum_refunds


#: ERP order states as WooCommerce order statuses; WooCommerce has no
#: "shipped": a shipped order is ``completed``.
STATUS_OF = {
    OrderState.OPEN: "processing",
    OrderState.IN_PROGRESS: "processing",
    OrderState.SHIPPED: "completed",
    OrderState.COMPLETED: "completed",
    OrderState.CANCELLED: "cancelled",
}
#: The ERP states of an order not shipped yet, and the WooCommerce
#: statuses of one: these tell where its payment is (``processing`` is
#: paid, ``pending``, ``on-hold`` and ``failed`` are not), which the
#: ERP's state does not know, so either ERP state leaves them as they
#: are; an order the shop ``completed`` goes back to ``processing``.
NOT_SHIPPED = frozenset({OrderState.OPEN, OrderState.IN_PROGRESS})
NOT_SHIPPED_STATUSES = frozenset(
    {"pending", "on-hold", "failed", "processing"}
)
#: A ``failed`` order (payment declined) is open, not cancelled: WooCommerce
#: lets the customer pay it again (``woocommerce_valid_order_statuses_for_
#: payment`` is ``pending`` and ``failed``), and a cancellation would reach
#: the ERP.
STATE_OF = {
    "pending": OrderState.OPEN,
    "on-hold": OrderState.OPEN,
    "failed": OrderState.OPEN,
    "processing": OrderState.IN_PROGRESS,
    "completed": OrderState.COMPLETED,
    "cancelled": OrderState.CANCELLED,
    "refunded": OrderState.CANCELLED,
}
#: Order meta the adapter keeps: the ERP's state (`STATE_META`, to tell
#: shipped from completed) and the tracking numbers already announced.
TRACKING_META = "_ecomsync_tracking"


@attrs.frozen
class Orders:
    """
    Reads orders and writes their statuses.
    """

    api: RestApi

    async def _holders(self, number: str, linked: str | None) -> list[Row]:
        """
        The orders holding *number*: the order whose id it is, or the
        one an earlier push of its status landed on (*linked*), if it
        holds the number (one request, as a shop numbering by id has
        it); else those a look-up by number finds (`by_number`: a
        search where a numbering plugin is seen; none in the trash), and
        for a plugin's number none holds, those in the trash.  Two of
        them: a number twins hold.
        """
        by_id: list[Row] = []
        for oid in dict.fromkeys(i for i in (number, linked) if i):
            if not oid.isdigit():
                continue
            try:
                row: Row = (await self.api.call("GET", f"orders/{oid}")).json()
            except WooApiError as exc:
                if exc.status == 404:
                    continue
                raise
            if number_of(row) == number:
                return [row]
            if oid == number:
                by_id.append(row)
        found = await by_number(
            self.api, Only([number]), by_id if number.isdigit() else None
        )
        placed = [r for r in found if str(r.get("status")) not in NOT_PLACED]
        if placed or number.isdigit():
            return placed
        # a plugin's number no order holds: the search (status "any")
        # leaves out the trash, so look there too, or a trashed order
        # fails as "does not exist" (one request, only on this failure)
        trashed = await self.api.call(
            "GET",
            "orders",
            params={
                "status": "trash",
                "search": number,
                "per_page": str(MAX_PER_PAGE),
            },
        )
        return [
            r
            for r in trashed.json() or []
            if isinstance(r, dict) and number_of(r) == number
        ]

    async def push_statuses(self, items: Sequence[Outgoing]) -> list[Outcome]:
        """
        Write *items*; one outcome each.  The orders side by side
        (within the adapter's requests in flight; the first failure
        raised as itself), the items of one number one after the other:
        each reads what the one before wrote.
        """
        outcomes: list[Outcome | None] = [None] * len(items)
        by_number: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            by_number.setdefault(item.record.number, []).append(i)

        async def one_order(indexes: list[int]) -> None:
            for i in indexes:
                outcomes[i] = await self._push_status(items[i])

        await concurrently(
            *(partial(one_order, ixs) for ixs in by_number.values())
        )
        return [o for o in outcomes if o is not None]

    async def _push_status(self, item: Outgoing) -> Outcome:
        status = item.record
        if not isinstance(status, OrderStatus):
            return fail(status.number, "not an order status")
        holders = await self._holders(status.number, item.platform_id)
        if not holders:
            return fail(
                status.number,
                f"order {status.number} does not exist in WooCommerce",
                "number",
            )
        if len(holders) > 1:
            # the ERP's order may be either: writing one could ship the
            # other customer's order
            ids = sorted(int(r["id"]) for r in holders)
            return fail(
                status.number, twins(status.number, ids, "written"), "number"
            )
        (order,) = holders
        oid = int(order["id"])
        current = str(order.get("status"))
        if current == "trash":
            # any status takes it out of the trash, and the customer
            # hears of it (a completed order is mailed); a cancelled one
            # may stay there
            if status.state is OrderState.CANCELLED:
                return Outcome(number=status.number, platform_id=str(oid))
            return fail(
                status.number,
                f"order {status.number} is in the trash in WooCommerce, "
                f"the ERP has it {status.state.value}: not restored; "
                "restore it in WooCommerce by hand, or cancel it in the ERP",
                "state",
            )
        if (
            STATE_OF.get(current) is OrderState.CANCELLED
            and status.state is not OrderState.CANCELLED
        ):
            # the shop cancelled it since the ERP last read it: saying
            # "shipped" now would reopen it unseen
            return fail(
                status.number,
                f"order {status.number} is {current} in WooCommerce, the "
                f"ERP has it {status.state.value}: not reopened; cancel it "
                f"in the ERP, or reopen it in WooCommerce by hand",
                "state",
            )
        meta = {
            m.get("key"): m.get("value")
            for m in order.get("meta_data") or []
            if isinstance(m, dict)
        }
        announced = list(meta.get(TRACKING_META) or [])
        new = [
            t
            for t in dict.fromkeys(status.tracking_numbers)
            if t not in announced
        ]
        if new:
            # a note posted before the order's meta recorded it (its
            # answer lost, the process gone) is on the order already
            posted = await self._notes(oid)
            unsent = [t for t in new if _note(t) not in posted]
        else:
            unsent = []
        target = STATUS_OF[status.state]
        if STATE_OF.get(current) is status.state:
            target = current  # refunded or failed stays so when cancelled
        elif status.state in NOT_SHIPPED and current in NOT_SHIPPED_STATUSES:
            # WooCommerce's status says where the payment is (processing:
            # paid, date_paid set; pending: unpaid, cancelled once its
            # stock hold runs out); the ERP's open or in progress says
            # nothing of it
            target = current
        body: Row = {}
        if order.get("status") != target:
            body["status"] = target
        if meta.get(STATE_META) != status.state.value or new:
            body["meta_data"] = [
                {"key": STATE_META, "value": status.state.value},
                {"key": TRACKING_META, "value": announced + new},
            ]
        try:
            for number in unsent:
                await self._post_note(oid, _note(number))
            if body:
                await self.api.call("PUT", f"orders/{oid}", json=body)
        except WooApiError as exc:
            return fail(status.number, str(exc), "state")
        return Outcome(number=status.number, platform_id=str(oid))

    async def _notes(self, oid: int) -> set[str]:
        """
        The texts of the order's customer notes.
        """
        rows = (
            await self.api.call(
                "GET", f"orders/{oid}/notes", params={"type": "customer"}
            )
        ).json()
        return {
            str(row.get("note") or "").strip()
            for row in rows or []
            if isinstance(row, dict)
        }

    async def _post_note(self, oid: int, text: str) -> None:
        """
        Post the customer note *text* once: WooCommerce mails the customer
        each note, and a note whose answer was lost (a timeout after the
        shop saved it) may be there, so a retry looks first.
        """

        async def post() -> str:
            await self.api.call(
                "POST",
                f"orders/{oid}/notes",
                json={"note": text, "customer_note": True},
                retry=False,
            )
            return text

        async def posted() -> str | None:
            return text if text in await self._notes(oid) else None

        await self.api.http.policy.call(post, confirm=posted)

    # -- orders in ----------------------------------------------------------

    async def fetch(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order | Refusal]]:
        """
        Yield the selected orders, oldest id first; ``ChangedSince`` reads
        ``modified_after`` with ``dates_are_gmt=true`` (exclusive, so one
        second earlier) and keeps what changed at or after the moment;
        ``Only`` reads the orders by id and, where a numbering plugin is
        seen, searches each number (`by_number`).
        """
        params = {"status": "any"}
        since: datetime | None = None
        if isinstance(selection, ChangedSince):
            since = selection.moment.astimezone(UTC)
            params["modified_after"] = (
                (since - timedelta(seconds=1)).replace(tzinfo=None).isoformat()
            )
            params["dates_are_gmt"] = "true"
        per_page = max(1, min(batch_size, MAX_PER_PAGE))
        # the first order read of each number: WooCommerce keeps numbers
        # unique, numbering plugins need not (a counter reset, a start
        # below the ids), and the ERP knows an order by its number
        holders: dict[str, int] = {}
        refused: set[str] = set()
        if isinstance(selection, Only):
            found = await by_number(self.api, selection)
            pages = [
                found[k : k + per_page] for k in range(0, len(found), per_page)
            ]
            for rows in pages:
                batch = await self._batch(
                    rows, selection, since, holders, refused
                )
                if batch:
                    yield batch
            return
        async for rows in self.api.pages("orders", params, per_page=per_page):
            batch = await self._batch(rows, selection, since, holders, refused)
            if batch:
                yield batch

    async def _batch(
        self,
        rows: Sequence[Row],
        selection: Selection,
        since: datetime | None,
        holders: dict[str, int],
        refused: set[str],
    ) -> list[Order | Refusal]:
        """
        The selected orders of one page read, each number two orders
        hold refused once; every order read counts as a holder.
        """
        batch: list[Row | Refusal] = []
        placed = [r for r in rows if str(r.get("status")) not in NOT_PLACED]
        await id_holders(self.api, placed, holders)
        shared = shared_numbers(placed, holders)
        for row in placed:
            number = number_of(row)
            # every row counts as a holder, but an order the
            # selection left out is neither imported nor refused
            if not _selected(selection, number, row, since):
                continue
            if number in shared:
                if number not in refused:
                    refused.add(number)
                    batch.append(refusal(number, shared[number]))
                continue
            if awaiting_payment(row):
                # refused where the ERP has it, or was asked for it
                batch += unpaid(number, row, asked=isinstance(selection, Only))
                continue
            batch.append(_fractional(number, row) or row)
        # an order lists its refunds without their items: one more
        # request for each that has any, side by side
        refunds: dict[int, list[Row]] = {}

        async def read(row: Row) -> None:
            refunds[int(row["id"])] = await self._refunds(row)

        await concurrently(
            *(
                partial(read, r)
                for r in batch
                if isinstance(r, dict) and r.get("refunds")
            )
        )
        return [
            _order_of(r, refunds.get(int(r["id"]), ()))
            if isinstance(r, dict)
            else r
            for r in batch
        ]

    async def _refunds(self, row: Row) -> list[Row]:
        """
        The order's refunds with their line items and shipping
        (``GET orders/<id>/refunds``).
        """
        found: list[Row] = []
        async for rows in self.api.pages(
            f"orders/{int(row['id'])}/refunds", {}, per_page=MAX_PER_PAGE
        ):
            found += [r for r in rows if isinstance(r, dict)]
        return found

    # -- media --------------------------------------------------------------


def _fractional(number: str, row: Row) -> Refusal | None:
    """
    A refusal of the order *row* if a line's quantity is not a whole
    number: WooCommerce counts in units, but a decimal-quantity plugin
    makes it 1.5 (kg), which a unit count would cut to 1 at the price
    of 1.5, the order's total still matching.
    """
    for k, line in enumerate(row.get("line_items") or []):
        quantity = line.get("quantity") or 0
        try:
            whole = Decimal(str(quantity)) % 1 == 0
        except InvalidOperation:
            whole = False
        if not whole:
            return Refusal(
                number=number,
                field=f"lines.{k}.quantity",
                reason=(
                    f"order {number}: line {line.get('name')!r} has the "
                    f"quantity {quantity!r}, not a whole number of units "
                    "(a decimal-quantity plugin?); ecomsync imports "
                    "orders in whole units"
                ),
            )
    return None


def _note(number: str) -> str:
    """
    The customer note that tells a tracking number.
    """
    return f"Tracking number: {number}"


def _address(data: Row) -> Address:
    street = " ".join(
        s for s in (data.get("address_1"), data.get("address_2")) if s
    )
    return Address(
        first_name=str(data.get("first_name") or ""),
        last_name=str(data.get("last_name") or ""),
        street=street,
        zip_code=str(data.get("postcode") or ""),
        city=str(data.get("city") or ""),
        country=str(data.get("country") or "").upper(),
        company=str(data.get("company") or ""),
        phone=str(data.get("phone") or ""),
    )


def _order_of(row: Row, refunds: Sequence[Row] = ()) -> Order:
    billing_raw = row.get("billing") or {}
    shipping_raw = row.get("shipping") or {}
    billing = _address(billing_raw)
    shipping = (
        _address(shipping_raw)
        if shipping_raw.get("address_1") or shipping_raw.get("last_name")
        else billing
    )
    number = number_of(row)
    customer_id = int(row.get("customer_id") or 0)
    customer = Customer(
        number=str(customer_id) if customer_id else f"guest-{number}",
        email=str(billing_raw.get("email") or ""),
        first_name=billing.first_name,
        last_name=billing.last_name,
        addresses=(billing,) if billing == shipping else (billing, shipping),
    )
    refunded = sum_refunds(refunds)
    # a refunded unit takes its share of the coupons with it
    coupons_back = Decimal(0)
    lines = []
    for line in row.get("line_items") or []:
        # gross before coupons (`OrderLine`): WooCommerce spreads a
        # coupon over the lines' ``total``; ``subtotal`` is the line
        # before it (both net, their tax beside them)
        quantity = int(line.get("quantity") or 0)
        gross = amount_of(line.get("subtotal")) + amount_of(
            line.get("subtotal_tax")
        )
        # WooCommerce keeps a line's quantity when it is refunded: the
        # units the customer still buys are what its refunds left
        units = refunded.units.get(int(line.get("id") or 0), 0)
        if units and quantity:
            paid = amount_of(line.get("total")) + amount_of(
                line.get("total_tax")
            )
            coupons_back += (gross - paid) / quantity * min(units, quantity)
            if units >= quantity:
                continue  # refunded whole: no order line any more
        lines.append(
            OrderLine(
                article_number=str(line.get("sku") or ""),
                name=str(line.get("name") or ""),
                quantity=quantity - units,
                unit_price=gross / quantity if quantity else gross,
            )
        )
    created = str(row.get("date_created_gmt") or "")
    ordered_at = (
        datetime.fromisoformat(created).replace(tzinfo=UTC)
        if created
        else datetime.now(UTC)
    )
    return Order(
        number=number,
        customer=customer,
        billing=billing,
        shipping=shipping,
        lines=tuple(lines),
        # what the customer paid less what was refunded
        total=amount_of(row.get("total")) - refunded.money,
        # gross: WooCommerce keeps shipping and coupons net, tax beside;
        # fee lines are not modelled (the order fails on its total)
        shipping_total=amount_of(row.get("shipping_total"))
        + amount_of(row.get("shipping_tax"))
        - refunded.shipping,
        # money refunded without items ships everything, for less: an
        # order-level discount; the coupons of refunded units, each
        # rounded on its own, may come out a cent over the order's
        discount_total=max(
            amount_of(row.get("discount_total"))
            + amount_of(row.get("discount_tax"))
            - coupons_back,
            Decimal(0),
        )
        + refunded.money_alone,
        ordered_at=ordered_at,
        currency=str(row.get("currency") or "EUR"),
        state=STATE_OF.get(str(row.get("status")), OrderState.OPEN),
    )


def _selected(
    selection: Selection, number: str, row: Row, since: datetime | None
) -> bool:
    if isinstance(selection, All):
        return True
    if isinstance(selection, Only):
        return number in selection.numbers
    if isinstance(selection, NumberRange):
        key = number_key(number)
        return number_key(selection.first) <= key <= number_key(selection.last)
    modified = str(row.get("date_modified_gmt") or "")
    if since is None or not modified:
        return True
    return datetime.fromisoformat(modified).replace(tzinfo=UTC) >= since
