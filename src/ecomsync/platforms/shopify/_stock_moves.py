"""
A warehouse moved to another location: its stock taken off the location
it left, in the same ``inventorySetQuantities`` call that writes it at
the new one, so it is never on sale at both.

Each level's platform id records where its article's stock was written
(`placed_id`: the inventory item and the locations), so the store keeps
it per article as the level's link: for each article a push writes, the
locations that link names and none of the push's levels goes to under
the settings (`aimed_at`: sent or failed) are set to 0.  A level that
failed keeps its old link, so it is taken off its old place whenever it
lands, however many runs later.  An article without a stock link has
had no stock written by ecomsync: nothing is taken off.  An article
whose link names no locations (written before) falls back to the
layout the engine says its stock was last written under in full
(`~ecomsync.typing.SupportsStockMoves`), the text `layout_of` made of
the settings then: the locations its levels went to under it.  Only
those places (ecomsync wrote there), never another location (a POS
store's own stock is not ecomsync's).

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence

from ..._model import StockLevel


__all__ = [
    "OldLayout",
    "aimed_at",
    "layout_of",
    "parse_layout",
    "placed_id",
    "places_of",
    "taken_off",
]

#: Between the inventory item and the locations in a level's platform id.
_AT = " at "

#: A layout as written: the default location (None: the shop's primary)
#: and the warehouse -> location map (None: stock is summed).
OldLayout = tuple[str | None, dict[str, str] | None]


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


def parse_layout(layout: str) -> OldLayout | None:
    """
    The settings *layout* was made of; None if it is not one this
    adapter wrote (nothing is taken off then).
    """
    if layout == "":
        return None, None
    try:
        location, locations = json.loads(layout)
    except (ValueError, TypeError):
        return None
    if location is not None and not isinstance(location, str):
        return None
    if locations is not None and not (
        isinstance(locations, dict)
        and all(isinstance(v, str) for v in locations.values())
    ):
        return None
    return location, locations


def placed_id(item: str, places: Iterable[str]) -> str:
    """
    A written level's platform id: its inventory item *item*, and the
    locations its article's stock was written at (*places*).
    """
    return item + _AT + ",".join(sorted(places))


def places_of(platform_id: str | None) -> set[str] | None:
    """
    The locations a level's platform id (`placed_id`) names; None where
    it names none (a link from before: the kept layout tells).
    """
    if platform_id is None or _AT not in platform_id:
        return None
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


def taken_off(
    levels: Sequence[StockLevel],
    todo: Sequence[int],
    written: Mapping[str, set[str]],
    old_default: str | None,
    old_places: Mapping[str, str] | None,
) -> list[tuple[str, str]]:
    """
    ``(article, location GID)`` to set to 0: where the levels *todo* of
    an article *written* (number -> the locations its levels go to now,
    `aimed_at`) went under the old layout (*old_default*, *old_places*:
    resolved GIDs, a location the shop no longer has left out) and go no
    more.
    """
    old: dict[str, set[str]] = {}
    for i in todo:
        level = levels[i]
        if level.number not in written:
            continue  # nothing written for it: nothing moves
        if level.warehouse is None:
            place = old_default
        elif old_places is None:
            place = None  # refused then: never written
        else:
            place = old_places.get(level.warehouse)
        if place is not None:
            old.setdefault(level.number, set()).add(place)
    return [
        (number, place)
        for number, places in old.items()
        for place in sorted(places - written[number])
    ]
