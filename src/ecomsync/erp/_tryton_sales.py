"""
Judging a shop order against the Tryton sales that hold it: which sale is
the order's, whether stored values are the shop's, and whether a sale the
ERP cancelled may take the order again.  Pure: no RPC; `_tryton_orders`
asks, this module answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._model import Customer, Order


#: The line an import adds to the comment of a sale whose order the shop
#: cancelled once the merchant handled it (Tryton cannot cancel a
#: processed sale): order status reads such a sale as cancelled.
CANCELLED_MARK = "Cancelled in the shop (ecomsync)"


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
    elif is_marked_cancelled(row.get("comment")):
        advice = (
            f"delete the line {CANCELLED_MARK!r} from the sale's comment, "
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

    def kept(value: Any) -> Any:
        if isinstance(value, str | None):
            return (value or "").strip()
        return value

    return all(kept(row.get(k)) == kept(v) for k, v in values.items())


def full_name(customer: Customer) -> str:
    name = f"{customer.first_name} {customer.last_name}".strip()
    return name or customer.email or customer.number


class SaleRejected(Exception):
    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.field = field
