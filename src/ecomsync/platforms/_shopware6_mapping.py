"""
Pure mapping between ecomsync records and Shopware 6 entities: ids,
payloads, order reading, the state machines.  No I/O.

Private: `ecomsync.platforms.shopware6.Shopware6` is the public face.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .._model import (
    Address,
    Article,
    Category,
    Customer,
    Order,
    OrderLine,
    OrderState,
    number_key,
)
from .._spec import NumberRange


#: Shopware's system default currency (``Defaults::CURRENCY``).
DEFAULT_CURRENCY_ID = "b7d2554b0ce847cd82f3ac9bd1c0dfca"

#: ``product_visibility.visibility``: search and listing.
VISIBILITY_ALL = 30

#: The product custom field that holds the media ids of an article's
#: documents (data sheets, manuals), in order.
DOCUMENTS_FIELD = "ecomsync_documents"

_CENT = Decimal("0.01")


def sw_id(entity: str, key: str) -> str:
    """
    The deterministic Shopware id of *entity* for *key*: md5 of
    ``ecomsync:{entity}:{key}`` (Shopware's ``Uuid::fromStringToHex``
    does the same), so a replayed request can never create a duplicate.
    """
    return hashlib.md5(  # noqa: S324 -- an id, not a secret
        f"ecomsync:{entity}:{key}".encode()
    ).hexdigest()


def net_of(gross: Decimal, tax_rate: Decimal) -> Decimal:
    """
    The net price for *gross* at *tax_rate* percent, to the cent.
    """
    net = gross * 100 / (100 + tax_rate)
    return net.quantize(_CENT, rounding=ROUND_HALF_UP)


def price(gross: Decimal, tax_rate: Decimal) -> list[dict[str, Any]]:
    """
    A Shopware price in the default currency, gross and net linked.
    """
    return [
        {
            "currencyId": DEFAULT_CURRENCY_ID,
            "gross": float(gross),
            "net": float(net_of(gross, tax_rate)),
            "linked": True,
        }
    ]


def category_id(number: str) -> str:
    return sw_id("category", number)


def product_id(number: str) -> str:
    """
    Articles and variants share one namespace: both are products.
    """
    return sw_id("product", number)


def group_id(name: str) -> str:
    return sw_id("property_group", name)


def option_id(group: str, value: str) -> str:
    return sw_id("property_group_option", f"{group}\x1f{value}")


def tax_id(rate: Decimal) -> str:
    return sw_id("tax", str(rate.normalize()))


def product_media_id(product: str, media: str) -> str:
    return sw_id("product_media", f"{product}:{media}")


def parents_first(categories: Sequence[Category]) -> list[int]:
    """
    Indexes of *categories* ordered so that every parent in the list comes
    before its children (otherwise stable).
    """
    index = {c.number: i for i, c in enumerate(categories)}
    done: set[int] = set()
    order: list[int] = []

    def visit(i: int, trail: frozenset[int]) -> None:
        if i in done or i in trail:
            return
        parent = categories[i].parent
        if parent is not None and parent in index:
            visit(index[parent], trail | {i})
        done.add(i)
        order.append(i)

    for i in range(len(categories)):
        visit(i, frozenset())
    return order


def category_payload(category: Category) -> dict[str, Any]:
    return {
        "id": category_id(category.number),
        "parentId": (
            None if category.parent is None else category_id(category.parent)
        ),
        "name": category.name,
        "description": category.description or None,
        "active": category.active,
        "customFields": {"ecomsync_number": category.number},
    }


def visibilities(
    product: str, sales_channels: Sequence[str]
) -> list[dict[str, Any]]:
    return [
        {
            "id": sw_id("product_visibility", f"{product}:{channel}"),
            "productId": product,
            "salesChannelId": channel,
            "visibility": VISIBILITY_ALL,
        }
        for channel in sales_channels
    ]


def article_rows(
    article: Article,
    *,
    tax: str,
    sales_channels: Sequence[str],
    existing: frozenset[str],
) -> dict[str, list[dict[str, Any]]]:
    """
    Rows per entity for one article: property groups and options of its
    variants, the parent product, the variant products.

    *existing* are the product ids already in the shop: only new products
    get ``stock: 0`` (stock belongs to the stock sync).
    """
    pid = product_id(article.number)
    groups: dict[str, dict[str, Any]] = {}
    options: dict[str, dict[str, Any]] = {}
    for variant in article.variants:
        for name, value in variant.options:
            gid = group_id(name)
            groups.setdefault(
                gid,
                {
                    "id": gid,
                    "name": name,
                    "displayType": "text",
                    "sortingType": "alphanumeric",
                },
            )
            oid = option_id(name, value)
            options.setdefault(oid, {"id": oid, "groupId": gid, "name": value})
    parent: dict[str, Any] = {
        "id": pid,
        "productNumber": article.number,
        "name": article.name,
        "description": article.description or None,
        "active": article.active,
        "ean": article.ean,
        "taxId": tax,
        "price": price(article.price, article.tax_rate),
        "categories": [{"id": category_id(c)} for c in article.categories],
        "visibilities": visibilities(pid, sales_channels),
    }
    if pid not in existing:
        parent["stock"] = 0
    if options:
        parent["configuratorSettings"] = [
            {
                "id": sw_id("product_configurator_setting", f"{pid}:{oid}"),
                "productId": pid,
                "optionId": oid,
            }
            for oid in options
        ]
    children: list[dict[str, Any]] = []
    for variant in article.variants:
        vid = product_id(variant.number)
        child: dict[str, Any] = {
            "id": vid,
            "parentId": pid,
            "productNumber": variant.number,
            "taxId": tax,
            "price": price(
                article.price if variant.price is None else variant.price,
                article.tax_rate,
            ),
            "ean": variant.ean,
            "options": [
                {"id": option_id(name, value)}
                for name, value in variant.options
            ],
        }
        if vid not in existing:
            child["stock"] = 0
        children.append(child)
    return {
        "property_group": list(groups.values()),
        "property_group_option": list(options.values()),
        "product": [parent, *children],
    }


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


def transitions(
    graph: Mapping[str, Mapping[str, str]], current: str, target: str
) -> list[str] | None:
    """
    The shortest list of actions from *current* to *target*, ``[]`` if
    already there, ``None`` if there is no way.
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
      numbers).
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
    if not (first.isdigit() and last.isdigit()):
        return None
    if first.startswith("0") or last.startswith("0"):
        return None
    queries = []
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
    if len(queries) == 1:
        return queries[0]
    return {"type": "multi", "operator": "or", "queries": queries}


def _country(address: Mapping[str, Any]) -> str:
    country = address.get("country")
    if isinstance(country, dict) and country.get("iso"):
        return str(country["iso"])
    return ""


def _address(data: Mapping[str, Any] | None) -> Address:
    data = data or {}
    return Address(
        first_name=str(data.get("firstName") or ""),
        last_name=str(data.get("lastName") or ""),
        street=str(data.get("street") or ""),
        zip_code=str(data.get("zipcode") or ""),
        city=str(data.get("city") or ""),
        country=_country(data) or "DE",
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


def _line(item: Mapping[str, Any]) -> OrderLine:
    payload = item.get("payload")
    number = None
    if isinstance(payload, dict):
        number = payload.get("productNumber")
    return OrderLine(
        article_number=str(
            number or item.get("identifier") or item.get("referencedId") or ""
        ),
        name=str(item.get("label") or ""),
        quantity=int(item.get("quantity") or 0),
        unit_price=Decimal(str(item.get("unitPrice") or 0)),
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
    )
    items = sorted(
        (i for i in data.get("lineItems") or [] if isinstance(i, dict)),
        key=lambda i: (int(i.get("position") or 0), str(i.get("id"))),
    )
    currency = data.get("currency")
    return Order(
        number=str(data.get("orderNumber")),
        customer=customer,
        billing=billing,
        shipping=shipping,
        lines=tuple(
            _line(i)
            for i in items
            if i.get("type") in (None, "product", "custom")
        ),
        total=Decimal(str(data.get("amountTotal") or 0)),
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


def pointer_parts(pointer: str | None) -> tuple[str, int, str] | None:
    """
    ``/{operation key}/{index}/{field...}`` → (key, index, dotted field).
    """
    if not pointer:
        return None
    match = re.match(r"^/([^/]+)/(\d+)(?:/(.*))?$", pointer)
    if match is None:
        return None
    key, index, rest = match.groups()
    field = ".".join(p for p in (rest or "").split("/") if p)
    return key, int(index), field


def natural_sorted(numbers: Sequence[str]) -> list[str]:
    return sorted(numbers, key=number_key)
