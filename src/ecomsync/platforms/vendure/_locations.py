"""
Stock locations of the Vendure adapter: which location of a channel is
its default one, and the ERP warehouse -> location mapping, resolved
from the settings' location names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from ...exceptions import ConfigurationError


#: What `resolve_locations` needs of each stock location.
LOCATION_FIELDS = "id name createdAt"


def _oldest(location: Mapping[str, str]) -> tuple[datetime, int, int | str]:
    """
    The order of Vendure's ``defaultStockLocation``: by ``createdAt``,
    then by id (numeric ids as numbers).
    """
    created = datetime.fromisoformat(
        location["createdAt"].replace("Z", "+00:00")
    )
    ident = str(location["id"])
    return (created, 0, int(ident)) if ident.isdigit() else (created, 1, ident)


def no_location(channel: str) -> str:
    """
    Why the channel with code *channel* takes no stock.
    """
    return (
        f"Vendure's channel {channel!r} has no stock location, so its "
        "variants can hold no stock (Vendure sells only what the "
        "channel's locations hold); assign a stock location to the "
        "channel in Vendure"
    )


def resolve_locations(
    locations: Sequence[Mapping[str, str]],
    default_name: str | None,
    mapping: Mapping[str, str] | None,
    *,
    channel: str,
) -> tuple[str, dict[str, str]]:
    """
    The default location's id and the warehouse -> location id map, from
    the channel's *locations* (``id``, ``name``, ``createdAt`` each).

    Without *default_name* the default is the location Vendure itself
    takes as the channel's default (``StockLocationService.
    defaultStockLocation``: the oldest, then the lowest id), not the
    first one listed: Vendure lists them in no defined order.

    Raises:
        ConfigurationError: The channel (code *channel*) has no stock
            location, a configured location does not exist (all
            missing names in one message, with the ones that do), or
            its name is held by several locations.
    """
    if not locations:
        raise ConfigurationError(no_location(channel))
    ids: dict[str, list[str]] = {}
    for location in locations:
        ids.setdefault(location["name"], []).append(str(location["id"]))
    wanted = [default_name] if default_name is not None else []
    wanted += list((mapping or {}).values())
    missing = sorted({name for name in wanted if name not in ids})
    if missing:
        raise ConfigurationError(
            "Vendure has no stock location named "
            + ", ".join(repr(m) for m in missing)
            + "; it has "
            + ", ".join(repr(n) for n in sorted(ids))
        )
    shared = sorted({name for name in wanted if len(ids[name]) > 1})
    if shared:
        raise ConfigurationError(
            "Vendure has several stock locations named "
            + "; ".join(
                f"{name!r} (ids {', '.join(ids[name])})" for name in shared
            )
            + "; rename them in Vendure so that each name is one location"
        )
    default = (
        ids[default_name][0]
        if default_name is not None
        else str(min(locations, key=_oldest)["id"])
    )
    return default, {
        code: ids[name][0] for code, name in (mapping or {}).items()
    }


__all__ = ["LOCATION_FIELDS", "no_location", "resolve_locations"]
