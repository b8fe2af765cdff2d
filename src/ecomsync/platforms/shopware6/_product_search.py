"""
What the shop holds of an article batch's products, searched with what a
write replaces; with ``sole_writer``, not searched where the shop cannot
hold them (it held no product at first, and this adapter sent none of
them).

Part of the catalogue (`_catalogue`): it reads products through the
`AdminApi` and writes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
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


#: Whether the shop holds any product, asked in the tax look-up a first
#: sync makes anyway (`ProductSearch.current`): every parent product has
#: a ``taxId`` (``ProductDefinition``: ``FkField tax_id``, ``Required``,
#: inherited by variants; the column is a foreign key to ``tax``), so a
#: shop holds a product exactly when some tax has one.  The ``products``
#: association is a LEFT JOIN, so a tax without products is a row whose
#: product id is NULL, which ``terms`` would answer as a bucket keyed
#: ``""`` (EntityAggregator::groupBuckets): the ``filter`` aggregation
#: keeps only joined rows, and its ``terms`` on ``products.id`` asks
#: ``GROUP BY product.id LIMIT 1`` as `_ANY_PRODUCT` does
#: (EntityAggregator::parseFilterAggregation, parseTermsAggregation;
#: shopware/shopware src/Core/Framework/DataAbstractionLayer/Dbal/
#: EntityAggregator.php).  The look-up's own filter goes as a
#: post-filter, which aggregations ignore.
ANY_PRODUCT_BY_TAX = {
    "name": "ecomsync-taxed-products",
    "type": "filter",
    "filter": [
        {
            "type": "not",
            "operator": "and",
            "queries": [
                {"type": "equals", "field": "products.id", "value": None}
            ],
        }
    ],
    "aggregation": {
        "name": "ecomsync-any-product",
        "type": "terms",
        "field": "products.id",
        "limit": 1,
    },
}


def held_any(aggregations: dict[str, Any]) -> bool | None:
    """
    Whether `_ANY_PRODUCT` (or `ANY_PRODUCT_BY_TAX`, answered under its
    inner aggregation's name) found a product; None if the answer lacks
    it.
    """
    found = aggregations.get(str(_ANY_PRODUCT["name"]))
    buckets = found.get("buckets") if isinstance(found, dict) else None
    if not isinstance(buckets, list):
        return None
    # A bucket keyed "" is a NULL product id: no product.
    return any(isinstance(b, dict) and b.get("key") for b in buckets)


#: Asks, in a request the first sync makes anyway, whether the shop
#: holds no product at all (None: the answer did not say).
EmptyProbe = Callable[[], Awaitable[bool | None]]


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
        self,
        items: Sequence[Outgoing],
        send: Sequence[int],
        ids: list[str],
        probe: EmptyProbe | None = None,
    ) -> dict[str, dict[str, Any]]:
        """
        What the shop holds of the products *ids* (an article batch's
        articles and variants), with what a write replaces.

        With `sole_writer`, the first batch asks whether the shop holds
        any product at all, and counts nothing.  If none of its records
        is linked in the store (a first sync), *probe* asks it in the tax
        look-up the batch needs anyway (`ANY_PRODUCT_BY_TAX`); if the
        shop held none, the batch itself is not searched either.  Else
        the batch's search asks it (`_ANY_PRODUCT`); either way a
        post-filter does not restrict aggregations, so no extra request.
        If it held none, the only products since are the ones this
        adapter wrote, so a later batch none of whose records the store
        links and none of whose ids this adapter has sent holds nothing
        in the shop: it is not searched.
        Anything else is searched, as is every batch of a shop that held
        products (a lost store), and every batch without `sole_writer`:
        another process may have written any product since.
        """
        if not self.sole_writer:
            return await self.products(ids, associations=True)
        unknown = all(items[i].platform_id is None for i in send)
        if self._probed is None:
            self._probed = anyio.Event()
            self._sent.add_all(ids)
            try:
                if unknown and probe is not None:
                    self._empty = await probe()
                    if self._empty:
                        return {}
                    return await self.products(ids, associations=True)
                return await self.products(ids, associations=True, probe=True)
            finally:
                if self._empty is None:
                    self._empty = False  # the probe failed: search
                self._probed.set()
        await self._probed.wait()
        unknown = unknown and not self._sent.any_of(ids)
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
                self._empty = held_any(aggregations) is False
            for row in rows:
                found[str(row["id"])] = row
        return found
