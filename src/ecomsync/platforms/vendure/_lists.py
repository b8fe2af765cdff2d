"""
Vendure's settings lists the adapter reads whole (tax rates, stock
locations, channels): the first page inside a request that asks more,
the rest, where there is more, by key (`_pages.read_all`).  Vendure caps
none of them (a marketplace keeps a channel a seller, each with its
locations), and a list cut at its first page left a tax category, a
warehouse or another channel's locations unknown without a word.
"""

from __future__ import annotations

from . import _pages
from ._client import JSON, GraphQL
from ._locations import LOCATION_FIELDS


RATE_FIELDS = (
    "id createdAt value enabled zone { id } category { id name isDefault }"
)
CHANNEL_FIELDS = "id createdAt code token"

#: The item type of each list (its ``<Type>ListOptions``).
_TYPES = {
    "taxRates": "TaxRate",
    "stockLocations": "StockLocation",
    "channels": "Channel",
}


def first(root: str, fields: str = LOCATION_FIELDS) -> str:
    """
    The part of a query asking the first page of the list *root*, its
    items' *fields* (``id`` and ``createdAt`` among them) and its
    ``totalItems``.
    """
    return (
        f"{root}(options: {{ take: {_pages.TAKE} }}) "
        f"{{ totalItems items {{ {fields} }} }}"
    )


async def whole(
    gql: GraphQL,
    page: JSON,
    root: str,
    fields: str = LOCATION_FIELDS,
    *,
    channel: str | None = None,
) -> list[JSON]:
    """
    The rows of the list *root* whose first page (`first`) is *page*:
    its items, or, where they are fewer than its ``totalItems``, every
    row read again by key.  Requests: none for a list of one page.
    """
    items = list(page.get("items") or [])
    if len(items) >= int(page.get("totalItems") or 0):
        return items
    query = (
        f"query ($options: {_TYPES[root]}ListOptions) {{ "
        f"{root}(options: $options) {{ totalItems items {{ {fields} }} }} }}"
    )
    return await _pages.read_all(gql, query, root, {}, channel=channel)
