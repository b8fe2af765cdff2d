"""
Judging a shop order against the Tryton sales that hold it: which sale is
the order's, whether stored values are the shop's (and which addresses
the shop sent), whether a sale the ERP cancelled may take the order
again, and the lines beyond its articles a sale books.  Pure: no RPC;
`_tryton_orders` asks, this module answers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from contextlib import suppress
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import attrs

from .._model import Address, Customer, Order
from .._record_checks import minor_unit


#: The name of the attachment (``ir.attachment``) of a sale ecomsync
#: imported that holds its marks, one a line (`sale_mark`,
#: `CANCELLED_MARK`, the shop's order as imported: `_tryton_shop_order`).
#: Not its comment: Tryton prints the comment, the description and the
#: reference on the sale's documents (sale/sale.fodt), which the customer
#: is given; nor a note (``ir.note``): unread by every user, each sale
#: showed an unread-note badge.  Sales earlier versions imported hold
#: their marks in the comment (and the shop's order in a note): both are
#: read (`sale_marks`), and moved to the attachment when an import finds
#: the sale (`_tryton_marks`).  A sale whose marks the merchant deleted
#: is still found by its customer's party (`customer_sales`).
MARKS_ATTACHMENT = "Shop order (ecomsync)"
#: The fields of ``sale.sale`` that `sale_marks` reads the marks from.
MARK_FIELDS = ["comment", "attachments.name", "attachments.description"]
#: The fields of ``sale.sale`` that `customer_sales` reads its party's
#: identifiers from (in the call that finds the sales: no call more).
PARTY_CODE_FIELDS = ["party.identifiers.code", "party.identifiers.type"]
#: The line a sale's marks take when the shop cancelled its order once
#: the merchant handled it (Tryton cannot cancel a processed sale): order
#: status reads such a sale as cancelled.
CANCELLED_MARK = "Cancelled in the shop (ecomsync)"
#: The start of the marks' line that names the platform a sale's order
#: came from (``Order.platform``), followed by the name as a JSON string:
#: two platforms' order "1001" are two sales, each found by its own.
PLATFORM_MARK = "Platform (ecomsync): "
#: The marks' line of a sale imported for an order that names no
#: platform (``Order.platform`` ``None``: `import_orders` called outside
#: the engine).  A sale with neither this nor a `PLATFORM_MARK` line was
#: not made by ecomsync (by hand, its ``reference`` a customer's PO
#: number that may equal a shop's order number): never an order's sale,
#: never read as an order's status.  Every release writes one of them.
IMPORTED_MARK = "Imported (ecomsync)"
#: The descriptions of the sale lines that carry an order's shipping, its
#: order-level discount and the platform's rounding (lines without a
#: product: Tryton neither ships nor stocks them).
SHIPPING_LINE = "Shipping"
DISCOUNT_LINE = "Discount"
ROUNDING_LINE = "Rounding difference"
#: The start of the comment line in which earlier versions kept a digest
#: of the billing and the shipping address as the shop sent them
#: (`addresses_line`), read for the sales they imported (and moved to the
#: marks attachment, `_tryton_marks`); the import now keeps the whole
#: order's digests there (`_tryton_shop_order`).
ADDRESSES_MARK = "Shop addresses (ecomsync): "


def marks_attachment(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """
    The attachment (``id``, ``description``) that holds the marks of the
    sale *row* (read with `MARK_FIELDS`), ``None`` for a sale an earlier
    version imported (or not ecomsync).
    """
    for attachment in row.get("attachments.") or []:
        if attachment.get("name") == MARKS_ATTACHMENT:
            return dict(attachment)
    return None


def marks_values(sale: int | None, text: str) -> dict[str, Any]:
    """
    The values of the marks attachment (`MARKS_ATTACHMENT`) holding the
    lines *text*, of sale *sale* (``None``: created with the sale).
    """
    values = {"name": MARKS_ATTACHMENT, "type": "data", "description": text}
    if sale is not None:
        values["resource"] = f"sale.sale,{sale}"
    return values


def sale_marks(row: Mapping[str, Any]) -> str:
    """
    The lines that mark the sale *row* (read with `MARK_FIELDS`): its
    comment's, where earlier versions wrote them, and its marks
    attachment's (`MARKS_ATTACHMENT`).
    """
    attachment = marks_attachment(row) or {}
    texts = (row.get("comment"), attachment.get("description"))
    return "\n".join(text for text in texts if text)


def address_digest(address: Address) -> str:
    """
    A short digest of *address* as the shop has it, every field.
    """
    text = json.dumps(attrs.astuple(address), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def addresses_line(order: Order) -> str:
    """
    The comment line that earlier versions wrote to record *order*'s
    addresses as imported.
    """
    billing, shipping = (
        address_digest(order.billing),
        address_digest(order.shipping),
    )
    return f"{ADDRESSES_MARK}{billing} {shipping}"


def imported_addresses(comment: str | None) -> dict[str, str]:
    """
    The digests a sale's *comment* records of its order's ``billing``
    and ``shipping`` address as imported (`addresses_line`); none for a
    sale imported before they were recorded.
    """
    for line in (comment or "").splitlines():
        if line.startswith(ADDRESSES_MARK):
            digests = line[len(ADDRESSES_MARK) :].split()
            if len(digests) == 2:
                return dict(zip(("billing", "shipping"), digests, strict=True))
    return {}


def platform_line(platform: str) -> str:
    """
    The comment line that marks a sale as *platform*'s.
    """
    return PLATFORM_MARK + json.dumps(platform, ensure_ascii=False)


def sale_platform(comment: str | None) -> str | None:
    """
    The platform a sale's *comment* names (`platform_line`), or ``None``
    for a sale made before imports named it (or by hand).
    """
    for line in (comment or "").splitlines():
        if line.startswith(PLATFORM_MARK):
            with suppress(ValueError):
                name = json.loads(line[len(PLATFORM_MARK) :])
                if isinstance(name, str):
                    return name
    return None


def is_imported(comment: str | None) -> bool:
    """
    Whether a sale's *comment* says ecomsync made it (`PLATFORM_MARK`
    or `IMPORTED_MARK`).
    """
    lines = (comment or "").splitlines()
    return IMPORTED_MARK in lines or sale_platform(comment) is not None


def sale_mark(platform: str | None) -> str:
    """
    The comment line of a sale ecomsync makes for an order of *platform*.
    """
    return IMPORTED_MARK if platform is None else platform_line(platform)


def with_line(comment: str | None, line: str) -> str:
    """
    *comment* with *line* added at its end.
    """
    return f"{comment}\n{line}" if comment else line


def own_sales(
    order: Order, rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """
    The sales among *rows* (those holding *order*'s number, read with
    `MARK_FIELDS`) that may be *order*'s: those marked as its platform's,
    else those imported for no platform (`IMPORTED_MARK`).  A sale of
    another platform's order with the same number never is, nor one
    ecomsync did not make.  An order that names no platform matches any
    sale ecomsync made.
    """
    if order.platform is None:
        return [r for r in rows if is_imported(sale_marks(r))]
    return platform_sales(order.platform, rows)


def platform_sales(
    platform: str, rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """
    The sales among *rows* (of one order number, read with `MARK_FIELDS`)
    that are *platform*'s: those marked as its, else those imported for
    no platform (`IMPORTED_MARK`).  Sales ecomsync did not make are no
    platform's.
    """
    rows = [r for r in rows if is_imported(sale_marks(r))]
    marks = [sale_platform(sale_marks(row)) for row in rows]
    mine = [r for r, m in zip(rows, marks, strict=True) if m == platform]
    return mine or [r for r, m in zip(rows, marks, strict=True) if m is None]


def party_code(number: str, platform: str | None) -> str:
    """
    The party identifier code of customer *number* of *platform*: the
    number itself for no platform (as before platforms were told apart),
    else ``platform:number``, a ``:`` or ``\\`` in the platform's name
    escaped by a ``\\`` (so no two platforms' codes can meet).
    """
    if platform is None:
        return number
    escaped = platform.replace("\\", "\\\\").replace(":", "\\:")
    return f"{escaped}:{number}"


def refuse_reopened(order: Order, sale: int, row: Any) -> None:
    """
    Fail *order* on ``state`` when the shop has it (open, in progress,
    ...) but its sale was cancelled: cancelled by Tryton, or processed
    and marked `CANCELLED_MARK` once the merchant handled the shop's
    cancellation.  ecomsync does not revive a cancelled sale (the ERP may
    have cancelled it on purpose, its stock is freed); the merchant does,
    or cancels the order in the shop again.
    """
    name = f"Tryton sale {row.get('number') or ''} (id {sale})"
    if row["state"] == "cancelled":
        advice = (
            "reset the sale to draft in Tryton (the next import confirms "
            "it) or cancel the order in the shop again"
        )
    elif is_marked_cancelled(sale_marks(row)):
        advice = (
            f"delete the line {CANCELLED_MARK!r} from the sale's "
            f"attachment {MARKS_ATTACHMENT!r}, "
            "then make it ship again in Tryton, or cancel the order in the "
            "shop again"
        )
    else:
        return
    raise SaleRejected(
        f"order {order.number} is {order.state.value} in the shop again, "
        f"but {name} was cancelled for it: {advice}",
        "state",
    )


def is_marked_cancelled(comment: str | None) -> bool:
    """
    Whether a sale's *comment* holds `CANCELLED_MARK` on a line.
    """
    return CANCELLED_MARK in (comment or "").splitlines()


def customer_sales(
    order: Order, rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """
    The sales among *rows* (those holding *order*'s number, read with
    `MARK_FIELDS` and `PARTY_CODE_FIELDS`) that carry no marks at all but
    are booked on the party of *order*'s customer (its identifier
    `party_code`): sales ecomsync imported whose marks the merchant
    deleted (the attachment, or an older sale's comment lines).  Not
    taking them would book the shop order a second time, silently; a
    sale of another platform's customer, or of a party without the
    code (the merchant's own customer, a PO number in its reference),
    is never one.
    """
    code = party_code(order.customer.number, order.platform)
    return [
        row
        for row in rows
        if not is_imported(sale_marks(row))
        and any(
            identifier.get("code") == code and not identifier.get("type")
            for identifier in (row.get("party.") or {}).get("identifiers.")
            or []
        )
    ]


def is_mark(line: str) -> bool:
    """
    Whether *line* (of a sale's comment) is one of ecomsync's marks,
    which `sale_marks` reads: those earlier versions wrote there.
    """
    return line in (IMPORTED_MARK, CANCELLED_MARK) or line.startswith(
        (PLATFORM_MARK, ADDRESSES_MARK)
    )


def the_sale(order: Order, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """
    The sale of *order* among the sales holding its number (*rows*, by
    id): the one not cancelled.  Two imports at once from separate
    processes (which `TrytonErp` does not hold apart) can leave two: the
    order fails on ``number`` naming them, never "first wins", for the
    merchant to cancel all but one.
    """
    live = [row for row in rows if row.get("state") != "cancelled"]
    if len(live) > 1:
        names = ", ".join(
            f"{row.get('number') or 'draft'} (id {row['id']})" for row in live
        )
        raise SaleRejected(
            f"order {order.number} is in Tryton {len(live)} times, as the "
            f"sales {names}: cancel all but one by hand",
            "number",
        )
    return (live or list(rows))[0]


def same_values(row: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """
    Whether the ``party.address`` *row* holds *values*.  Text compares
    without surrounding whitespace: Tryton strips it from the name,
    postal code and city it stores (not from the street), so a shop's
    ``"Berlin "`` is kept as ``"Berlin"``.
    """
    return not differences(row, values)


def differences(
    row: Mapping[str, Any], values: Mapping[str, Any]
) -> list[str]:
    """
    The keys of *values* whose value the ``party.address`` *row* does
    not hold (as `same_values` compares).
    """

    def kept(value: Any) -> Any:
        if isinstance(value, str | None):
            return (value or "").strip()
        return value

    return [k for k, v in values.items() if kept(row.get(k)) != kept(v)]


def full_name(customer: Customer) -> str:
    name = f"{customer.first_name} {customer.last_name}".strip()
    return name or customer.email or customer.number


class SaleRejected(Exception):
    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.field = field


def charges(
    order: Order, prices: Sequence[Decimal], places: int | None
) -> list[dict[str, Any]]:
    """
    Sale lines without a product for what the order holds beyond its
    articles, so the sale comes to the order's total: its shipping,
    its discount (a negative price), and the cents by which Tryton's
    rounding of each line's amount (quantity x unit price to the
    currency's unit, half to even) misses the shop's total, which the
    order check allows (one minor unit per rounded amount).
    """
    unit = minor_unit(order.currency)
    places = places if places is not None else 4
    quantum = Decimal(1).scaleb(-places)
    amounts = [
        (SHIPPING_LINE, order.shipping_total),
        (DISCOUNT_LINE, -order.discount_total),
    ]
    booked = [
        (label, amount.quantize(quantum, ROUND_HALF_EVEN))
        for label, amount in amounts
        if amount
    ]
    total = sum(
        (
            (Decimal(line.quantity) * price).quantize(unit, ROUND_HALF_EVEN)
            for line, price in zip(order.lines, prices, strict=True)
        ),
        Decimal(0),
    ) + sum(
        (amount.quantize(unit, ROUND_HALF_EVEN) for _, amount in booked),
        Decimal(0),
    )
    difference = order.total.quantize(unit, ROUND_HALF_EVEN) - total
    if difference:
        booked.append((ROUNDING_LINE, difference))
    return [
        {
            "type": "line",
            "description": label,
            "quantity": 1.0,
            "unit_price": amount,
        }
        for label, amount in booked
    ]
