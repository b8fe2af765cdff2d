"""
The customer of an order and the ERP's customer of its number: Shopware
keeps customer numbers without a unique key, so one number can be two
shop customers' (``Customer.platform_id`` tells them apart).  An ERP that
finds a customer by its number keeps the platform's ids it booked orders
for, and refuses a new order of another one (`other_customer`).
"""

from __future__ import annotations

from collections.abc import Collection

from .._model import Order


def other_customer(order: Order, ids: Collection[str]) -> str | None:
    """
    Why *order* is not imported when the ERP's customer of its customer
    number was made for the platform's customers *ids* and the order's
    customer is another one; ``None`` when it may be booked there (the
    same customer, a customer kept without an id, an order giving none).
    """
    own = order.customer.platform_id
    if own is None or not ids or own in ids:
        return None
    number = order.customer.number
    shop = order.platform or "the shop"
    return (
        f"order {order.number}: customer number {number} is held by "
        f"{shop} customer {own}, and the ERP's customer {number} is "
        f"{shop} customer {', '.join(sorted(ids))}: not imported, it would "
        f"be booked onto the other customer (the shop keeps customer "
        f"numbers without a unique key); give each customer its own "
        f"number in the shop"
    )
