"""
Orders in (``updated_at`` query, cursor paging, a page size the cost
limit allows) and status out through fulfillment orders.

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anyio
import attrs

from ..._contracts import Outcome, Outgoing
from ..._model import (
    Address,
    Customer,
    Order,
    OrderLine,
    OrderState,
    OrderStatus,
)
from ..._spec import All, ChangedSince, NumberRange, Only, Selection
from ._catalogue import fail, user_errors
from ._client import MAX_QUERY_COST, GraphQL, Row


#: Line items read per order with the order page (an order with more is
#: read in full by follow-up queries, `MORE_LINES` at a time).  A line
#: costs 8 points (its money and tax lines), so 10 keeps a page at 10
#: orders under the 1,000-point query maximum; 25 would allow only 4.
LINES = 10
_ADDRESS = (
    "firstName lastName company address1 address2 zip city countryCodeV2 phone"
)
_LINE_PAGE = """pageInfo { hasNextPage endCursor } nodes { sku name quantity
  currentQuantity originalUnitPriceSet { presentmentMoney { amount } }
  discountedTotalSet { presentmentMoney { amount } }
  taxLines { priceSet { presentmentMoney { amount } } } }"""
ORDERS = f"""
query($n: Int, $after: String, $q: String) {{
  orders(first: $n, after: $after, sortKey: UPDATED_AT, query: $q) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ id name createdAt updatedAt cancelledAt presentmentCurrencyCode
      taxesIncluded
      totalPriceSet {{ presentmentMoney {{ amount }} }}
      currentTotalPriceSet {{ presentmentMoney {{ amount }} }}
      totalShippingPriceSet {{ presentmentMoney {{ amount }} }}
      totalRefundedShippingSet {{ presentmentMoney {{ amount }} }}
      currentTotalDiscountsSet {{ presentmentMoney {{ amount }} }}
      currentTotalTaxSet {{ presentmentMoney {{ amount }} }}
      customer {{ id email firstName lastName }}
      billingAddress {{ {_ADDRESS} }}
      shippingAddress {{ {_ADDRESS} }}
      lineItems(first: {LINES}) {{ {_LINE_PAGE} }} }}
  }}
}}
"""
#: One order's cost in ORDERS: the order, customer, two addresses, six
#: money bags (2 each), and the line connection (2 + 8 per line: the
#: line, two money bags, the tax lines with their money bag).
ORDER_COST = 1 + 1 + 2 + 6 * 2 + 2 + LINES * 8
#: Line items per follow-up query for an order with more than `LINES`.
MORE_LINES = 100
MORE_LINES_QUERY = f"""
query($id: ID!, $after: String) {{ order(id: $id) {{
  lineItems(first: {MORE_LINES}, after: $after) {{ {_LINE_PAGE} }} }} }}
"""
#: Orders a status's search reads: Shopify's search is a text search, so
#: it may answer orders of other names too; the one named exactly is the
#: status's.
NAMED = 5
FULFILLMENT_ORDERS = f"""
query($q: String) {{ orders(first: {NAMED}, query: $q) {{ nodes {{ id name
  cancelledAt fulfillmentOrders(first: 10) {{ nodes {{ id status }} }}
  fulfillments(first: 10) {{ id trackingInfo {{ number company }} }} }} }} }}
"""
#: One order's cost in FULFILLMENT_ORDERS: the order, its fulfillment
#: order connection (2 + 10), its fulfilments (1 + 10 each with their
#: tracking).
STATUS_ORDER_COST = 1 + 2 + 10 + 1 + 10
CANCEL = """
mutation($id: ID!) {
  orderCancel(orderId: $id, reason: OTHER, refund: false, restock: true,
              notifyCustomer: false) {
    job { id done } orderCancelUserErrors { field message code } } }
"""
#: Shopify cancels an order in a job after ``orderCancel`` answers.
JOB = "query($id: ID!) { job(id: $id) { id done } }"
#: Seconds before each poll of a cancellation job (about 8 s in all).
JOB_WAITS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
FULFIL = """
mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
  fulfillment { id } userErrors { field message code } } }
"""
TRACK = """
mutation($id: ID!, $t: FulfillmentTrackingInput!) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $t,
                                notifyCustomer: false) {
    fulfillment { id } userErrors { field message code } } }
"""


def page_size(batch_size: int) -> int:
    """
    Orders per page: the batch size, at most 250 and at most what keeps
    the query under the single-query maximum.
    """
    return max(1, min(batch_size, 250, (MAX_QUERY_COST - 2) // ORDER_COST))


def _address(row: Row | None, fallback: Row | None) -> Address:
    """
    An order's address; one the order lacks (no shipping address for
    digital goods) is its other one, and a country the shop did not give
    stays blank (the order then fails on it) instead of being made up.
    """
    row = row or fallback or {}
    street = " ".join(
        x for x in (row.get("address1"), row.get("address2")) if x
    )
    return Address(
        first_name=row.get("firstName") or "",
        last_name=row.get("lastName") or "",
        street=street,
        zip_code=row.get("zip") or "",
        city=row.get("city") or "",
        country=(row.get("countryCodeV2") or "").upper(),
        company=row.get("company") or "",
        phone=row.get("phone") or "",
    )


def _money(bag: Row | None) -> Decimal:
    if not bag:
        return Decimal(0)
    return Decimal(str(bag["presentmentMoney"]["amount"]))


def _current(li: Row) -> int:
    """
    A line's units after refunds and removals (order edits):
    ``currentQuantity``; ``quantity`` stays what was first ordered.
    """
    current = li.get("currentQuantity")
    return int(li["quantity"] if current is None else current)


def _part(li: Row) -> Decimal:
    """
    The share of a line's money that its current units carry: Shopify's
    line amounts (``discountedTotalSet``, ``taxLines``) include refunded
    and removed units.
    """
    quantity = int(li["quantity"])
    return Decimal(_current(li)) / quantity if quantity else Decimal(1)


def _line(li: Row, *, taxes_included: bool) -> OrderLine:
    """
    A line at its gross price after line-level discounts (`OrderLine`):
    ``discountedTotalSet`` (which leaves out order-level and code-based
    discounts) plus, where the shop's prices exclude tax, the line's tax
    lines, over the quantity first ordered (both amounts include refunded
    and removed units), for the units the line still holds
    (``currentQuantity``).  Shopify computes a tax-exclusive shop's tax
    after every discount, so there the tax part already reflects an
    order-level discount.
    """
    quantity = int(li["quantity"])
    gross = _money(li.get("discountedTotalSet"))
    if not taxes_included:
        gross += sum(
            (_money(t.get("priceSet")) for t in li.get("taxLines") or []),
            Decimal(0),
        )
    return OrderLine(
        article_number=li.get("sku") or "",
        name=li["name"],
        quantity=_current(li),
        unit_price=gross / quantity if quantity else gross,
    )


def _charges(row: Row, *, taxes_included: bool) -> tuple[Decimal, Decimal]:
    """
    The order's gross shipping and its order-level discounts, after
    refunds and removals.

    Shipping is ``totalShippingPriceSet`` (before shipping discounts,
    which Shopify counts among the order's discounts) less what was
    refunded of it (``totalRefundedShippingSet``), plus, where prices
    exclude tax, the tax that is not on a line (``currentTotalTaxSet``
    less the current units' tax lines).  Not ``currentShippingPriceSet``:
    that is after the shipping discounts, which the discounts count
    too, so an order with a shipping discount and a refund would fail
    on ``total``.  The discount is ``currentTotalDiscountsSet`` less what
    the lines' own discounts took from their current units (their
    original less their discounted totals): code-based and order-level
    discounts, shipping discounts.  Shopify rounds every figure to the
    cent on its own, so with no order-level discount that difference can
    come out a cent or so below zero; it is then none (0).  The lines'
    discounted totals, not the discount, carry the lines' discounts, and
    the order's money check weighs them against its total, so an order
    whose figures do not agree fails there, on ``total``, with every
    figure named.
    """
    lines = row["lineItems"]["nodes"]
    shipping = _money(row.get("totalShippingPriceSet")) - _money(
        row.get("totalRefundedShippingSet")
    )
    if not taxes_included:
        line_tax = sum(
            (
                _money(t.get("priceSet")) * _part(li)
                for li in lines
                for t in li.get("taxLines") or []
            ),
            Decimal(0),
        )
        # the order's tax and its lines' tax lines are rounded on their
        # own: a cent below the lines' is no negative shipping tax
        shipping += max(
            _money(row.get("currentTotalTaxSet")) - line_tax, Decimal(0)
        )
    line_discounts = sum(
        (
            _money(li.get("originalUnitPriceSet")) * _current(li)
            - _money(li.get("discountedTotalSet")) * _part(li)
            for li in lines
        ),
        Decimal(0),
    )
    discount = _money(row.get("currentTotalDiscountsSet")) - line_discounts
    return shipping, max(discount, Decimal(0))


def to_order(row: Row) -> Order:
    customer = row.get("customer") or {}
    taxes_included = bool(row.get("taxesIncluded", True))
    shipping, discount = _charges(row, taxes_included=taxes_included)
    return Order(
        number=str(row["name"]).lstrip("#"),
        customer=Customer(
            number=str(customer.get("id") or row["id"]),
            email=customer.get("email") or "",
            first_name=customer.get("firstName") or "",
            last_name=customer.get("lastName") or "",
        ),
        billing=_address(
            row.get("billingAddress"), row.get("shippingAddress")
        ),
        shipping=_address(
            row.get("shippingAddress"), row.get("billingAddress")
        ),
        # a line refunded or removed to nothing is no order line any more
        lines=tuple(
            _line(li, taxes_included=taxes_included)
            for li in row["lineItems"]["nodes"]
            if _current(li) > 0
        ),
        # what the customer pays after refunds and removals
        total=_money(row.get("currentTotalPriceSet")),
        shipping_total=shipping,
        discount_total=discount,
        ordered_at=datetime.fromisoformat(row["createdAt"]).astimezone(UTC),
        # what the customer paid, in their currency (Shopify Markets):
        # shopMoney and currencyCode are the shop's conversion of it
        currency=row["presentmentCurrencyCode"],
        # a cancelled order has its cancellation time (Shopify's Order
        # object); other states are the ERP's to say
        state=OrderState.CANCELLED
        if row.get("cancelledAt")
        else OrderState.OPEN,
    )


def _fulfilled(row: Row, fos: Sequence[str], tracking: Sequence[str]) -> bool:
    """
    Whether the order *row* holds the fulfilment a lost
    ``fulfillmentCreate`` for *fos* made: not cancelled, *fos* closed and
    a fulfilment carrying every one of *tracking* (any fulfilment without
    tracking numbers).  Closed by a cancellation, or fulfilled by hand
    with other numbers, is not ours.
    """
    if row.get("cancelledAt") or any(
        f["id"] in fos and f["status"] in ("OPEN", "IN_PROGRESS")
        for f in row["fulfillmentOrders"]["nodes"]
    ):
        return False
    return any(
        set(tracking)
        <= {t["number"] for t in f.get("trackingInfo") or [] if t["number"]}
        for f in row.get("fulfillments") or []
    )


def _wanted(selection: Selection, number: str) -> bool:
    if isinstance(selection, NumberRange):
        return number in selection
    if isinstance(selection, Only):
        return number in selection.numbers
    return True


@attrs.define
class Orders:
    api: GraphQL

    async def fetch(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order]]:
        query = None
        if isinstance(selection, ChangedSince):
            moment = selection.moment.astimezone(UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            query = f"updated_at:>='{moment}'"
        elif isinstance(selection, Only):
            query = " OR ".join(
                f"name:'#{n}'" for n in sorted(selection.numbers)
            )
        elif not isinstance(selection, (All, NumberRange)):
            raise TypeError(f"unknown selection {selection!r}")
        n = page_size(batch_size)
        after: str | None = None
        while True:
            data = await self.api.call(
                ORDERS,
                {"n": n, "after": after, "q": query},
                cost=2 + n * ORDER_COST,
                what="orders",
            )
            page = data["orders"]
            for row in page["nodes"]:
                await self._all_lines(row)
            orders = [to_order(r) for r in page["nodes"]]
            orders = [o for o in orders if _wanted(selection, o.number)]
            for i in range(0, len(orders), batch_size):
                yield orders[i : i + batch_size]
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    async def _all_lines(self, row: Row) -> None:
        """
        Read the rest of an order's line items into *row* when the page
        held only its first `LINES` (a missing line would fail the order
        on its total).
        """
        lines = row["lineItems"]
        info = lines.get("pageInfo") or {}
        while info.get("hasNextPage"):
            data = await self.api.call(
                MORE_LINES_QUERY,
                {"id": row["id"], "after": info["endCursor"]},
                cost=1 + 2 + MORE_LINES * 8,
                what="orders",
            )
            more = data["order"]["lineItems"]
            lines["nodes"] = [*lines["nodes"], *more["nodes"]]
            info = more["pageInfo"]

    async def push_statuses(self, items: Sequence[Outgoing]) -> list[Outcome]:
        return [await self._status(i.record) for i in items]  # type: ignore[arg-type]

    async def _named(self, number: str) -> list[Row]:
        """
        The orders named *number*, with their fulfillment orders and
        fulfilments.
        """
        data = await self.api.call(
            FULFILLMENT_ORDERS,
            {"q": f"name:'#{number}'"},
            cost=2 + NAMED * STATUS_ORDER_COST,
            what=f"order {number!r}",
        )
        # never another order the search found: it would be fulfilled or
        # cancelled in this one's place
        return [
            n for n in data["orders"]["nodes"] if n.get("name") == f"#{number}"
        ]

    async def _once(
        self,
        number: str,
        query: str,
        variables: Row,
        landed: Callable[[Row], bool],
        waits: Sequence[float] = (0.0,),
    ) -> Row | None:
        """
        Run the order mutation *query* once: ``fulfillmentCreate`` and
        ``orderCancel`` take no idempotency key, and one whose answer was
        lost (a timeout after Shopify applied it) would be applied again
        (a second fulfilment, a second cancellation job).  A retry first
        reads the order again, after each of *waits* seconds, until
        *landed* says the lost attempt took effect (then ``None``); sent
        again only when no read found it.
        """

        async def send() -> Row:
            return await self.api.call(
                query,
                variables,
                cost=12,
                what=f"order {number!r}",
                retry=False,
            )

        async def took_effect() -> Row | None:
            for wait in waits:
                await anyio.sleep(wait)
                again = await self._named(number)
                if len(again) == 1 and landed(again[0]):
                    return {}
            return None

        # {}: the lost attempt's answer, of which nothing is known
        return (
            await self.api.http.policy.call(send, confirm=took_effect) or None
        )

    async def _status(self, status: OrderStatus) -> Outcome:
        number = status.number
        nodes = await self._named(number)
        if not nodes:
            return fail(
                number, f"order {number!r} is not on Shopify", "number"
            )
        if len(nodes) > 1:
            ids = ", ".join(str(n["id"]) for n in nodes)
            return fail(
                number,
                f"order {number!r} is on Shopify {len(nodes)} times "
                f"({ids}): not changed",
                "number",
            )
        order = nodes[0]
        if status.state is OrderState.CANCELLED:
            return await self._cancel(number, order)
        if order.get("cancelledAt"):
            return fail(
                number,
                f"order {number!r} is cancelled on Shopify; it cannot be "
                f"{status.state.value}",
                "state",
            )
        if status.state in (OrderState.OPEN, OrderState.IN_PROGRESS):
            # Shopify derives these from payments and fulfillments.
            return Outcome(number=number, platform_id=order["id"])
        open_orders = [
            f["id"]
            for f in order["fulfillmentOrders"]["nodes"]
            if f["status"] in ("OPEN", "IN_PROGRESS")
        ]
        if not open_orders:
            return await self._track(number, order, status.tracking_numbers)
        fulfillment: dict[str, Any] = {
            "lineItemsByFulfillmentOrder": [
                {"fulfillmentOrderId": f} for f in open_orders
            ],
            "notifyCustomer": False,
        }
        if status.tracking_numbers:
            fulfillment["trackingInfo"] = {
                "numbers": list(status.tracking_numbers)
            }
        data = await self._once(
            number,
            FULFIL,
            {"f": fulfillment},
            lambda row: _fulfilled(row, open_orders, status.tracking_numbers),
        )
        if data is not None and data["fulfillmentCreate"]["userErrors"]:
            return user_errors(number, data["fulfillmentCreate"]["userErrors"])
        return Outcome(number=number, platform_id=order["id"])

    async def _track(
        self, number: str, order: Row, tracking: Sequence[str]
    ) -> Outcome:
        """
        Give the fulfilled order the tracking numbers the ERP learnt after
        it was fulfilled (typed in once the shipment was done): a single
        fulfilment gets the ERP's numbers as they are, of several the
        newest gets those no fulfilment has.  Nothing to write when every
        number is there.
        """
        fulfilments = order.get("fulfillments") or []
        held = [
            [t["number"] for t in f.get("trackingInfo") or [] if t["number"]]
            for f in fulfilments
        ]
        wanted = list(dict.fromkeys(tracking))
        missing = [t for t in wanted if not any(t in h for h in held)]
        if not fulfilments or not missing:
            return Outcome(number=number, platform_id=order["id"])
        last = fulfilments[-1]
        numbers = wanted if len(fulfilments) == 1 else held[-1] + missing
        given: dict[str, Any] = {"numbers": numbers}
        company = next(
            (t["company"] for t in last.get("trackingInfo") or []
             if t.get("company")),
            None,
        )  # fmt: skip
        if company:
            given["company"] = company
        answer = (
            await self.api.call(
                TRACK,
                {"id": last["id"], "t": given},
                cost=10,
                what=f"order {number!r}",
                idempotent=True,  # the fulfilment's whole tracking
            )
        )["fulfillmentTrackingInfoUpdate"]
        if answer["userErrors"]:
            errors = [
                dict(e, field=["tracking_numbers"])
                for e in answer["userErrors"]
            ]
            return user_errors(number, errors)
        return Outcome(number=number, platform_id=order["id"])

    async def _cancel(self, number: str, order: Row) -> Outcome:
        """
        ``orderCancel`` without refund (money is the merchant's call),
        restocking; an order already cancelled is left alone.  Shopify
        cancels the order in a job after the mutation answers: the
        status lands only once a read of the order after that job shows
        it cancelled.  A job that ran without cancelling it, or that has
        not run within `JOB_WAITS`, fails the status on ``state`` (the
        next run reads the order again).
        """
        if order.get("cancelledAt"):
            return Outcome(number=number, platform_id=order["id"])
        data = await self._once(
            number,
            CANCEL,
            {"id": order["id"]},
            lambda row: bool(row.get("cancelledAt")),
            # a lost answer's job may not have run yet: look as long as
            # a sent cancel's job is waited for
            JOB_WAITS,
        )
        if data is None:  # the lost attempt's cancellation is there
            return Outcome(number=number, platform_id=order["id"])
        answer = data["orderCancel"]
        if answer["orderCancelUserErrors"]:
            errors = [
                dict(e, field=["state"])
                for e in answer["orderCancelUserErrors"]
            ]
            return user_errors(number, errors)
        done = await self._job_done(number, answer.get("job"))
        again = await self._named(number)
        if len(again) == 1 and again[0].get("cancelledAt"):
            return Outcome(number=number, platform_id=order["id"])
        if not done:
            why = (
                "has not run yet; the next run looks again whether the "
                "order is cancelled"
            )
        else:
            why = (
                "ran, but the order is not cancelled (see its timeline "
                "in Shopify)"
            )
        return fail(
            number,
            f"order {number!r}: Shopify's cancellation job {why}",
            "state",
        )

    async def _job_done(self, number: str, job: Row | None) -> bool:
        """
        Whether Shopify's *job* has run, polled until it has or
        `JOB_WAITS` are over.
        """
        for wait in JOB_WAITS:
            if not job or not job.get("id"):
                return False
            if job.get("done"):
                return True
            await anyio.sleep(wait)
            job = (
                await self.api.call(
                    JOB, {"id": job["id"]}, cost=1, what=f"order {number!r}"
                )
            )["job"]
        return bool(job and job.get("done"))
