"""
Categories as collections, articles through ``productSet`` (upsert by a
unique metafield), stock through ``inventorySetQuantities``; articles and
stock of a push of at least ``bulk_threshold`` records as one bulk
mutation.

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Sequence
from typing import Any

import attrs

from ..._contracts import Outcome, Outgoing
from ..._model import Article, Category, StockLevel
from ._bulk import BulkResult, BulkRunner
from ._client import INPUT_LIMIT, GraphQL, Row


#: The metafield that identifies an ERP article (``customId``).
NAMESPACE, KEY = "ecomsync", "number"
_SLUG = re.compile(r"[^a-z0-9]+")

COLLECTIONS = """
query($after: String) { collections(first: 250, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { id handle } } }
"""
COLLECTION_WRITE = """
mutation($i: CollectionInput!) { %s(input: $i) {
  collection { id handle } userErrors { field message code } } }
"""
PRODUCT_SET = """
mutation($input: ProductSetInput!, $id: ProductSetIdentifiers) {
  productSet(input: $input, identifier: $id, synchronous: true) {
    product { id variants(first: %d) { nodes { sku inventoryItem { id } } } }
    userErrors { field message code }
  }
}
"""
VARIANTS = """
query($q: String, $n: Int) { productVariants(first: $n, query: $q) {
  nodes { sku inventoryItem { id } } } }
"""
LOCATIONS = "{ locations(first: 1) { nodes { id } } }"
INVENTORY = """
mutation($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { reason }
    userErrors { field message code }
  }
}
"""


def collection_handle(number: str) -> str:
    """
    The handle of the collection that stands for ERP category *number*:
    readable, and unique per exact number (a hash suffix).
    """
    plain = unicodedata.normalize("NFKD", number)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    readable = _SLUG.sub("-", plain.lower()).strip("-")[:40]
    digest = hashlib.sha256(number.encode("utf-8", "surrogatepass"))
    return f"erp-{readable}-{digest.hexdigest()[:8]}".replace("--", "-")


#: Shopify's input fields under the names of the record's fields.
_FIELDS = {
    "title": "name",
    "descriptionHtml": "description",
    "collections": "categories",
}


def product_set_cost(variants: int) -> int:
    """
    The requested cost of one ``productSet`` as the adapter asks it: the
    mutation (10), the product (1), the user errors (1), its variants
    connection (2 + 2 per variant: the variant and its inventory item).
    """
    return 10 + 1 + 1 + 2 + 2 * variants


def fail(number: str, error: str, field: str | None = None) -> Outcome:
    return Outcome(number=number, error=error, field=field)


def not_run(number: str, result: BulkResult) -> Outcome:
    """
    A record whose bulk line never ran (the operation ended before it).
    """
    why = result.status + (
        f" ({result.error_code})" if result.error_code else ""
    )
    return fail(
        number,
        f"the bulk operation ended {why} before {number!r} was written",
    )


def line_errors(number: str, row: Row) -> Outcome:
    """
    A bulk result line with top-level errors and no data.
    """
    text = "; ".join(str(e.get("message")) for e in row.get("errors") or ())
    return fail(number, f"Shopify refused {number!r}: {text or 'no result'}")


def user_errors(number: str, errors: Sequence[Row]) -> Outcome:
    """
    Shopify's userErrors as one failed outcome naming the field.
    """
    first = errors[0]
    path = [p for p in first.get("field") or () if p not in ("input",)]
    if path:
        path[0] = _FIELDS.get(path[0], path[0])
    field = ".".join(str(p) for p in path) or None
    text = "; ".join(
        f"{'.'.join(e.get('field') or ())}: {e.get('message')}" for e in errors
    )
    return fail(number, f"Shopify refused {number!r}: {text}", field)


@attrs.define
class Catalogue:
    """
    Writes collections, products and stock; remembers handles, SKUs and
    the location it learnt.
    """

    api: GraphQL
    location: str | None = None
    collections: dict[str, str] | None = None
    items: dict[str, str] = attrs.field(factory=dict)
    bulk: BulkRunner | None = None
    bulk_threshold: int | None = None

    async def _collections(self) -> dict[str, str]:
        if self.collections is None:
            found: dict[str, str] = {}
            after: str | None = None
            while True:
                data = await self.api.call(
                    COLLECTIONS, {"after": after}, cost=252, what="collections"
                )
                page = data["collections"]
                found.update({c["handle"]: c["id"] for c in page["nodes"]})
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
            self.collections = found
        return self.collections

    async def push_categories(
        self, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        known = await self._collections()
        outcomes = []
        for item in items:
            record = item.record
            assert isinstance(record, Category)
            handle = collection_handle(record.number)
            if record.parent is not None and (
                collection_handle(record.parent) not in known
            ):
                outcomes.append(
                    fail(
                        record.number,
                        f"parent category {record.parent!r} is not on Shopify",
                        "parent",
                    )
                )
                continue
            gid = known.get(handle)
            data: Row = {
                "title": record.name,
                "handle": handle,
                "descriptionHtml": record.description,
                "metafields": [
                    {
                        "namespace": NAMESPACE,
                        "key": key,
                        "type": "single_line_text_field",
                        "value": value,
                    }
                    for key, value in (
                        (KEY, record.number),
                        ("parent", record.parent or ""),
                    )
                    if value
                ],
            }
            mutation = (
                "collectionCreate" if gid is None else "collectionUpdate"
            )
            if gid is not None:
                data["id"] = gid
            answer = (
                await self.api.call(
                    COLLECTION_WRITE % mutation,
                    {"i": data},
                    cost=12,
                    what=f"category {record.number!r}",
                )
            )[mutation]
            if answer["userErrors"]:
                outcomes.append(
                    user_errors(record.number, answer["userErrors"])
                )
                continue
            known[handle] = answer["collection"]["id"]
            outcomes.append(
                Outcome(number=record.number, platform_id=known[handle])
            )
        return outcomes

    def product_input(self, record: Article, known: dict[str, str]) -> Row:
        """
        The ``productSet`` input of *record* (raises KeyError naming an
        unknown category).
        """
        collections = [known[collection_handle(c)] for c in record.categories]
        if record.variants:
            names: list[str] = []
            values: dict[str, list[str]] = {}
            for v in record.variants:
                for name, value in v.options:
                    if name not in values:
                        names.append(name)
                        values[name] = []
                    if value not in values[name]:
                        values[name].append(value)
            options = [
                {"name": n, "values": [{"name": x} for x in values[n]]}
                for n in names
            ]
            variants = [
                {
                    "optionValues": [
                        {"optionName": n, "name": x} for n, x in v.options
                    ],
                    "sku": v.number,
                    "price": format(v.price or record.price, "f"),
                    "barcode": v.ean,
                }
                for v in record.variants
            ]
        else:
            options = [
                {"name": "Title", "values": [{"name": "Default Title"}]}
            ]
            variants = [
                {
                    "optionValues": [
                        {"optionName": "Title", "name": "Default Title"}
                    ],
                    "sku": record.number,
                    "price": format(record.price, "f"),
                    "barcode": record.ean,
                }
            ]
        return {
            "title": record.name,
            "descriptionHtml": record.description,
            "status": "ACTIVE" if record.active else "DRAFT",
            "productOptions": options,
            "variants": variants,
            "collections": collections,
            "metafields": [
                {
                    "namespace": NAMESPACE,
                    "key": KEY,
                    "type": "single_line_text_field",
                    "value": record.number,
                }
            ],
        }

    async def push_articles(self, items: Sequence[Outgoing]) -> list[Outcome]:
        known = await self._collections()
        outcomes: list[Outcome | None] = [None] * len(items)
        todo: list[tuple[int, str, Row]] = []
        for i, item in enumerate(items):
            record = item.record
            assert isinstance(record, Article)
            try:
                data = self.product_input(record, known)
            except KeyError as exc:
                number = next(
                    c
                    for c in record.categories
                    if collection_handle(c) == exc.args[0]
                )
                outcomes[i] = fail(
                    record.number,
                    f"category {number!r} is not on Shopify",
                    "categories",
                )
                continue
            if len(data["variants"]) > INPUT_LIMIT:
                outcomes[i] = fail(
                    record.number,
                    f"{len(data['variants'])} variants: Shopify takes at "
                    f"most {INPUT_LIMIT} per productSet",
                    "variants",
                )
                continue
            ident = {
                "customId": {
                    "namespace": NAMESPACE,
                    "key": KEY,
                    "value": record.number,
                }
            }
            todo.append((i, record.number, {"input": data, "id": ident}))
        if self._in_bulk(len(todo)):
            await self._articles_in_bulk(todo, outcomes)
        for i, number, variables in todo:
            if outcomes[i] is not None:
                continue
            variants = len(variables["input"]["variants"])
            answer = (
                await self.api.call(
                    PRODUCT_SET % variants,
                    variables,
                    cost=product_set_cost(variants),
                    what=f"article {number!r}",
                )
            )["productSet"]
            outcomes[i] = self._article(number, answer)
        return [o for o in outcomes if o is not None]

    def _in_bulk(self, count: int) -> bool:
        return (
            self.bulk is not None
            and self.bulk_threshold is not None
            and count >= self.bulk_threshold
        )

    def _article(self, number: str, answer: Row) -> Outcome:
        """
        The outcome of one ``productSet`` answer; remembers its SKUs'
        inventory items.
        """
        if answer["userErrors"]:
            return user_errors(number, answer["userErrors"])
        product = answer["product"]
        for v in product["variants"]["nodes"]:
            if v.get("sku"):
                self.items[v["sku"]] = v["inventoryItem"]["id"]
        return Outcome(number=number, platform_id=product["id"])

    async def _articles_in_bulk(
        self,
        todo: Sequence[tuple[int, str, Row]],
        outcomes: list[Outcome | None],
    ) -> None:
        assert self.bulk is not None
        variants = max(len(v["input"]["variants"]) for _, _, v in todo)
        result = await self.bulk.run(
            PRODUCT_SET % variants, [v for _, _, v in todo], what="articles"
        )
        for k, (i, number, _) in enumerate(todo):
            row = result.lines.get(k)
            if row is None:
                outcomes[i] = not_run(number, result)
            elif (row.get("data") or {}).get("productSet") is None:
                outcomes[i] = line_errors(number, row)
            else:
                outcomes[i] = self._article(number, row["data"]["productSet"])

    async def _location(self) -> str:
        if self.location is None:
            data = await self.api.call(LOCATIONS, cost=3, what="locations")
            nodes = data["locations"]["nodes"]
            if not nodes:
                raise LookupError("the shop has no location")
            self.location = str(nodes[0]["id"])
        return self.location

    async def _lookup(self, skus: Sequence[str]) -> None:
        missing = [s for s in skus if s not in self.items]
        for i in range(0, len(missing), 50):
            chunk = missing[i : i + 50]
            query = " OR ".join(f"sku:'{s}'" for s in chunk)
            data = await self.api.call(
                VARIANTS,
                {"q": query, "n": 2 * len(chunk)},
                cost=2 + 2 * len(chunk) * 2,
                what="stock lookup",
            )
            for v in data["productVariants"]["nodes"]:
                if v.get("sku") in chunk:
                    self.items[v["sku"]] = v["inventoryItem"]["id"]

    async def push_stock(self, items: Sequence[Outgoing]) -> list[Outcome]:
        levels: list[StockLevel] = []
        for item in items:
            assert isinstance(item.record, StockLevel)
            levels.append(item.record)
        await self._lookup([x.number for x in levels if x.warehouse is None])
        outcomes: list[Outcome | None] = [None] * len(levels)
        todo: list[int] = []
        for i, level in enumerate(levels):
            if level.warehouse is not None:
                outcomes[i] = fail(
                    level.number,
                    f"{level.number!r}: warehouse {level.warehouse!r} has "
                    "no Shopify location; send the sum over the warehouses",
                    "warehouse",
                )
            elif level.number not in self.items:
                outcomes[i] = fail(
                    level.number,
                    f"article {level.number!r} is not on Shopify",
                    "number",
                )
            else:
                todo.append(i)
        if not todo:
            return [o for o in outcomes if o is not None]
        location = await self._location()
        chunks = [
            todo[start : start + INPUT_LIMIT]
            for start in range(0, len(todo), INPUT_LIMIT)
        ]
        if self._in_bulk(len(todo)):
            chunks = await self._stock_in_bulk(
                levels, chunks, location, outcomes
            )
        for chunk in chunks:
            await self._set(levels, chunk, location, outcomes)
        return [o for o in outcomes if o is not None]

    def _quantities(
        self, levels: Sequence[Any], chunk: Sequence[int], location: str
    ) -> Row:
        return {
            "input": {
                "name": "available",
                "reason": "correction",
                "referenceDocumentUri": "gid://ecomsync/Sync/stock",
                "quantities": [
                    {
                        "inventoryItemId": self.items[levels[i].number],
                        "locationId": location,
                        "quantity": levels[i].quantity,
                        "changeFromQuantity": None,
                    }
                    for i in chunk
                ],
            },
            "key": str(uuid.uuid4()),
        }

    async def _stock_in_bulk(
        self,
        levels: Sequence[Any],
        chunks: list[list[int]],
        location: str,
        outcomes: list[Outcome | None],
    ) -> list[list[int]]:
        """
        One bulk line per chunk; what is left to send one call at a time:
        the rest of a chunk a userError refused.
        """
        assert self.bulk is not None
        result = await self.bulk.run(
            INVENTORY,
            [self._quantities(levels, c, location) for c in chunks],
            what="stock",
        )
        again: list[list[int]] = []
        for k, chunk in enumerate(chunks):
            row = result.lines.get(k)
            answer = (
                (row.get("data") or {}).get("inventorySetQuantities")
                if row
                else None
            )
            if row is None or answer is None:
                for i in chunk:
                    number = levels[i].number
                    outcomes[i] = (
                        not_run(number, result)
                        if row is None
                        else line_errors(number, row)
                    )
                continue
            bad = self._refused(levels, chunk, answer, outcomes)
            if answer["userErrors"] and not bad:
                for i in chunk:
                    outcomes[i] = user_errors(
                        levels[i].number, answer["userErrors"]
                    )
            elif bad:
                again.append([i for i in chunk if i not in bad])
            else:
                self._stocked(levels, chunk, outcomes)
        return again

    def _refused(
        self,
        levels: Sequence[Any],
        chunk: Sequence[int],
        answer: Row,
        outcomes: list[Outcome | None],
    ) -> set[int]:
        """
        Fail the levels a userError names by position; their indexes.
        """
        bad: set[int] = set()
        for error in answer["userErrors"]:
            path = error.get("field") or []
            if len(path) >= 3 and str(path[2]).isdigit():
                i = chunk[int(path[2])]
                bad.add(i)
                outcomes[i] = fail(
                    levels[i].number,
                    f"Shopify refused stock of {levels[i].number!r}: "
                    f"{error.get('message')}",
                    "quantity",
                )
        return bad

    def _stocked(
        self,
        levels: Sequence[Any],
        chunk: Sequence[int],
        outcomes: list[Outcome | None],
    ) -> None:
        for i in chunk:
            outcomes[i] = Outcome(
                number=levels[i].number,
                platform_id=self.items[levels[i].number],
            )

    async def _set(
        self,
        levels: Sequence[Any],
        chunk: list[int],
        location: str,
        outcomes: list[Outcome | None],
    ) -> None:
        while chunk:
            answer = (
                await self.api.call(
                    INVENTORY,
                    self._quantities(levels, chunk, location),
                    cost=12,
                    what="stock",
                )
            )["inventorySetQuantities"]
            bad = self._refused(levels, chunk, answer, outcomes)
            if answer["userErrors"] and not bad:
                for i in chunk:
                    outcomes[i] = user_errors(
                        levels[i].number, answer["userErrors"]
                    )
                return
            if not bad:
                self._stocked(levels, chunk, outcomes)
                return
            chunk = [i for i in chunk if i not in bad]


__all__ = ["Catalogue", "collection_handle"]
