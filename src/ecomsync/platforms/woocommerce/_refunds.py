"""
What an order's refunds took back, summed from WooCommerce's refund
objects (``GET orders/<id>/refunds``).

Private: read by `._orders`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from ._common import Row


def amount_of(value: Any) -> Decimal:
    try:
        return Decimal(str(value or "0"))
    except InvalidOperation:
        return Decimal(0)


@attrs.frozen
class Refunded:
    """
    What an order's refunds took back: units per order line item
    (``_refunded_item_id``), gross shipping, money in all, and money
    refunded without any item (goodwill).
    """

    units: dict[int, int]
    shipping: Decimal
    money: Decimal
    money_alone: Decimal


def _refunded_item(item: Row) -> int | None:
    for meta in item.get("meta_data") or []:
        if isinstance(meta, dict) and meta.get("key") == "_refunded_item_id":
            value = str(meta.get("value") or "")
            return int(value) if value.isdigit() else None
    return None


def sum_refunds(refunds: Sequence[Row]) -> Refunded:
    """
    Sum *refunds* (WooCommerce's refund objects: line items with negative
    quantities and money, ``amount`` positive).  A refund line item that
    names no order line item counts as no unit, so the money it took
    leaves the order short and the order fails on its total.
    """
    units: dict[int, int] = {}
    shipping = money = alone = Decimal(0)
    for refund in refunds:
        amount = amount_of(refund.get("amount"))
        money += amount
        items = refund.get("line_items") or []
        ships = refund.get("shipping_lines") or []
        if not items and not ships and not refund.get("fee_lines"):
            alone += amount
        for item in items:
            origin = _refunded_item(item)
            try:
                taken = -int(item.get("quantity") or 0)
            except (TypeError, ValueError):
                taken = 0
            # an item that names no line, or no units, takes none: its
            # money then leaves the order short (fails on its total)
            if origin is not None and taken > 0:
                units[origin] = units.get(origin, 0) + taken
        for ship in ships:
            shipping -= amount_of(ship.get("total")) + amount_of(
                ship.get("total_tax")
            )
    return Refunded(units, shipping, money, alone)
