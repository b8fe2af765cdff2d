"""
The negative-stock policy every adapter shares.

A `StockLevel` may be negative (the ERP sold more than it has); a platform
writes it only if the host allows backorders (``allow_backorders=True`` on
the adapter).  Otherwise the record fails on ``quantity``, nothing of it is
written, and the rest of the push lands.  The adapters decide *which*
quantity is checked (Shopify: the sum per location); this module says
whether it is refused, and in one wording for all of them.

Private: each adapter's ``allow_backorders`` is the public face.
"""

from __future__ import annotations


#: The field a refused negative level fails on.
FIELD = "quantity"


def negative_stock(
    number: str,
    quantity: int,
    *,
    platform: str,
    option: str,
    allowed: bool,
    where: str = "",
) -> tuple[str, str] | None:
    """
    ``(message, field)`` if *quantity* of record *number* is refused as
    negative stock, else ``None`` (not negative, or backorders *allowed*).

    *platform* is the shop's name as the message shows it (``Shopware
    6``), *option* the class whose ``allow_backorders=True`` lets it
    through (``Shopware6``); *where* says more about the quantity, e.g.
    the location a sum goes to, and starts with a space.
    """
    if quantity >= 0 or allowed:
        return None
    return (
        f"quantity {quantity} of {number!r}{where} is negative: {platform} "
        f"takes negative stock only with {option}(allow_backorders=True)",
        FIELD,
    )


__all__ = ["FIELD", "negative_stock"]
