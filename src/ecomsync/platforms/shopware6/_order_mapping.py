"""
Pure mapping of orders: reading Shopware orders into `Order` records, the
order and delivery state machines, order-number filters.  No I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..._model import (
    Address,
    Customer,
    Order,
    OrderLine,
    OrderState,
)
from ..._spec import NumberRange


# -- state machines ---------------------------------------------------------

#: Shopware's default transitions: state → {action: next state}.
ORDER_GRAPH: Mapping[str, Mapping[str, str]] = {
    "open": {"process": "in_progress", "cancel": "cancelled"},
    "in_progress": {"complete": "completed", "cancel": "cancelled"},
    "completed": {"reopen": "open"},
    "cancelled": {"reopen": "open"},
}
DELIVERY_GRAPH: Mapping[str, Mapping[str, str]] = {
    "open": {
        "ship": "shipped",
        "ship_partially": "shipped_partially",
        "cancel": "cancelled",
    },
    "shipped_partially": {
        "ship": "shipped",
        "retour": "returned",
        "retour_partially": "returned_partially",
        "cancel": "cancelled",
        "reopen": "open",
    },
    "shipped": {
        "retour": "returned",
        "retour_partially": "returned_partially",
        "cancel": "cancelled",
        "reopen": "open",
    },
    "returned_partially": {"retour": "returned", "reopen": "open"},
    "returned": {"reopen": "open"},
    "cancelled": {"reopen": "open"},
}

#: What each `OrderState` means in Shopware: (order state, delivery state);
#: ``None`` leaves that machine alone.
STATE_TARGETS: Mapping[OrderState, tuple[str | None, str | None]] = {
    OrderState.OPEN: ("open", None),
    OrderState.IN_PROGRESS: ("in_progress", None),
    OrderState.SHIPPED: ("in_progress", "shipped"),
    OrderState.COMPLETED: ("completed", "shipped"),
    OrderState.CANCELLED: ("cancelled", "cancelled"),
}


#: States a path may start or end in but never pass through: entering one
#: runs the shop's flows for it (the "order completed" mails and
#: documents, the stock a cancellation releases), which must not happen
#: to an order that is neither (``in_progress`` -> ``open`` would be
#: ``complete``, ``reopen``).
NOT_ON_THE_WAY = frozenset(
    {"completed", "cancelled", "returned", "returned_partially"}
)


def transitions(
    graph: Mapping[str, Mapping[str, str]],
    current: str,
    target: str,
    *,
    avoid: frozenset[str] = NOT_ON_THE_WAY,
) -> list[str] | None:
    """
    The shortest list of actions from *current* to *target*, ``[]`` if
    already there, ``None`` if there is no way that passes through none
    of *avoid*.
    """
    if current == target:
        return []
    seen = {current}
    queue: deque[tuple[str, list[str]]] = deque([(current, [])])
    while queue:
        state, path = queue.popleft()
        for action, nxt in graph.get(state, {}).items():
            if nxt in seen:
                continue
            if nxt == target:
                return [*path, action]
            if nxt in avoid:
                continue
            seen.add(nxt)
            queue.append((nxt, [*path, action]))
    return None


def order_state(order_state: str | None, delivery: str | None) -> OrderState:
    """
    The `OrderState` a Shopware order is in, from the technical names of
    its order and (first) delivery state.
    """
    if order_state == "cancelled":
        return OrderState.CANCELLED
    if order_state == "completed":
        return OrderState.COMPLETED
    if delivery in ("shipped", "shipped_partially"):
        return OrderState.SHIPPED
    if order_state == "in_progress":
        return OrderState.IN_PROGRESS
    return OrderState.OPEN


# -- reading orders ---------------------------------------------------------

ORDER_ASSOCIATIONS: Mapping[str, Any] = {
    "orderCustomer": {},
    "billingAddress": {"associations": {"country": {}}},
    "addresses": {"associations": {"country": {}}},
    "deliveries": {
        "associations": {
            "shippingOrderAddress": {"associations": {"country": {}}},
            "stateMachineState": {},
        }
    },
    "lineItems": {},
    "transactions": {"associations": {"stateMachineState": {}}},
    "stateMachineState": {},
    "currency": {},
}


#: What `order_from` reads of each entity an order search returns (its
#: ``includes``, by API alias): the rest of a Shopware order is most of
#: its weight (a page of 500 orders 3.1 -> 1.2 MB in the emulator).  A
#: field `order_from` reads must be listed here (tests/platforms/
#: test_shopware6_mapping.py checks it); structs (prices, payloads) come
#: whole.
ORDER_INCLUDES: Mapping[str, list[str]] = {
    "order": [
        "id",
        "orderNumber",
        "orderDateTime",
        "createdAt",
        "amountTotal",
        "taxStatus",
        "price",
        "shippingTotal",
        "shippingCosts",
        "currency",
        "stateMachineState",
        "orderCustomer",
        "billingAddressId",
        "billingAddress",
        "addresses",
        "deliveries",
        "lineItems",
    ],
    "order_customer": [
        "customerNumber",
        "customerId",
        "email",
        "firstName",
        "lastName",
    ],
    "order_address": [
        "id",
        "firstName",
        "lastName",
        "street",
        "zipcode",
        "city",
        "country",
        "company",
        "phoneNumber",
    ],
    "country": ["iso"],
    "order_delivery": [
        "id",
        "shippingOrderAddressId",
        "shippingOrderAddress",
        "stateMachineState",
    ],
    "order_line_item": [
        "id",
        "type",
        "position",
        "label",
        "quantity",
        "unitPrice",
        "totalPrice",
        "price",
        "payload",
        "identifier",
        "referencedId",
    ],
    "state_machine_state": ["technicalName"],
    "currency": ["isoCode"],
}


def shopware_time(moment: datetime) -> str:
    """
    *moment* as Shopware stores it: UTC ``Y-m-d H:i:s.v``.
    """
    utc = moment.astimezone(UTC)
    return (
        utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}"
    )


def parse_time(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        return datetime.fromtimestamp(0, UTC)
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def range_prefilter(selection: NumberRange) -> dict[str, Any] | None:
    """
    A server-side filter that is a superset of *selection* (Shopware
    compares order numbers as strings, `NumberRange` in natural order), or
    ``None`` if no safe one exists.  The caller filters exactly with
    ``number in selection`` afterwards.

    - Common text before the first digit: a ``prefix`` filter.
    - Purely numeric bounds without leading zeros: per length of the
      number, a string range (equal-length digit strings compare like
      numbers) or the range's top followed by text (``9x`` lies between
      ``5`` and ``20``), and every number that does not start with an
      ASCII digit 1-9 (leading zeros, digits of other scripts: ``007``
      is 7), which no string range can place.
    """
    first, last = selection.first, selection.last
    common = []
    for a, b in zip(first, last, strict=False):
        if a != b or a.isdigit():
            break
        common.append(a)
    if common:
        return {
            "type": "prefix",
            "field": "orderNumber",
            "value": "".join(common),
        }
    if not all(b.isascii() and b.isdigit() for b in (first, last)):
        return None  # digits of other scripts: no safe string range
    if first.startswith("0") or last.startswith("0"):
        return None
    queries: list[dict[str, Any]] = []
    for length in range(len(first), len(last) + 1):
        low = first if length == len(first) else "1" + "0" * (length - 1)
        high = last if length == len(last) else "9" * length
        queries.append(
            {
                "type": "range",
                "field": "orderNumber",
                "parameters": {"gte": low, "lte": high},
            }
        )
        queries.append(
            {"type": "prefix", "field": "orderNumber", "value": high}
        )
    queries.append(
        {
            "type": "not",
            "operator": "or",
            "queries": [
                {"type": "prefix", "field": "orderNumber", "value": digit}
                for digit in "123456789"
            ],
        }
    )
    return {"type": "multi", "operator": "or", "queries": queries}


def _country(address: Mapping[str, Any]) -> str:
    country = address.get("country")
    if isinstance(country, dict) and country.get("iso"):
        return str(country["iso"])
    return ""


def _address(data: Mapping[str, Any] | None) -> Address:
    """
    An order address; one without a country (or no address at all) keeps
    a blank country, so the order fails on it by name instead of being
    made German.
    """
    data = data or {}
    return Address(
        first_name=str(data.get("firstName") or ""),
        last_name=str(data.get("lastName") or ""),
        street=str(data.get("street") or ""),
        zip_code=str(data.get("zipcode") or ""),
        city=str(data.get("city") or ""),
        country=_country(data),
        company=str(data.get("company") or ""),
        phone=str(data.get("phoneNumber") or ""),
    )


def _state_name(data: Mapping[str, Any] | None) -> str | None:
    if not data:
        return None
    state = data.get("stateMachineState")
    if isinstance(state, dict) and state.get("technicalName"):
        return str(state["technicalName"])
    return None


def _amount(value: Any) -> Decimal:
    """
    A Shopware price (a JSON float) as the Decimal it was meant to be.
    """
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        with suppress(ArithmeticError):
            return Decimal(str(value))
    return Decimal(0)  # the order then fails on its total, by name


def _gross(price: Any, fallback: Any, *, net: bool) -> Decimal:
    """
    The gross amount of a calculated price (a line item's or the
    shipping costs' ``price``): its ``totalPrice``, plus its
    ``calculatedTaxes`` when the order is net-priced (``taxStatus``
    ``net``: Shopware then keeps every price net and adds the tax on
    top).  *fallback* is the flat ``totalPrice`` of the row when the
    calculated price is missing.
    """
    price = price if isinstance(price, dict) else {}
    total = _amount(price.get("totalPrice", fallback))
    if net:
        total += sum(
            (
                _amount(tax.get("tax"))
                for tax in price.get("calculatedTaxes") or []
                if isinstance(tax, dict)
            ),
            Decimal(0),
        )
    return total


#: Line item types that take money off the order (negative prices):
#: promotions (vouchers, cart rules), credits a merchant granted, and
#: discount lines.  Other types that are not articles (a container of
#: a plugin) are not modelled: the order then fails on its total.
_DISCOUNT_TYPES = ("promotion", "credit", "discount")


def _tax_status(data: Mapping[str, Any]) -> str:
    price = data.get("price")
    status = price.get("taxStatus") if isinstance(price, dict) else None
    return str(status or data.get("taxStatus") or "gross")


def _line(item: Mapping[str, Any], *, net: bool) -> OrderLine:
    """
    An order line; its unit price is gross (`OrderLine`): in a gross
    order Shopware's ``unitPrice``, in a net one the line's net total
    plus its tax, over the quantity.
    """
    payload = item.get("payload")
    number = None
    if isinstance(payload, dict):
        number = payload.get("productNumber")
    quantity = int(item.get("quantity") or 0)
    if net:
        gross = _gross(item.get("price"), item.get("totalPrice"), net=True)
        unit = gross / quantity if quantity else gross
    else:
        unit = _amount(item.get("unitPrice") or 0)
    return OrderLine(
        article_number=str(
            number or item.get("identifier") or item.get("referencedId") or ""
        ),
        name=str(item.get("label") or ""),
        quantity=quantity,
        unit_price=unit,
    )


def order_from(data: Mapping[str, Any]) -> Order:
    """
    An `Order` from a Shopware order read with `ORDER_ASSOCIATIONS`.
    """
    addresses = {
        a.get("id"): a
        for a in data.get("addresses") or []
        if isinstance(a, dict)
    }
    billing_data = data.get("billingAddress") or addresses.get(
        data.get("billingAddressId")
    )
    deliveries = sorted(
        (d for d in data.get("deliveries") or [] if isinstance(d, dict)),
        key=lambda d: str(d.get("id")),
    )
    first_delivery = deliveries[0] if deliveries else None
    shipping_data = (
        (first_delivery or {}).get("shippingOrderAddress")
        or addresses.get((first_delivery or {}).get("shippingOrderAddressId"))
        or billing_data
    )
    billing = _address(billing_data)
    shipping = _address(shipping_data)
    customer_data = data.get("orderCustomer") or {}
    customer = Customer(
        number=str(
            customer_data.get("customerNumber")
            or customer_data.get("customerId")
            or customer_data.get("email")
            or ""
        ),
        email=str(customer_data.get("email") or ""),
        first_name=str(customer_data.get("firstName") or ""),
        last_name=str(customer_data.get("lastName") or ""),
        addresses=tuple(
            dict.fromkeys(a for a in (billing, shipping) if a.street or a.city)
        ),
        # Shopware keeps customer numbers without a unique key (two
        # customers can hold one): the ERP tells them apart by the id
        platform_id=str(customer_data.get("customerId") or "") or None,
    )
    items = sorted(
        (i for i in data.get("lineItems") or [] if isinstance(i, dict)),
        key=lambda i: (int(i.get("position") or 0), str(i.get("id"))),
    )
    currency = data.get("currency")
    net = _tax_status(data) == "net"
    discounts = [i for i in items if i.get("type") in _DISCOUNT_TYPES]
    return Order(
        number=str(data.get("orderNumber")),
        customer=customer,
        billing=billing,
        shipping=shipping,
        lines=tuple(
            _line(i, net=net)
            for i in items
            if i.get("type") in (None, "product", "custom")
        ),
        total=Decimal(str(data.get("amountTotal") or 0)),
        shipping_total=_gross(
            data.get("shippingCosts"), data.get("shippingTotal"), net=net
        ),
        discount_total=-sum(
            (
                _gross(i.get("price"), i.get("totalPrice"), net=net)
                for i in discounts
            ),
            Decimal(0),
        ),
        ordered_at=parse_time(
            data.get("orderDateTime") or data.get("createdAt")
        ),
        currency=(
            str(currency["isoCode"])
            if isinstance(currency, dict) and currency.get("isoCode")
            else "EUR"
        ),
        state=order_state(_state_name(data), _state_name(first_delivery)),
    )
