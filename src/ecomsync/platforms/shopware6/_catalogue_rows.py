"""
An article's write, as Sync operations: the rows the ERP's article
becomes, held against what the shop holds of it (read before the write).

Pure: no I/O.  `Catalogue.push_articles` reads the shop's products, asks
`held_otherwise` which articles would take over another product's number
(and `variants_held` which ones to fail once written), plans each
remaining article with `article_write` (its media put into its rows, the
stale category assignments, product media, variant children, options and
configurator settings found) and sends a chunk of the plans as
`operations`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from ..._contracts import MediaLink, Outcome
from ..._model import Article, StockLevel
from .._stock_on_push import levels_taken
from ._mapping import DOCUMENTS_FIELD, category_id, product_id
from ._media import product_media_fields
from ._writer import Built, Failure, Operation, op


#: Rows per entity, as `article_rows` builds them.
Rows = dict[str, list[dict[str, Any]]]

#: What `Catalogue._products` reads of a product (and its associations)
#: before writing articles.
WRITE_INCLUDES = {
    "product": [
        "id",
        "parentId",
        "productNumber",
        "active",
        "taxId",
        "tax",
        "categoryIds",
        "optionIds",
        "categories",
        "media",
        "options",
        "configuratorSettings",
        "children",
    ],
    "category": ["id"],
    "tax": ["id", "taxRate"],
    "product_media": ["id", "media"],
    "media": ["id", "fileName"],
    "property_group_option": ["id"],
    "product_configurator_setting": ["id"],
}


#: The entities an article upserts, in the order they are written.
_UPSERTS = ("property_group", "property_group_option", "product")

#: What an article's write deletes, in order: (operation key, entity), one
#: per list in `ArticleWrite.deletions`.
_DELETIONS = (
    ("ecomsync-stale-categories", "product_category"),
    ("ecomsync-stale-media", "product_media"),
    ("ecomsync-stale-options", "product_option"),
    ("ecomsync-stale-settings", "product_configurator_setting"),
)


@attrs.frozen
class ArticleWrite:
    """
    One article's write: its *rows* per entity (with its media), the
    document media entities it links, and the rows the shop holds that
    the article no longer has (stale category assignments, product
    media, variant options, configurator settings: one list per
    deletion, in the order of `_DELETIONS`).
    """

    rows: Rows
    documents: list[dict[str, str]]
    deletions: tuple[list[dict[str, str]], ...]


def article_write(
    article: Article,
    media: Sequence[MediaLink] | None,
    rows: Rows,
    current: dict[str, dict[str, Any]],
) -> ArticleWrite:
    """
    Plan the write of *article* from its *rows*, given *current* (the
    shop's products by id, with their associations): its *media* go into
    the rows, and what the shop holds beyond the article (category
    assignments, product media, variant options and settings) is to be
    deleted.  *rows* is changed in place.
    """
    pid = product_id(article.number)
    held = current.get(pid) or {}
    stale_media, documents = _with_media(pid, media, rows["product"], held)
    wanted = {category_id(c) for c in article.categories}
    stale_categories = [
        {"productId": pid, "categoryId": cid}
        for cid in sorted(_ids(held, "categories", "categoryIds") - wanted)
    ]
    options, settings = _stale_variants(article, rows, current)
    return ArticleWrite(
        rows=rows,
        documents=documents,
        deletions=(stale_categories, stale_media, options, settings),
    )


def stock_taken(
    article: Article,
    levels: Sequence[StockLevel] | None,
    *,
    allow_backorders: bool,
) -> dict[str, StockLevel]:
    """
    The levels of an article's ``Outgoing.stock`` that its product rows
    take, by product id: one valid level per number the article sells
    (its own, a variant's), not negative unless backorders are allowed.
    The others are left to the stock sync, which fails them as it always
    did (two levels of one number: Shopware keeps one stock per product),
    never the article; a negative one it writes as 0 and reports there,
    which the article's answer has no room for.
    """
    return levels_taken(
        article,
        levels,
        key=product_id,
        platform="Shopware 6",
        option="Shopware6",
        allow_backorders=allow_backorders,
        warehouses=True,
    )


def with_stock(rows: Rows, taken: dict[str, StockLevel]) -> None:
    """
    Put the *taken* levels (`stock_taken`) into the product rows of
    *rows*, in place: the stock lands in the article's own write.
    """
    for row in rows["product"]:
        level = taken.get(str(row["id"]))
        if level is not None:
            row["stock"] = level.quantity


def stock_outcomes(
    found: Sequence[Outcome], taken: dict[int, dict[str, StockLevel]]
) -> list[Outcome]:
    """
    *found* (one outcome per article) with the stock each article that
    landed took (`stock_taken`, by article index): the levels written in
    its rows.  An article that failed wrote none.
    """
    return [
        attrs.evolve(
            outcome,
            stock=tuple(
                Outcome(number=level.number, platform_id=pid)
                for pid, level in taken[i].items()
            ),
        )
        if outcome.ok and taken.get(i)
        else outcome
        for i, outcome in enumerate(found)
    ]


def operations(chunk: Sequence[tuple[int, ArticleWrite]]) -> Built:
    """
    The Sync operations of the article writes in *chunk* (each with the
    index that owns its rows): document media entities, property groups,
    options and products (a row shared by articles sent once), then the
    deletions.
    """
    owners: dict[str, list[int]] = {}
    operations = [_documents_op(chunk, owners)]
    for entity in _UPSERTS:
        key = f"ecomsync-{entity.replace('_', '-')}"
        rows: list[dict[str, Any]] = []
        owner: list[int] = []
        seen: set[str] = set()
        for j, write in chunk:
            for row in write.rows[entity]:
                # Groups and options are shared by articles; products
                # never are (screened before).
                if row["id"] in seen:
                    continue
                seen.add(row["id"])
                rows.append(row)
                owner.append(j)
        operations.append(op(key, entity, rows))
        owners[key] = owner
    for k, (key, entity) in enumerate(_DELETIONS):
        pairs = [(j, row) for j, write in chunk for row in write.deletions[k]]
        owners[key] = [j for j, _ in pairs]
        operations.append(op(key, entity, [row for _, row in pairs], "delete"))
    return operations, owners


def held_otherwise(
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


def variants_held(
    articles: Sequence[Article],
    send: Sequence[int],
    current: dict[str, dict[str, Any]],
) -> dict[int, Failure]:
    """
    The failures of articles without variants whose product Shopware
    holds with variants (the ERP dropped them all), to report once the
    article is written (its variants deactivated, nothing the ERP no
    longer has on sale): Shopware lists no product that has variants,
    inactive ones too (``child_count`` counts every child, and a parent
    with children gets no display group), so it is in no listing until
    the merchant deletes them.  Deleting them here would reverse the
    documented "deactivated, never deleted" rule.
    """
    failures: dict[int, Failure] = {}
    for i in send:
        article = articles[i]
        children = [
            str(c.get("productNumber") or c.get("id"))
            for c in (current.get(product_id(article.number)) or {}).get(
                "children"
            )
            or []
            if isinstance(c, dict)
        ]
        if children and not article.variants:
            failures[i] = (
                f"variants: article {article.number!r} has no variants any "
                "more; its product is written and its variants in Shopware "
                f"({', '.join(repr(n) for n in sorted(children))}) are "
                "deactivated, but Shopware lists no product that has "
                "variants, inactive ones too: it is in no listing, and its "
                "own stock does not sell, until they are gone; delete those "
                "variants in Shopware (their orders keep their lines)",
                "variants",
            )
    return failures


def held_tax(row: dict[str, Any] | None, rate: Decimal) -> str | None:
    """
    The id of the tax that *row* (a product the shop holds, read with its
    ``tax``) has, if that tax's rate is *rate*; else None.
    """
    tax = (row or {}).get("tax")
    if not isinstance(tax, dict) or not tax.get("id"):
        return None
    if (row or {}).get("taxId") != tax["id"]:
        return None
    try:
        same = Decimal(str(tax.get("taxRate"))) == rate
    except InvalidOperation:
        return None
    return str(tax["id"]) if same else None


def _stale_variants(
    article: Article, rows: Rows, current: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """
    Bring the shop's variants of *article* to what the ERP has: a child
    product the article no longer lists is deactivated (a row added to
    *rows*; it keeps its orders and comes back active if the variant
    returns), and the option assignments and configurator settings the
    variants no longer use are returned for deletion.  Without this a
    discontinued variant stayed on sale, and a variant whose option
    changed held both the old and the new one.
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
    return options, settings


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


def _documents_op(
    chunk: Sequence[tuple[int, ArticleWrite]], owners: dict[str, list[int]]
) -> Operation:
    """
    The document media entities of *chunk*, each once, in one operation.
    """
    key = "ecomsync-media"
    rows: list[dict[str, str]] = []
    owner: list[int] = []
    for j, write in chunk:
        for row in write.documents:
            if row not in rows:
                rows.append(row)
                owner.append(j)
    owners[key] = owner
    return op(key, "media", list(rows))


def _with_media(
    pid: str,
    media: Sequence[MediaLink] | None,
    product_rows: Sequence[dict[str, Any]],
    current: dict[str, Any],
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
    stale = [{"id": m} for m in sorted(_ids(current, "media") - wanted)]
    documents = [{"id": d} for d in fields["customFields"][DOCUMENTS_FIELD]]
    return stale, documents
