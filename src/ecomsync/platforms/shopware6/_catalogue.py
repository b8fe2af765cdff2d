"""
The catalogue: categories (parents first), articles with variants, prices,
category assignments and visibility, and stock levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import anyio
import attrs

from ..._contracts import Outcome, Outgoing
from ..._model import Article, Category, StockLevel, parents_first
from ._client import MAX_LIMIT, AdminApi
from ._mapping import (
    article_rows,
    category_id,
    category_payload,
    product_id,
    tax_id,
)
from ._media import Media, image_ids, product_media_fields
from ._writer import (
    Built,
    Failure,
    Operation,
    Writer,
    op,
    outcomes,
    wrong_type,
)


@attrs.define
class Catalogue:
    """
    The catalogue side of one `Shopware6`.
    """

    api: AdminApi
    writer: Writer
    media: Media
    sales_channel_id: str | None
    _channels: list[str] | None = attrs.field(init=False, default=None)
    _taxes: dict[Decimal, str] = attrs.field(init=False, factory=dict)
    _lock: anyio.Lock | None = attrs.field(init=False, default=None)

    def _setup_lock(self) -> anyio.Lock:
        if self._lock is None:
            self._lock = anyio.Lock()
        return self._lock

    async def _sales_channels(self) -> list[str]:
        async with self._setup_lock():
            if self._channels is None:
                if self.sales_channel_id is not None:
                    self._channels = [self.sales_channel_id]
                else:
                    rows = await self.api.search_all("sales_channel", {})
                    self._channels = sorted(str(r["id"]) for r in rows)
            return self._channels

    async def _tax(self, rate: Decimal) -> str:
        """
        The id of the tax entity for *rate*: found, or created.
        """
        async with self._setup_lock():
            if rate in self._taxes:
                return self._taxes[rate]
            rows = await self.api.search(
                "tax",
                {
                    "filter": [
                        {
                            "type": "equals",
                            "field": "taxRate",
                            "value": float(rate),
                        }
                    ],
                    "sort": [{"field": "id", "order": "ASC"}],
                    "limit": 1,
                },
            )
            if rows:
                found = str(rows[0]["id"])
            else:
                found = tax_id(rate)
                await self.api.sync(
                    [
                        op(
                            "ecomsync-tax",
                            "tax",
                            [
                                {
                                    "id": found,
                                    "taxRate": float(rate),
                                    "name": f"{rate.normalize()} %",
                                }
                            ],
                        )
                    ]
                )
            self._taxes[rate] = found
            return found

    async def push_categories(
        self, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        if any(not isinstance(i.record, Category) for i in items):
            return wrong_type(items, Category)
        categories = [
            i.record for i in items if isinstance(i.record, Category)
        ]
        # Parents first; a category on (or below) a cycle cannot be sent.
        order, invalid = parents_first(categories)
        failures: dict[int, Failure] = {
            i: (f"category {categories[i].number} {p.reason}", p.field)
            for i, p in invalid.items()
        }

        def build(chunk: Sequence[int]) -> Built:
            rows, owner = [], []
            for j in chunk:
                i = order[j]
                row = category_payload(categories[i])
                media = items[i].media
                if media is not None:
                    images = image_ids(media)
                    row["mediaId"] = images[0] if images else None
                rows.append(row)
                owner.append(j)
            key = "ecomsync-categories"
            return [op(key, "category", rows)], {key: owner}

        written = await self.writer.write(len(order), build)
        failures.update({order[j]: why for j, why in written.items()})
        return outcomes(
            [c.number for c in categories],
            [category_id(c.number) for c in categories],
            failures,
        )

    async def _products(
        self, ids: Sequence[str], *, categories: bool = False
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), MAX_LIMIT):
            part = unique[start : start + MAX_LIMIT]
            criteria: dict[str, Any] = {
                "filter": [
                    {"type": "equalsAny", "field": "id", "value": part}
                ],
                "limit": MAX_LIMIT,
            }
            if categories:
                criteria["associations"] = {"categories": {}}
            for row in await self.api.search("product", criteria):
                found[str(row["id"])] = row
        return found

    async def push_articles(self, items: Sequence[Outgoing]) -> list[Outcome]:
        if any(not isinstance(i.record, Article) for i in items):
            return wrong_type(items, Article)
        articles = [i.record for i in items if isinstance(i.record, Article)]
        channels = await self._sales_channels()
        taxes = {a.tax_rate: await self._tax(a.tax_rate) for a in articles}
        ids = [product_id(a.number) for a in articles]
        all_ids = ids + [
            product_id(v.number) for a in articles for v in a.variants
        ]
        current = await self._products(all_ids, categories=True)
        existing = frozenset(current)
        per_article = [
            article_rows(
                a,
                tax=taxes[a.tax_rate],
                sales_channels=channels,
                existing=existing,
            )
            for a in articles
        ]
        # Media come with the record (media_on_push): write the product
        # media and cover in the same sync, and drop the stale ones.
        held_media = await self.media.held(
            [
                pid
                for pid, i in zip(ids, items, strict=True)
                if i.media is not None
            ]
        )
        stale_media: list[list[dict[str, str]]] = []
        for item, pid, rows in zip(items, ids, per_article, strict=True):
            if item.media is None:
                stale_media.append([])
                continue
            fields, wanted_media = product_media_fields(pid, item.media)
            for row in rows["product"]:
                if row["id"] == pid:
                    row.update(fields)
            stale_media.append(
                [
                    {"id": m}
                    for m in sorted(held_media.get(pid, set()) - wanted_media)
                ]
            )
        stale: list[list[dict[str, str]]] = []
        for article, pid in zip(articles, ids, strict=True):
            wanted = {category_id(c) for c in article.categories}
            held = _category_ids(current.get(pid))
            stale.append(
                [
                    {"productId": pid, "categoryId": cid}
                    for cid in sorted(held - wanted)
                ]
            )

        def build(chunk: Sequence[int]) -> Built:
            operations: list[Operation] = []
            owners: dict[str, list[int]] = {}
            for entity in (
                "property_group",
                "property_group_option",
                "product",
            ):
                key = f"ecomsync-{entity.replace('_', '-')}"
                rows: list[dict[str, Any]] = []
                owner: list[int] = []
                seen: set[str] = set()
                for i in chunk:
                    for row in per_article[i][entity]:
                        if row["id"] in seen:
                            continue
                        seen.add(row["id"])
                        rows.append(row)
                        owner.append(i)
                operations.append(op(key, entity, rows))
                owners[key] = owner
            key = "ecomsync-stale-categories"
            rows = [pair for i in chunk for pair in stale[i]]
            owners[key] = [i for i in chunk for _ in stale[i]]
            operations.append(op(key, "product_category", rows, "delete"))
            key = "ecomsync-stale-media"
            rows = [row for i in chunk for row in stale_media[i]]
            owners[key] = [i for i in chunk for _ in stale_media[i]]
            operations.append(op(key, "product_media", rows, "delete"))
            return operations, owners

        failures = await self.writer.write(len(articles), build)
        return outcomes([a.number for a in articles], ids, failures)

    async def push_stock(self, items: Sequence[Outgoing]) -> list[Outcome]:
        if any(not isinstance(i.record, StockLevel) for i in items):
            return wrong_type(items, StockLevel)
        levels = [i.record for i in items if isinstance(i.record, StockLevel)]
        ids = [
            item.platform_id or product_id(item.record.number)
            for item in items
        ]
        held = await self._products(ids)
        missing: dict[int, tuple[str, str | None]] = {
            i: (
                f"article {level.number} does not exist in Shopware",
                "number",
            )
            for i, (level, pid) in enumerate(zip(levels, ids, strict=True))
            if pid not in held
        }
        present = [i for i in range(len(levels)) if i not in missing]

        def build(chunk: Sequence[int]) -> Built:
            rows = [
                {"id": ids[present[j]], "stock": levels[present[j]].quantity}
                for j in chunk
            ]
            key = "ecomsync-stock"
            return [op(key, "product", rows)], {key: list(chunk)}

        written = await self.writer.write(len(present), build)
        failures = dict(missing)
        failures.update({present[j]: why for j, why in written.items()})
        return outcomes([s.number for s in levels], ids, failures)


def _category_ids(product: dict[str, Any] | None) -> set[str]:
    if not product:
        return set()
    found = {
        str(c["id"])
        for c in product.get("categories") or []
        if isinstance(c, dict) and c.get("id")
    }
    found.update(str(i) for i in product.get("categoryIds") or [] if i)
    return found
