"""
The shop's order as an import sent it to Tryton, kept as digests per
field on a line of its sale's marks attachment (`MARKS_ATTACHMENT`,
printed on none of its documents, unlike the sale's comment; earlier
versions kept it in a note, ``ir.note``, read for their sales):
an order imported again whose fields still have those digests is
unchanged in the shop, whatever the merchant edited in the sale since
(a price, a quantity, an address, an article's number).  Pure: no RPC.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .._model import Customer, Order
from ._tryton_sales import (
    address_digest,
    full_name,
    imported_addresses,
    marks_attachment,
    sale_marks,
)


#: The start of the line (or, of earlier versions, the note's message)
#: that holds the digests, followed by them as a JSON object (field:
#: digest).
ORDER_MARK = "Shop order as imported (ecomsync): "
#: The fields of an order an import compares, in the order a change is
#: reported (the first that differs names the change).
FIELDS = (
    "lines",
    "currency",
    "billing",
    "shipping",
    "shipping_total",
    "discount_total",
    "total",
)
#: The keys of the customer's digests (`customer_digests`).
CUSTOMER = ("customer.name", "customer.email")
#: The key of when the shop's order was placed (``Order.ordered_at``, in
#: UTC, ISO 8601): which imported sale holds the shop's newest customer
#: name and e-mail (`placed_at`), not the sale imported last.
ORDERED_AT = "ordered_at"


def _digest(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def text_digest(text: str) -> str:
    """
    The digest of a party's name or e-mail (`customer_digests`).
    """
    return _digest(text)


def customer_digests(customer: Customer) -> dict[str, str]:
    """
    A digest of the name and the e-mail the party of *customer* takes
    (``customer.name``, ``customer.email``), kept with the order's (not
    compared with its sale: a customer who changed them in the shop
    changed no order) so a later order tells the shop's change of them
    from the merchant's edit of the party.
    """
    # as the party keeps them: Tryton strips surrounding spaces
    return {
        "customer.name": text_digest(full_name(customer).strip()),
        "customer.email": text_digest((customer.email or "").strip()),
    }


def _figure(value: Decimal | int) -> str:
    # one text per figure: the shop's 39.9 and 39.90 are one price
    return str(Decimal(value).normalize())


def order_digests(order: Order) -> dict[str, str]:
    """
    A digest of each of *order*'s `FIELDS` as the shop has it: its lines
    by article number, quantity and unit price (in any order), the
    addresses every field (`address_digest`, as earlier versions kept
    them in the sale's comment), the figures to their value.
    """
    lines = sorted(
        [line.article_number, _figure(line.quantity), _figure(line.unit_price)]
        for line in order.lines
    )
    return {
        "lines": _digest(lines),
        "currency": _digest(order.currency),
        "billing": address_digest(order.billing),
        "shipping": address_digest(order.shipping),
        "shipping_total": _digest(_figure(order.shipping_total)),
        "discount_total": _digest(_figure(order.discount_total)),
        "total": _digest(_figure(order.total)),
    }


def _moment(order: Order) -> str:
    return order.ordered_at.astimezone(UTC).isoformat()


def placed_at(recorded: dict[str, str]) -> datetime | None:
    """
    When the order whose digests are *recorded* was placed in the shop;
    ``None`` for one an earlier version recorded (or a note not read).
    """
    text = recorded.get(ORDERED_AT)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def order_note(order: Order, customer: dict[str, str] | None = None) -> str:
    """
    The line that records *order* as imported, with the
    digests of its customer (`customer_digests`), or *customer*'s.
    """
    if customer is None:
        customer = customer_digests(order.customer)
    digests = order_digests(order) | customer | {ORDERED_AT: _moment(order)}
    return order_line(digests)


def order_line(digests: Mapping[str, str]) -> str:
    """
    The line that records an order as imported by its *digests*
    (`order_note`; an earlier version's note, moved to the attachment).
    """
    return ORDER_MARK + json.dumps(dict(digests), sort_keys=True)


def _parsed(text: str) -> dict[str, str] | None:
    if not text.startswith(ORDER_MARK):
        return None
    try:
        digests = json.loads(text[len(ORDER_MARK) :])
    except ValueError:
        return None
    if not isinstance(digests, dict):
        return None
    return {k: v for k, v in digests.items() if isinstance(v, str)}


def recorded_digests(
    row: Mapping[str, Any],
) -> tuple[dict[str, str], tuple[str, int] | None]:
    """
    The digests the sale *row* (read with `MARK_FIELDS` and
    ``notes.message``) records of its order as the shop sent it, and
    where: the `ORDER_MARK` line of its marks attachment (model, id);
    else, for a sale an earlier version imported, the newest of its notes
    that `order_note` wrote; else the addresses' digests its marks hold
    (an earlier version's comment line, moved to the attachment; none
    for a sale older still), and nowhere.
    """
    attachment = marks_attachment(row)
    if attachment is not None:
        for line in (attachment.get("description") or "").splitlines():
            digests = _parsed(line)
            if digests is not None:
                return digests, ("ir.attachment", int(attachment["id"]))
    notes = row.get("notes.") or []
    for note in sorted(notes, key=lambda n: -int(n["id"])):
        digests = _parsed(note.get("message") or "")
        if digests is not None:
            return digests, ("ir.note", int(note["id"]))
    return imported_addresses(sale_marks(row)), None
