"""
A warehouse moved to another location: its stock taken off the location
it left, in the same ``inventorySetQuantities`` call that writes it at
the new one, so it is never on sale at both.

The engine tells the adapter the layout its stock was last written under
in full (`~ecomsync.typing.SupportsStockMoves`), the text `layout_of` made
of the settings then.  For each article a push writes, the locations its
levels went to under that layout and no longer go to are set to 0: only
those (ecomsync wrote there), never another location (a POS store's own
stock is not ecomsync's).

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ..._model import StockLevel


__all__ = ["OldLayout", "layout_of", "parse_layout", "taken_off"]

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


def taken_off(
    levels: Sequence[StockLevel],
    todo: Sequence[int],
    written: Mapping[str, set[str]],
    old_default: str | None,
    old_places: Mapping[str, str] | None,
) -> list[tuple[str, str]]:
    """
    ``(article, location GID)`` to set to 0: where the levels *todo* of
    an article *written* (number -> the locations it is written at now)
    went under the old layout (*old_default*, *old_places*: resolved
    GIDs, a location the shop no longer has left out) and go no more.
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
