"""
What the shop holds of an article batch's products, searched with what a
write replaces; with ``sole_writer``, not searched where the shop cannot
hold them (it held no product at first, and this adapter sent none of
them).

Part of the catalogue (`_catalogue`): it reads products through the
`AdminApi` and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
import attrs

from ..._contracts import Outgoing
from ._catalogue_rows import WRITE_INCLUDES
from ._client import MAX_LIMIT, AdminApi
from ._sent import SentIds


#: Whether the shop holds any product (`ProductSearch.current`'s probe):
#: at most one bucket of a ``terms`` aggregation on ``id``, which Shopware
#: asks as ``GROUP BY product.id LIMIT 1`` (EntityAggregator::
#: parseTermsAggregation; shopware/shopware src/Core/Framework/
#: DataAbstractionLayer/Dbal/EntityAggregator.php).  Grouped by the primary
#: key's first column, the database reads the first product and stops; a
#: ``count`` aggregation (``COUNT(DISTINCT id)``) read every product of the
#: shop, a scan of half a million rows on a large catalogue.
_ANY_PRODUCT = {
    "name": "ecomsync-any-product",
    "type": "terms",
    "field": "id",
    "limit": 1,
}


def _held_any(aggregations: dict[str, Any]) -> bool | None:
    """
    Whether `_ANY_PRODUCT` found a product; None if the answer lacks it.
    """
    found = aggregations.get(str(_ANY_PRODUCT["name"]))
    buckets = found.get("buckets") if isinstance(found, dict) else None
    return bool(buckets) if isinstance(buckets, list) else None


@attrs.define
class ProductSearch:
    """
    The product searches of one `Catalogue`.
    """

    api: AdminApi
    #: Nothing but this adapter writes ecomsync's products into the shop.
    sole_writer: bool = attrs.field(default=False, kw_only=True)
    #: Whether the shop held no product at all when this adapter's first
    #: article batch searched (None: not known yet).
    _empty: bool | None = attrs.field(init=False, default=None)
    #: Set once `_empty` is known; the batches behind the first wait.
    _probed: anyio.Event | None = attrs.field(init=False, default=None)
    #: Every product id an article write of this adapter has sent (or is
    #: sending), articles and variants.
    _sent: SentIds = attrs.field(init=False, factory=SentIds)

    async def current(
        self, items: Sequence[Outgoing], send: Sequence[int], ids: list[str]
    ) -> dict[str, dict[str, Any]]:
        """
        What the shop holds of the products *ids* (an article batch's
        articles and variants), with what a write replaces.

        With `sole_writer`, the first batch's search also asks whether
        the shop holds any product at all (`_ANY_PRODUCT`: a post-filter
        does not restrict aggregations, so no extra request, and nothing
        is counted).  If it held none, the only products since are the
        ones this adapter wrote, so a later batch none of whose records
        the store links and none of whose ids this adapter has sent holds
        nothing in the shop: it is not searched.
        Anything else is searched, as is every batch of a shop that held
        products (a lost store), and every batch without `sole_writer`:
        another process may have written any product since.
        """
        if not self.sole_writer:
            return await self.products(ids, associations=True)
        if self._probed is None:
            self._probed = anyio.Event()
            self._sent.add_all(ids)
            try:
                current = await self.products(
                    ids, associations=True, probe=True
                )
            finally:
                if self._empty is None:
                    self._empty = False  # the probe failed: search
                self._probed.set()
            return current
        await self._probed.wait()
        unknown = not self._sent.any_of(ids) and all(
            items[i].platform_id is None for i in send
        )
        self._sent.add_all(ids)
        if self._empty and unknown:
            return {}
        return await self.products(ids, associations=True)

    async def products(
        self,
        ids: Sequence[str],
        *,
        associations: bool = False,
        probe: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """
        The products *ids* the shop holds, by id; with *probe*, the first
        search also tells `_empty`.
        """
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), MAX_LIMIT):
            part = unique[start : start + MAX_LIMIT]
            by_id = [{"type": "equalsAny", "field": "id", "value": part}]
            criteria: dict[str, Any] = {"filter": by_id, "limit": MAX_LIMIT}
            if probe and start == 0:
                # Aggregations see the filter, not the post-filter.
                del criteria["filter"]
                criteria["post-filter"] = by_id
                criteria["aggregations"] = [_ANY_PRODUCT]
            if associations:
                # What a write replaces: categories, product media, a
                # variant's options, a parent's configurator settings and
                # children (many-to-many writes only ever add).
                criteria["associations"] = {
                    "tax": {},
                    "categories": {},
                    "media": {"associations": {"media": {}}},
                    "options": {},
                    "configuratorSettings": {},
                    "children": {},
                }
                # Only the ids and flags a write compares: children are
                # whole products otherwise, and the answer grows with them.
                criteria["includes"] = WRITE_INCLUDES
            rows, aggregations = await self.api.listing("product", criteria)
            if probe and start == 0:
                self._empty = _held_any(aggregations) is False
            for row in rows:
                found[str(row["id"])] = row
        return found
