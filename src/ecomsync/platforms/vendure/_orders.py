"""
Orders of the Vendure adapter: reading placed orders with their
customers and addresses, and pushing the ERP's order status back as
fulfilments (Shipped, Delivered) or cancellations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from datetime import datetime, timedelta
from decimal import Decimal

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
from . import _pages
from ._client import JSON, GraphQL
from ._gql import Result, aliased, problem
from ._money import major
from ._order_looks import cancelled, fulfilled, moved, noted, posted


#: What a fulfilment mutation answers.
_FULFILMENT = (
    "__typename ... on Fulfillment { id state } "
    "... on ErrorResult { errorCode message }"
)

_ADDRESS = (
    "fullName company streetLine1 streetLine2 postalCode city "
    "countryCode phoneNumber"
)
ORDER_FIELDS = f"""
  id code state orderPlacedAt updatedAt currencyCode totalWithTax
  customer {{ id emailAddress firstName lastName phoneNumber
    addresses {{ fullName company streetLine1 streetLine2 postalCode city
                 phoneNumber country {{ code }} }} }}
  shippingAddress {{ {_ADDRESS} }}
  billingAddress {{ {_ADDRESS} }}
  shippingWithTax subTotalWithTax
  lines {{ id quantity unitPriceWithTax discountedLinePriceWithTax
          proratedLinePriceWithTax
          productVariant {{ id sku name }} }}
  fulfillments {{ id state trackingCode lines {{ orderLineId quantity }} }}
"""
_ORDERS = (
    "query ($options: OrderListOptions) { orders(options: $options) "
    "{ totalItems items {" + ORDER_FIELDS + "} } }"
)

#: Vendure order states -> the ERP's view.
STATES: dict[str, OrderState] = {
    "PaymentAuthorized": OrderState.OPEN,
    "PaymentSettled": OrderState.OPEN,
    "ArrangingPayment": OrderState.OPEN,
    "ArrangingAdditionalPayment": OrderState.OPEN,
    "Modifying": OrderState.OPEN,
    "PartiallyShipped": OrderState.IN_PROGRESS,
    "PartiallyDelivered": OrderState.IN_PROGRESS,
    "Shipped": OrderState.SHIPPED,
    "Delivered": OrderState.COMPLETED,
    "Cancelled": OrderState.CANCELLED,
}
_SHIPPED = {"Shipped", "Delivered", "PartiallyDelivered"}


def _split(full: str) -> tuple[str, str]:
    first, _, last = (full or "").strip().rpartition(" ")
    return (first, last) if first else ("", last)


def _address(raw: JSON | None, fallback: JSON | None = None) -> Address:
    raw = raw or {}
    if not raw.get("streetLine1") and fallback:
        raw = fallback
    first, last = _split(raw.get("fullName") or "")
    street = " ".join(
        p for p in (raw.get("streetLine1"), raw.get("streetLine2")) if p
    )
    country = raw.get("countryCode") or (raw.get("country") or {}).get("code")
    return Address(
        first_name=first,
        last_name=last,
        street=street,
        zip_code=raw.get("postalCode") or "",
        city=raw.get("city") or "",
        country=(country or "").upper(),
        company=raw.get("company") or "",
        phone=raw.get("phoneNumber") or "",
    )


def state_of(raw: JSON) -> OrderState:
    """
    The ERP's view of a Vendure order's state: a paid order with a
    pending fulfilment is in progress.
    """
    state = STATES.get(raw["state"], OrderState.OPEN)
    if state is OrderState.OPEN and any(
        f["state"] == "Pending" for f in raw.get("fulfillments") or []
    ):
        return OrderState.IN_PROGRESS
    return state


def _line(line: JSON, precision: int) -> OrderLine:
    """
    A line at its gross price after its own promotions (`OrderLine`):
    ``discountedLinePriceWithTax`` over the quantity.  Vendure's
    ``unitPriceWithTax`` is before every promotion, its
    ``proratedLinePriceWithTax`` after order-level ones too.
    """
    quantity = int(line["quantity"])
    gross = major(line["discountedLinePriceWithTax"], precision)
    return OrderLine(
        article_number=line["productVariant"]["sku"],
        name=line["productVariant"]["name"],
        quantity=quantity,
        unit_price=gross / quantity if quantity else gross,
    )


def to_order(raw: JSON, precision: int) -> Order:
    """
    A Vendure order as an ecomsync `Order` (gross prices), from the
    minor units of a server keeping money with *precision* decimals.
    """
    customer = raw.get("customer") or {}
    shipping = _address(raw.get("shippingAddress"), raw.get("billingAddress"))
    billing = _address(raw.get("billingAddress"), raw.get("shippingAddress"))
    return Order(
        number=raw["code"],
        customer=Customer(
            number=str(customer.get("id", "")),
            email=customer.get("emailAddress") or "",
            first_name=customer.get("firstName") or "",
            last_name=customer.get("lastName") or "",
            addresses=tuple(
                _address(a) for a in customer.get("addresses") or []
            ),
        ),
        billing=billing,
        shipping=shipping,
        # a line cancelled whole (cancelOrder with lines) keeps its row at
        # quantity 0: nothing of it ships
        lines=tuple(
            _line(line, precision)
            for line in raw.get("lines") or []
            if int(line["quantity"])
        ),
        total=major(raw["totalWithTax"], precision),
        # shipping after its promotions; order-level promotions are what
        # the lines' prorated prices have less than their discounted ones
        # (surcharges are not modelled: the order fails on its total)
        shipping_total=major(raw.get("shippingWithTax") or 0, precision),
        discount_total=sum(
            (
                major(line["discountedLinePriceWithTax"], precision)
                - major(line["proratedLinePriceWithTax"], precision)
                for line in raw.get("lines") or []
            ),
            Decimal(0),
        ),
        ordered_at=datetime.fromisoformat(
            (raw.get("orderPlacedAt") or raw["updatedAt"]).replace(
                "Z", "+00:00"
            )
        ),
        currency=raw.get("currencyCode") or "EUR",
        state=state_of(raw),
    )


def _filter(selection: Selection) -> JSON:
    base: JSON = {
        "active": {"eq": False},
        "orderPlacedAt": {"isNull": False},
    }
    if isinstance(selection, ChangedSince):
        moment = selection.moment - timedelta(milliseconds=1)
        base["updatedAt"] = {"after": moment.isoformat()}
    elif isinstance(selection, Only):
        base["code"] = {"in": sorted(selection.numbers)}
    return base


@attrs.define
class Orders:
    """
    Reading orders from and pushing order status to one channel.
    """

    gql: GraphQL
    #: The decimals the server keeps money with (`Catalog.precision`).
    precision: Callable[[], Awaitable[int]]

    async def fetch(
        self, selection: Selection, batch_size: int
    ) -> AsyncIterator[list[Order]]:
        take = max(1, min(batch_size, _pages.TAKE))
        precision = await self.precision()
        # Pages are keyed by the last order read, not numbered: an order
        # leaving the filter (or joining it before the last one read)
        # between two pages would shift every later one by a page number,
        # and an order would be skipped or read twice without a word.  The
        # key is when the order was placed: set once, when the order is
        # placed (`_pages.pages`).
        pages = _pages.pages(
            self.gql,
            _ORDERS,
            "orders",
            _filter(selection),
            key="orderPlacedAt",
            take=take,
        )
        # closed with this read, also when its reader stops early
        async with aclosing(pages):
            async for items in pages:
                orders = [to_order(o, precision) for o in items]
                if isinstance(selection, NumberRange):
                    orders = [o for o in orders if o.number in selection]
                elif not isinstance(selection, All | ChangedSince | Only):
                    orders = []
                if orders:
                    yield orders

    async def by_code(self, codes: Sequence[str]) -> dict[str, JSON]:
        # at most a page of codes a request: a code is one order's, so a
        # page holds them all (Vendure refuses a take above its
        # adminListQueryLimit, and a larger list was cut without a word)
        found: dict[str, JSON] = {}
        for chunk in _pages.chunks(codes):
            data = await self.gql.query(
                _ORDERS,
                {
                    "options": {
                        "filter": {"code": {"in": chunk}},
                        "take": _pages.TAKE,
                    }
                },
            )
            found.update((o["code"], o) for o in data["orders"]["items"])
        return found

    async def _transition(
        self, fulfilments: Sequence[tuple[str, str]], state: str
    ) -> list[Result]:
        """
        Move each of *fulfilments* (order id, fulfilment id) to *state*,
        in one document.  A move whose answer was lost is looked for
        (Vendure refuses a move to the state a fulfilment is in).
        """
        of = {str(fid): str(order) for order, fid in fulfilments}
        return await aliased(
            self.gql,
            "transitionFulfillmentToState",
            {"id": "ID!", "state": "String!"},
            [{"id": fid, "state": state} for _, fid in fulfilments],
            _FULFILMENT,
            look=lambda calls: moved(self.gql, of, state, calls),
        )

    async def push_status(  # noqa: PLR0915 -- phases in order
        self, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        outcomes: dict[int, Outcome] = {}
        statuses: list[tuple[int, OrderStatus]] = []
        for i, item in enumerate(items):
            if isinstance(item.record, OrderStatus):
                statuses.append((i, item.record))
            else:
                outcomes[i] = Outcome(
                    number=item.record.number, error="not an order status"
                )
        orders = await self.by_code([s.number for _, s in statuses])
        work: list[tuple[int, OrderStatus, JSON]] = []
        for i, status in statuses:
            order = orders.get(status.number)
            if order is None:
                outcomes[i] = Outcome(
                    number=status.number,
                    error=f"order {status.number} does not exist",
                    field="number",
                )
            elif (
                order["state"] == "Cancelled"
                and status.state is not OrderState.CANCELLED
            ):
                outcomes[i] = Outcome(
                    number=status.number,
                    error=f"order {status.number} is cancelled in Vendure",
                    field="state",
                )
            else:
                work.append((i, status, order))

        def fail(i: int, status: OrderStatus, message: str) -> None:
            outcomes.setdefault(
                i, Outcome(number=status.number, error=message, field="state")
            )

        # phase 0: pending fulfilments with other tracking codes go
        stale: list[tuple[int, OrderStatus, JSON]] = []
        for i, s, o in work:
            codes = ", ".join(s.tracking_numbers)
            if s.state in (OrderState.SHIPPED, OrderState.COMPLETED) and codes:
                stale += [
                    (i, s, f)
                    for f in o.get("fulfillments") or []
                    if f["state"] == "Pending"
                    and (f.get("trackingCode") or "") != codes
                ]
        results = await self._transition(
            [(orders[s.number]["id"], f["id"]) for _, s, f in stale],
            "Cancelled",
        )
        for (i, s, f), result in zip(stale, results, strict=True):
            if message := problem(result):
                fail(i, s, message)
            else:
                f["state"] = "Cancelled"

        # phase 1: cancellations and new fulfilments
        cancels = [
            (i, s, o)
            for i, s, o in work
            if s.state is OrderState.CANCELLED and o["state"] != "Cancelled"
        ]
        fulfil = [
            (i, s, o, lines)
            for i, s, o in work
            if i not in outcomes
            and s.state
            in (
                OrderState.IN_PROGRESS,
                OrderState.SHIPPED,
                OrderState.COMPLETED,
            )
            and (lines := _unfulfilled(o))
        ]
        results = await aliased(
            self.gql,
            "cancelOrder",
            {"input": "CancelOrderInput!"},
            [
                {
                    "input": {
                        "orderId": o["id"],
                        "reason": "cancelled in the ERP",
                        "cancelShipping": True,
                    }
                }
                for _, _, o in cancels
            ],
            "__typename ... on Order { id state } "
            "... on ErrorResult { errorCode message }",
            look=lambda calls: cancelled(self.gql, calls),
        )
        for (i, s, _), result in zip(cancels, results, strict=True):
            if message := problem(result):
                fail(i, s, message)
        results = await aliased(
            self.gql,
            "addFulfillmentToOrder",
            {"input": "FulfillOrderInput!"},
            [
                {
                    "input": {
                        "lines": lines,
                        "handler": {
                            "code": "manual-fulfillment",
                            "arguments": [
                                {"name": "method", "value": "ERP"},
                                {
                                    "name": "trackingCode",
                                    "value": ", ".join(s.tracking_numbers),
                                },
                            ],
                        },
                    }
                }
                for _, s, _, lines in fulfil
            ],
            _FULFILMENT,
            look=lambda calls: fulfilled(
                self.gql, [o for _, _, o, _ in fulfil], calls
            ),
        )
        fresh: dict[int, list[JSON]] = {}
        for (i, s, _, _), result in zip(fulfil, results, strict=True):
            if message := problem(result):
                fail(i, s, message)
            else:
                assert isinstance(result, dict)
                fresh[i] = [result]

        # phase 2 and 3: fulfilments Pending -> Shipped -> Delivered
        for target, wanted in (
            ("Shipped", (OrderState.SHIPPED, OrderState.COMPLETED)),
            ("Delivered", (OrderState.COMPLETED,)),
        ):
            moves: list[tuple[int, OrderStatus, str]] = []
            for i, s, o in work:
                if i in outcomes or s.state not in wanted:
                    continue
                for f in [*(o.get("fulfillments") or []), *fresh.get(i, [])]:
                    if _before(f["state"], target):
                        moves.append((i, s, f["id"]))
            results = await self._transition(
                [(orders[s.number]["id"], fid) for _, s, fid in moves],
                target,
            )
            for (i, s, fid), result in zip(moves, results, strict=True):
                if message := problem(result):
                    fail(i, s, message)
                else:
                    for f in [
                        *(orders[s.number].get("fulfillments") or []),
                        *fresh.get(i, []),
                    ]:
                        if f["id"] == fid:
                            f["state"] = target

        # phase 4: tracking numbers no fulfilment can take any more
        late = [
            (i, s, o, missing)
            for i, s, o in work
            if i not in outcomes
            and i not in fresh
            and (missing := _untracked(s, o))
        ]
        for i, s, o, missing in late:
            if message := await self._note_tracking(o, missing):
                fail(i, s, message)

        for i, status, order in work:
            if i not in outcomes:
                outcomes[i] = Outcome(
                    number=status.number, platform_id=str(order["id"])
                )
        return [outcomes[i] for i in range(len(items))]

    async def _note_tracking(
        self, order: JSON, numbers: Sequence[str]
    ) -> str | None:
        """
        Tell the customer *numbers* as public order notes, each once
        (notes already on the order, from a push whose answer was lost,
        are not added again); the error message, if one failed.
        """
        notes_there = await posted(self.gql, order)
        notes = [n for n in map(_note, numbers) if n not in notes_there]
        results = await aliased(
            self.gql,
            "addNoteToOrder",
            {"input": "AddNoteToOrderInput!"},
            [
                {"input": {"id": order["id"], "note": n, "isPublic": True}}
                for n in notes
            ],
            "id",
            look=lambda calls: noted(self.gql, order, calls),
        )
        for result in results:
            if message := problem(result):
                return message
        return None


def _note(number: str) -> str:
    """
    The public order note that tells a tracking number.
    """
    return f"Tracking number: {number}"


def _untracked(status: OrderStatus, order: JSON) -> list[str]:
    """
    The tracking numbers of a shipped *status* that no live fulfilment
    of *order* carries, when no fulfilment can take them any more (every
    line fulfilled, none pending): the ERP learnt them after the order
    shipped, and Vendure has no way to change a fulfilment's tracking
    code.
    """
    if status.state not in (OrderState.SHIPPED, OrderState.COMPLETED):
        return []
    live = [
        f for f in order.get("fulfillments") or [] if f["state"] != "Cancelled"
    ]
    if not live or any(f["state"] in ("Created", "Pending") for f in live):
        return []
    carried = {
        code.strip()
        for f in live
        for code in (f.get("trackingCode") or "").split(",")
    }
    # stripped as the carried codes and the posted notes are: "JJD1 "
    # is the fulfilment's JJD1, not a new number to tell at each push
    told = dict.fromkeys(t.strip() for t in status.tracking_numbers)
    return [t for t in told if t and t not in carried]


_FULFILMENT_ORDER = ("Created", "Pending", "Shipped", "Delivered")


def _before(state: str, target: str) -> bool:
    if state not in _FULFILMENT_ORDER:
        return False
    return _FULFILMENT_ORDER.index(state) < _FULFILMENT_ORDER.index(target)


def _unfulfilled(order: JSON) -> list[JSON]:
    """
    The order lines (with quantities) no live fulfilment covers yet.
    """
    if order["state"] in _SHIPPED or order["state"] == "Cancelled":
        return []
    done: dict[str, int] = {}
    for f in order.get("fulfillments") or []:
        if f["state"] == "Cancelled":
            continue
        for line in f.get("lines") or []:
            key = str(line["orderLineId"])
            done[key] = done.get(key, 0) + int(line["quantity"])
    lines = []
    for line in order.get("lines") or []:
        left = int(line["quantity"]) - done.get(str(line["id"]), 0)
        if left > 0:
            lines.append({"orderLineId": line["id"], "quantity": left})
    return lines


__all__ = ["ORDER_FIELDS", "STATES", "Orders", "state_of", "to_order"]
