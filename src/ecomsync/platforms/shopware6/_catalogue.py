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

from ..._contracts import MediaLink, Outcome, Outgoing
from ..._model import Article, Category, StockLevel, parents_first
from .._backorders import negative_stock
from ._claims import (
    CATEGORY_RULE,
    PRODUCT_RULE,
    STOCK_RULE,
    article_claims,
    category_claims,
    collate,
    screen,
    stock_claims,
)
from ._client import MAX_LIMIT, AdminApi
from ._mapping import (
    DOCUMENTS_FIELD,
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


#: What `Catalogue._products` reads of a product (and its associations)
#: before writing articles.
_WRITE_INCLUDES = {
    "product": [
        "id",
        "parentId",
        "active",
        "categoryIds",
        "optionIds",
        "categories",
        "media",
        "options",
        "configuratorSettings",
        "children",
    ],
    "category": ["id"],
    "product_media": ["id"],
    "property_group_option": ["id"],
    "product_configurator_setting": ["id"],
}


@attrs.define
class Catalogue:
    """
    The catalogue side of one `Shopware6`.
    """

    api: AdminApi
    writer: Writer
    media: Media
    sales_channel_id: str | None
    allow_backorders: bool = False
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
        if rate in self._taxes:
            return self._taxes[rate]  # no lock once known
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
        screened = screen(categories, category_claims, rule=CATEGORY_RULE)
        failures = dict(screened.failures)
        send = screened.sendable(len(categories))
        # Parents first; a category on (or below) a cycle cannot be sent.
        sendable = [categories[i] for i in send]
        ordered, invalid = parents_first(sendable)
        for k, p in invalid.items():
            failures[send[k]] = (
                f"category {sendable[k].number} {p.reason}",
                p.field,
            )
        order = [send[k] for k in ordered]

        def build(chunk: Sequence[int]) -> Built:
            rows, owner = [], []
            for j in chunk:
                i = order[j]
                row = category_payload(categories[i])
                media = items[i].media
                if media is not None:
                    images = image_ids(media)
                    row["mediaId"] = images[0] if images else None
                    if images:
                        # Created by this sync when new; the bytes follow.
                        row["media"] = {"id": images[0]}
                        self.media.note_created(images[:1])
                rows.append(row)
                owner.append(j)
            key = "ecomsync-categories"
            return [op(key, "category", rows)], {key: owner}

        written = await self.writer.write(len(order), build)
        failed = {order[j]: why for j, why in written.items()}
        if failed:
            failed.update(await self._orphans(categories, failed))
        failures.update(failed)
        return outcomes(
            [c.number for c in categories],
            [category_id(c.number) for c in categories],
            screened.mirror(failures),
        )

    async def _orphans(
        self, categories: Sequence[Category], failed: dict[int, Failure]
    ) -> dict[int, Failure]:
        """
        Among the *failed* categories, those whose parent Shopware does
        not have: Shopware reports the missing foreign key as a database
        error without a pointer, so they are asked for only now, to fail
        them on ``parent`` saying so.
        """
        parents = {
            i: categories[i].parent
            for i in failed
            if categories[i].parent is not None
        }
        if not parents:
            return {}
        ids = sorted({category_id(str(p)) for p in parents.values()})
        held = {
            str(row["id"])
            for start in range(0, len(ids), MAX_LIMIT)
            for row in await self.api.search(
                "category",
                {
                    "filter": [
                        {
                            "type": "equalsAny",
                            "field": "id",
                            "value": ids[start : start + MAX_LIMIT],
                        }
                    ],
                    "limit": MAX_LIMIT,
                },
            )
        }
        return {
            i: (
                f"parent category {parent!r} does not exist in Shopware",
                "parent",
            )
            for i, parent in parents.items()
            if category_id(str(parent)) not in held
        }

    async def _products(
        self, ids: Sequence[str], *, associations: bool = False
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
            if associations:
                # What a write replaces: categories, product media, a
                # variant's options, a parent's configurator settings and
                # children (many-to-many writes only ever add).
                criteria["associations"] = {
                    "categories": {},
                    "media": {},
                    "options": {},
                    "configuratorSettings": {},
                    "children": {},
                }
                # Only the ids and flags a write compares: children are
                # whole products otherwise, and the answer grows with them.
                criteria["includes"] = _WRITE_INCLUDES
            for row in await self.api.search("product", criteria):
                found[str(row["id"])] = row
        return found

    async def push_articles(self, items: Sequence[Outgoing]) -> list[Outcome]:
        if any(not isinstance(i.record, Article) for i in items):
            return wrong_type(items, Article)
        articles = [i.record for i in items if isinstance(i.record, Article)]
        ids = [product_id(a.number) for a in articles]
        screened = screen(articles, article_claims, rule=PRODUCT_RULE)
        failures = dict(screened.failures)
        send = screened.sendable(len(articles))
        if send:
            failures.update(await self._write_articles(items, articles, send))
        return outcomes(
            [a.number for a in articles], ids, screened.mirror(failures)
        )

    async def _write_articles(
        self,
        items: Sequence[Outgoing],
        articles: Sequence[Article],
        send: list[int],
    ) -> dict[int, Failure]:
        """
        Write the articles *send* indexes; return their failures.
        """
        channels = await self._sales_channels()
        taxes = {
            rate: await self._tax(rate)
            for rate in dict.fromkeys(articles[i].tax_rate for i in send)
        }
        ids = {i: product_id(articles[i].number) for i in send}
        current = await self._products(
            [
                *ids.values(),
                *(
                    product_id(v.number)
                    for i in send
                    for v in articles[i].variants
                ),
            ],
            associations=True,
        )
        failures = _held_otherwise(articles, send, current)
        send = [i for i in send if i not in failures]
        existing = frozenset(current)
        rows_of = {
            i: article_rows(
                articles[i],
                tax=taxes[articles[i].tax_rate],
                sales_channels=channels,
                existing=existing,
            )
            for i in send
        }
        # Media come with the record (media_on_push): write the product
        # media, their media entities and the cover in the same sync, and
        # drop the stale ones (found with the product above).
        stale_media: dict[int, list[dict[str, str]]] = {}
        documents: dict[int, list[dict[str, str]]] = {}
        stale: dict[int, list[dict[str, str]]] = {}
        stale_variants: dict[int, _StaleVariants] = {}
        for i in send:
            pid, media = ids[i], items[i].media
            stale_media[i], documents[i] = _with_media(
                pid, media, rows_of[i]["product"], current.get(pid)
            )
            if media is not None:
                self.media.note_created(m.media_id for m in media)
            wanted = {category_id(c) for c in articles[i].categories}
            held = _category_ids(current.get(pid))
            stale[i] = [
                {"productId": pid, "categoryId": cid}
                for cid in sorted(held - wanted)
            ]
            stale_variants[i] = _stale_variants(
                articles[i], rows_of[i], current
            )

        def build(chunk: Sequence[int]) -> Built:
            operations: list[Operation] = []
            owners: dict[str, list[int]] = {}
            operations.append(_documents_op(chunk, send, documents, owners))
            for entity in (
                "property_group",
                "property_group_option",
                "product",
            ):
                key = f"ecomsync-{entity.replace('_', '-')}"
                rows: list[dict[str, Any]] = []
                owner: list[int] = []
                seen: set[str] = set()
                for j in chunk:
                    for row in rows_of[send[j]][entity]:
                        # Groups and options are shared by articles;
                        # products never are (screened above).
                        if row["id"] in seen:
                            continue
                        seen.add(row["id"])
                        rows.append(row)
                        owner.append(j)
                operations.append(op(key, entity, rows))
                owners[key] = owner
            key = "ecomsync-stale-categories"
            rows = [pair for j in chunk for pair in stale[send[j]]]
            owners[key] = [j for j in chunk for _ in stale[send[j]]]
            operations.append(op(key, "product_category", rows, "delete"))
            key = "ecomsync-stale-media"
            rows = [row for j in chunk for row in stale_media[send[j]]]
            owners[key] = [j for j in chunk for _ in stale_media[send[j]]]
            operations.append(op(key, "product_media", rows, "delete"))
            operations += _stale_variant_ops(
                [(j, stale_variants[send[j]]) for j in chunk], owners
            )
            return operations, owners

        numbers: dict[str, tuple[int, str]] = {}
        for j, i in enumerate(send):
            for key, field, _ in article_claims(articles[i]):
                numbers[str(key)] = (j, field)
        written = await self.writer.write(
            len(send), build, numbers=numbers, collate=collate
        )
        failures.update({send[j]: why for j, why in written.items()})
        return failures

    async def push_stock(self, items: Sequence[Outgoing]) -> list[Outcome]:
        if any(not isinstance(i.record, StockLevel) for i in items):
            return wrong_type(items, StockLevel)
        levels = [i.record for i in items if isinstance(i.record, StockLevel)]
        ids = [
            item.platform_id or product_id(item.record.number)
            for item in items
        ]
        screened = screen(levels, stock_claims, rule=STOCK_RULE)
        failures = dict(screened.failures)
        for i in screened.sendable(len(levels)):
            refused = negative_stock(
                levels[i].number,
                levels[i].quantity,
                platform="Shopware 6",
                option="Shopware6",
                allowed=self.allow_backorders,
            )
            if refused is not None:
                failures[i] = refused
        send = [i for i in screened.sendable(len(levels)) if i not in failures]

        def build(chunk: Sequence[int]) -> Built:
            rows = [
                {"id": ids[send[j]], "stock": levels[send[j]].quantity}
                for j in chunk
            ]
            key = "ecomsync-stock"
            return [op(key, "product", rows)], {key: list(chunk)}

        # No search first: a stock row for a product the shop lacks is a
        # create without the required fields, which Shopware rejects by
        # pointer (the rest lands); only then is it worth asking which of
        # the failed ones are missing, to say so.
        written = await self.writer.write(len(send), build)
        failed = {send[j]: why for j, why in written.items()}
        if failed:
            held = await self._products([ids[i] for i in failed])
            for i in failed:
                if ids[i] not in held:
                    failed[i] = (
                        f"article {levels[i].number} does not exist in "
                        "Shopware",
                        "number",
                    )
        failures.update(failed)
        return outcomes(
            [s.number for s in levels], ids, screened.mirror(failures)
        )


@attrs.frozen
class _StaleVariants:
    """
    What the shop holds of an article's variants that the ERP no longer
    has: option assignments and configurator settings to delete (the
    variant children themselves are deactivated in the product rows).
    """

    options: list[dict[str, str]]
    settings: list[dict[str, str]]


def _stale_variant_ops(
    chunk: Sequence[tuple[int, _StaleVariants]],
    owners: dict[str, list[int]],
) -> list[Operation]:
    """
    The deletions of *chunk*'s stale options and configurator settings,
    their owners noted in *owners*.
    """
    operations: list[Operation] = []
    for key, entity, attribute in (
        ("ecomsync-stale-options", "product_option", "options"),
        (
            "ecomsync-stale-settings",
            "product_configurator_setting",
            "settings",
        ),
    ):
        pairs = [
            (j, row) for j, stale in chunk for row in getattr(stale, attribute)
        ]
        owners[key] = [j for j, _ in pairs]
        operations.append(op(key, entity, [row for _, row in pairs], "delete"))
    return operations


def _stale_variants(
    article: Article,
    rows: dict[str, list[dict[str, Any]]],
    current: dict[str, dict[str, Any]],
) -> _StaleVariants:
    """
    Bring the shop's variants of *article* to what the ERP has: a child
    product the article no longer lists is deactivated (a row added to
    *rows*; it keeps its orders and comes back active if the variant
    returns), and options and configurator settings the variants no
    longer use are returned for deletion.  Without this a discontinued
    variant stayed on sale, and a variant whose option changed held both
    the old and the new one.
    """
    pid = product_id(article.number)
    products = rows["product"]
    wanted = {row["id"]: row for row in products}
    for row in products[1:]:
        # A variant inherits its parent's state: active again if it was
        # deactivated as gone.
        row["active"] = None
    held = current.get(pid) or {}
    for child in held.get("children") or []:
        cid = str(child.get("id") or "") if isinstance(child, dict) else ""
        if cid and cid not in wanted and child.get("active") is not False:
            products.append({"id": cid, "active": False})
    options: list[dict[str, str]] = []
    for vid, row in wanted.items():
        if vid == pid or vid not in current:
            continue
        keep = {o["id"] for o in row.get("options", [])}
        options += [
            {"productId": vid, "optionId": oid}
            for oid in sorted(_ids(current[vid], "options", "optionIds"))
            if oid not in keep
        ]
    keep = {s["id"] for s in products[0].get("configuratorSettings", [])}
    settings = [
        {"id": sid}
        for sid in sorted(_ids(held, "configuratorSettings"))
        if sid not in keep
    ]
    return _StaleVariants(options=options, settings=settings)


def _ids(row: dict[str, Any], association: str, field: str = "") -> set[str]:
    """
    The ids of *row*'s *association* (and of its *field* of ids).
    """
    found = {
        str(item["id"])
        for item in row.get(association) or []
        if isinstance(item, dict) and item.get("id")
    }
    if field:
        found.update(str(i) for i in row.get(field) or [] if i)
    return found


def _held_otherwise(
    articles: Sequence[Article],
    send: Sequence[int],
    current: dict[str, dict[str, Any]],
) -> dict[int, Failure]:
    """
    Articles whose numbers Shopware holds in another role: the article's
    own number as a variant of another product, or a variant's number as
    a standalone product or another article's variant.  Writing them
    would silently move a product under another parent.
    """
    failures: dict[int, Failure] = {}
    for i in send:
        article = articles[i]
        pid = product_id(article.number)
        parent = (current.get(pid) or {}).get("parentId")
        if parent:
            failures[i] = (
                f"number {article.number!r} is a variant of another product "
                "in Shopware; an article cannot take over a variant's "
                "number (renumber one of them, or delete the variant)",
                "number",
            )
            continue
        for k, variant in enumerate(article.variants):
            row = current.get(product_id(variant.number))
            if row is not None and row.get("parentId") != pid:
                held_as = (
                    "a standalone product"
                    if not row.get("parentId")
                    else "a variant of another product"
                )
                failures[i] = (
                    f"variants.{k}.number {variant.number!r} is {held_as} "
                    "in Shopware; a variant cannot take over its number "
                    "(renumber one of them, or delete the other product)",
                    f"variants.{k}.number",
                )
                break
    return failures


def _documents_op(
    chunk: Sequence[int],
    send: Sequence[int],
    documents: dict[int, list[dict[str, str]]],
    owners: dict[str, list[int]],
) -> Operation:
    """
    The document media entities of *chunk*, each once, in one operation.
    """
    key = "ecomsync-media"
    rows: list[dict[str, str]] = []
    owner: list[int] = []
    for j in chunk:
        for row in documents[send[j]]:
            if row not in rows:
                rows.append(row)
                owner.append(j)
    owners[key] = owner
    return op(key, "media", list(rows))


def _with_media(
    pid: str,
    media: Sequence[MediaLink] | None,
    product_rows: Sequence[dict[str, Any]],
    current: dict[str, Any] | None,
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """
    Put *media* into the product's row; return the product media rows to
    delete, and the document media entities to write (documents have no
    row to nest in, so they go in an operation of their own).
    """
    if media is None:
        return [], []
    fields, wanted = product_media_fields(pid, media)
    for row in product_rows:
        if row["id"] == pid:
            row.update(fields)
    held = _product_media_ids(current)
    stale = [{"id": m} for m in sorted(held - wanted)]
    documents = [{"id": d} for d in fields["customFields"][DOCUMENTS_FIELD]]
    return stale, documents


def _product_media_ids(product: dict[str, Any] | None) -> set[str]:
    if not product:
        return set()
    return {
        str(m["id"])
        for m in product.get("media") or []
        if isinstance(m, dict) and m.get("id")
    }


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
