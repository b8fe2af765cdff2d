"""
The shop's locations, read once, and the location settings (a default
location, a warehouse -> location map) resolved against them.

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...exceptions import ConfigurationError
from ._client import GraphQL


__all__ = ["ALL_LOCATIONS", "read_locations", "resolve_locations"]

ALL_LOCATIONS = """
query($after: String) { primary: location { id }
  locations(first: 250, after: $after) {
    pageInfo { hasNextPage endCursor } nodes { id name } } }
"""


async def read_locations(
    api: GraphQL, *, retry: bool = True
) -> tuple[dict[str, str], str | None]:
    """
    The shop's locations, name -> GID (the first of a name kept), page
    by page: one request for up to 250 locations; and the GID of its
    primary location (None if the shop gave none).
    """
    known: dict[str, str] = {}
    primary: str | None = None
    after: str | None = None
    while True:
        data = await api.call(
            ALL_LOCATIONS,
            {"after": after},
            cost=253,
            what="locations",
            retry=retry,
        )
        if primary is None and data.get("primary"):
            primary = str(data["primary"]["id"])
        page = data["locations"]
        for node in page["nodes"]:
            known.setdefault(str(node["name"]), str(node["id"]))
        if not page["pageInfo"]["hasNextPage"]:
            return known, primary
        after = page["pageInfo"]["endCursor"]


def resolve_locations(
    known: Mapping[str, str],
    default: str | None,
    mapping: Mapping[str, str],
    primary: str | None = None,
) -> tuple[str, dict[str, str]]:
    """
    The default location's GID and the warehouse -> location GID map;
    *known* maps the shop's location names to their GIDs, and a
    location is named by its name or its GID.  Without *default* it is
    the shop's *primary* location (else the first listed).

    Raises:
        ConfigurationError: A location the shop does not have (all of
            them in one message, with the names it has).
    """
    if not known:
        raise ConfigurationError("the Shopify shop has no location")
    gids = set(known.values())

    def gid_of(location: str) -> str | None:
        return location if location in gids else known.get(location)

    wanted = ([] if default is None else [("location", default)]) + [
        (f"locations[{warehouse!r}]", location)
        for warehouse, location in mapping.items()
    ]
    missing = [(k, v) for k, v in wanted if gid_of(v) is None]
    if missing:
        raise ConfigurationError(
            "Shopify has no location "
            + ", ".join(f"{v!r} ({k})" for k, v in missing)
            + "; it has "
            + ", ".join(repr(name) for name in sorted(known))
        )
    first = primary if primary in gids else next(iter(known.values()))
    return (
        first if default is None else str(gid_of(default)),
        {w: str(gid_of(loc)) for w, loc in mapping.items()},
    )
