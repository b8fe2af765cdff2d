"""
What the Shopify stock writer says about a level it does not write, and
the most Shopify keeps of one item at one location.

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..._model import StockLevel


#: Shopify refuses a quantity above this (INVALID_QUANTITY_TOO_HIGH, "The
#: total quantity can't be higher than 1,000,000,000.") or below its
#: negative (INVALID_QUANTITY_TOO_LOW): shopify.dev, admin-graphql enum
#: InventorySetQuantitiesUserErrorCode.
MAX_LEVEL = 1_000_000_000


def not_stocked(number: str, location: str) -> str:
    """
    Why stock for a location that does not stock the item is not
    written: ecomsync stocks the variants it makes where it writes
    stock, so the item was taken off that location in Shopify, maybe on
    purpose; stocking it again is the merchant's call.
    """
    return (
        f"{number!r} is not stocked at Shopify location "
        f"{location} (taken off it in Shopify, or never stocked "
        "there): "
        "ecomsync does not stock it there again on its own; activate it "
        "at that location in Shopify (product > inventory > locations), "
        "or send its stock elsewhere"
    )


def held(number: str, location: str) -> str:
    """
    Why a level of an article whose stock moves (some of it is taken off
    a location) is not written at *location*, new to it: another level
    of it was refused at its new place, so the article's old locations
    keep what they had, and stock arriving here would sell twice.
    """
    return (
        f"{number!r}: not written at Shopify location {location}: its "
        "stock moves to other locations and one of them refused it (see "
        "its other level), so it moves to no new location until all of "
        "it can; its old locations keep selling what they had, none of "
        "it twice"
    )


def summed_at(
    levels: Sequence[StockLevel], group: Sequence[int], location: str
) -> str:
    """
    Where a quantity summed from several warehouses' levels comes from.
    """
    if len(group) == 1:
        return ""
    names = ", ".join(repr(levels[i].warehouse) for i in group)
    return f" at location {location!r} (the sum of warehouses {names})"


def too_much(
    number: str,
    quantity: int,
    levels: Sequence[StockLevel],
    group: Sequence[int],
    location: str,
) -> str:
    """
    Why *quantity* of *number* (the levels *group* of *levels*, summed at
    *location*) is not written: beyond what Shopify keeps.
    """
    return (
        f"quantity {quantity} of {number!r}"
        f"{summed_at(levels, group, location)} is beyond what Shopify keeps "
        f"at a location (-{MAX_LEVEL:,} to {MAX_LEVEL:,}); its stock "
        "there was not written"
    )


__all__ = ["MAX_LEVEL", "held", "not_stocked", "summed_at", "too_much"]
