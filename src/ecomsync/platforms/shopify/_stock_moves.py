"""
A warehouse moved to another location: its stock taken off the location
it left, in the same ``inventorySetQuantities`` call that writes it at
the new one, so it is never on sale at both.

Each level's platform id records where its article's stock was written
(`placed_id`: the inventory item and the locations), so the store keeps
it per article as the level's link and hands it back with the next push
(``Outgoing.platform_id``): for each article a push writes, the
locations that link names and none of the push's levels goes to under
the settings (`aimed_at`: sent or failed) are set to 0.  A level that
failed keeps its old link, so it is taken off its old place whenever it
lands, however many runs later.  An article without a stock link has
had no stock written by ecomsync: nothing is taken off.  Only the places
a link names (ecomsync wrote there), never another location (a POS
store's own stock is not ecomsync's).

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence

from ..._model import StockLevel


__all__ = [
    "aimed_at",
    "layout_of",
    "placed_id",
    "places_of",
]

#: Between the inventory item and the locations in a level's platform id.
_AT = " at "


def layout_of(
    location: str | None, locations: Mapping[str, str] | None
) -> str:
    """
    The stock layout of these settings (`SupportsStockLayout`): ``""``
    with neither set (stock goes to the primary location), as before.
    """
    if location is None and locations is None:
        return ""
    return json.dumps(
        [location, None if locations is None else dict(locations)],
        sort_keys=True,
        separators=(",", ":"),
    )


def placed_id(item: str, places: Iterable[str]) -> str:
    """
    A written level's platform id: its inventory item *item*, and the
    locations its article's stock was written at (*places*).
    """
    return item + _AT + ",".join(sorted(places))


def places_of(platform_id: str | None) -> set[str]:
    """
    The locations a level's platform id (`placed_id`) names: none
    without one (no stock of the article's written yet).
    """
    if platform_id is None or _AT not in platform_id:
        return set()
    return {p for p in platform_id.split(_AT, 1)[1].split(",") if p}


def aimed_at(
    levels: Sequence[StockLevel],
    todo: Sequence[int],
    place: Callable[[StockLevel], str],
) -> dict[str, set[str]]:
    """
    Article -> the locations its levels *todo* go to under the settings
    (*place*), sent or not: a level that failed before it was sent still
    goes to its place, which keeps what it had (its failure says its
    stock there was not written), never a 0.
    """
    aimed: dict[str, set[str]] = {}
    for i in todo:
        aimed.setdefault(levels[i].number, set()).add(place(levels[i]))
    return aimed
