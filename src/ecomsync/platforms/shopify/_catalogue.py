"""
Categories as collections, articles through ``productSet`` (upsert by a
unique metafield); the articles of a push of at least ``bulk_threshold``
records as one bulk mutation.  Stock is in ``_stock``.

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import attrs

from ..._contracts import Outcome, Outgoing
from ..._model import Article, Category, parents_first
from .._slugs import slug_parts
from ._bulk import BulkResult, BulkRunner
from ._client import INPUT_LIMIT, GraphQL, Row, variants_with_skus
from ._prices import price_refusal
from ._stocking import (
    Made,
    keep_variant_ids,
    stock_made,
    stock_new_products,
    track_new_products,
)


#: The metafield that identifies an ERP article (``customId``).
NAMESPACE, KEY = "ecomsync", "number"

#: With the shop's currency, which an article's prices must be in.
COLLECTIONS = """
query($after: String) { shop { currencyCode }
  collections(first: 250, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { id handle } } }
"""
COLLECTION_WRITE = """
mutation($i: CollectionInput!) { %s(input: $i) {
  collection { id handle } userErrors { field message code } } }
"""
#: A root category's update also deletes a parent left from before:
#: an owner's update keeps the metafields it does not name.
COLLECTION_TO_ROOT = """
mutation($i: CollectionInput!, $d: [MetafieldIdentifierInput!]!) {
  collectionUpdate(input: $i) {
    collection { id handle } userErrors { field message code } }
  metafieldsDelete(metafields: $d) {
    deletedMetafields { key } userErrors { field message } } }
"""
PRODUCT_SET = """
mutation($input: ProductSetInput!, $id: ProductSetIdentifiers) {
  productSet(input: $input, identifier: $id, synchronous: true) {
    product { id variants(first: %d) { nodes {
      id sku inventoryItem { id tracked } } } }
    userErrors { field message code }
  }
}
"""

#: Which products hold some SKUs, and which ERP article each stands for.
HOLDER_FIELDS = (
    "id sku product { id"
    f' metafield(namespace: "{NAMESPACE}", key: "{KEY}") {{ value }} }}'
)
#: SKUs per holder lookup; its page takes two holders per SKU (the
#: article's own product and another), at most 250 variants.
HOLDER_SKUS = INPUT_LIMIT // 2


def collection_handle(number: str) -> str:
    """
    The handle of the collection that stands for ERP category *number*:
    readable, and unique per exact number (a hash suffix).
    """
    readable, digest = slug_parts(number)
    return f"erp-{readable}-{digest}".replace("--", "-")


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


def in_bulk(
    bulk: BulkRunner | None, threshold: int | None, count: int
) -> bool:
    """
    Whether a push of *count* records goes as one bulk operation.
    """
    return bulk is not None and threshold is not None and count >= threshold


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
    Writes collections and products; remembers handles and the SKUs'
    inventory items (*items*, shared with the stock writer).
    """

    api: GraphQL
    collections: dict[str, str] | None = None
    #: The currency the shop sells in, read with the collections.
    currency: str | None = None
    items: dict[str, str] = attrs.field(factory=dict)
    #: SKUs whose inventory item Shopify does not track (shared too).
    untracked: set[str] = attrs.field(factory=set)
    bulk: BulkRunner | None = None
    bulk_threshold: int | None = None
    #: The locations stock goes to that Shopify does not stock a new
    #: variant at by itself (the stock writer's ``targets``).
    stock_targets: Callable[[], Awaitable[list[str]]] | None = None

    async def _collections(self) -> dict[str, str]:
        if self.collections is None:
            self.collections = await self._read_collections()
        return self.collections

    async def _read_collections(self) -> dict[str, str]:
        """
        The shop's collections by handle, read now.
        """
        found: dict[str, str] = {}
        after: str | None = None
        while True:
            data = await self.api.call(
                COLLECTIONS, {"after": after}, cost=253, what="collections"
            )
            self.currency = data["shop"]["currencyCode"]
            page = data["collections"]
            found.update({c["handle"]: c["id"] for c in page["nodes"]})
            if not page["pageInfo"]["hasNextPage"]:
                return found
            after = page["pageInfo"]["endCursor"]

    async def _create_once(self, record: Category, data: Row) -> Row:
        """
        ``collectionCreate`` of *data*, run once: it takes no idempotency
        key, and one whose answer was lost (a timeout after Shopify made
        the collection) would be refused for its handle or make a second
        collection.  A retry first reads the collections again and takes
        the one with this handle.
        """
        what = f"category {record.number!r}"

        async def made() -> Row | None:
            gid = (await self._read_collections()).get(data["handle"])
            if gid is None:
                return None
            return {
                "collection": {"id": gid, "handle": data["handle"]},
                "userErrors": [],
            }

        async def send() -> Row:
            answer: Row = (
                await self.api.call(
                    COLLECTION_WRITE % "collectionCreate",
                    {"i": data},
                    cost=12,
                    what=what,
                    retry=False,
                )
            )["collectionCreate"]
            return answer

        return await self.api.http.policy.call(send, confirm=made)

    async def push_categories(
        self, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        known = await self._collections()
        records = [item.record for item in items]
        assert all(isinstance(r, Category) for r in records)
        categories = [r for r in records if isinstance(r, Category)]
        # Parents first; a category on (or below) a cycle cannot be sent
        # (the parent metafields would go round in a circle).
        order, cycles = parents_first(categories)
        found: dict[int, Outcome] = {
            k: fail(
                categories[k].number,
                f"category {categories[k].number} {problem.reason}",
                problem.field,
            )
            for k, problem in cycles.items()
        }
        for k in order:
            found[k] = await self._write_category(categories[k], known)
        return [found[k] for k in range(len(categories))]

    async def _write_category(
        self, record: Category, known: dict[str, str]
    ) -> Outcome:
        """
        Write *record* as its collection (*known*: the collections by
        handle, updated with it); its outcome.
        """
        handle = collection_handle(record.number)
        if record.parent is not None and (
            collection_handle(record.parent) not in known
        ):
            return fail(
                record.number,
                f"parent category {record.parent!r} is not on Shopify",
                "parent",
            )
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
        mutation = "collectionCreate" if gid is None else "collectionUpdate"
        if gid is not None:
            data["id"] = gid
        if gid is not None and record.parent is None:
            parent = {
                "ownerId": gid,
                "namespace": NAMESPACE,
                "key": "parent",
            }
            answer = (
                await self.api.call(
                    COLLECTION_TO_ROOT,
                    {"i": data, "d": [parent]},
                    cost=24,
                    what=f"category {record.number!r}",
                    idempotent=True,  # by id
                )
            )[mutation]
        elif gid is None:
            answer = await self._create_once(record, data)
        else:
            answer = (
                await self.api.call(
                    COLLECTION_WRITE % mutation,
                    {"i": data},
                    cost=12,
                    what=f"category {record.number!r}",
                    idempotent=True,  # collectionUpdate, by id
                )
            )[mutation]
        if answer["userErrors"]:
            return user_errors(record.number, answer["userErrors"])
        known[handle] = answer["collection"]["id"]
        return Outcome(number=record.number, platform_id=known[handle])

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
                    # A variant's own price of 0.00 is its price too.
                    "price": format(
                        record.price if v.price is None else v.price, "f"
                    ),
                    # Always sent: an EAN the ERP no longer has leaves
                    # the shop too ("" clears what null would keep).
                    "barcode": v.ean or "",
                    "taxable": record.tax_rate != 0,
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
                    "barcode": record.ean or "",
                    "taxable": record.tax_rate != 0,
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
            refused = price_refusal(record, self.currency)
            if refused is not None:
                outcomes[i] = fail(record.number, *refused)
                continue
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
        # The variants the SKU look-up found existed before the push;
        # the others in productSet's answers are made by it: (outcome
        # index, SKU, inventory item).
        made = Made(*await self._held_elsewhere(todo, outcomes))
        todo = [t for t in todo if outcomes[t[0]] is None]
        keep_variant_ids(todo, made)
        track_new_products(todo, made)
        places = await self.stock_targets() if self.stock_targets else []
        if places:
            stock_new_products(todo, places, made)
        if in_bulk(self.bulk, self.bulk_threshold, len(todo)):
            await self._articles_in_bulk(todo, outcomes, made)
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
                    idempotent=True,  # an upsert by the custom id
                )
            )["productSet"]
            outcomes[i] = self._article(i, number, answer, made)
        if made.items and places:
            await stock_made(self.api, made.items, places, outcomes)
        return [o for o in outcomes if o is not None]

    async def _held_elsewhere(
        self,
        todo: Sequence[tuple[int, str, Row]],
        outcomes: list[Outcome | None],
    ) -> tuple[set[str], set[str], set[str], dict[tuple[str, str], list[str]]]:
        """
        Fail the articles one of whose SKUs another product holds; the
        GIDs of all the variants found, the ERP numbers of the products
        found, the SKUs found (casefolded), and the variants found by
        (ERP number of their product, SKU):
        Shopify does not keep SKUs unique, so ``productSet`` would add a
        second product with that SKU (a product made by hand, or one the
        ERP numbers otherwise), and stock would reach either of them.
        """
        skus = list(
            dict.fromkeys(
                v["sku"]
                for _, _, data in todo
                for v in data["input"]["variants"]
            )
        )
        holders: dict[str, list[tuple[str, str | None]]] = {}
        own: dict[tuple[str, str], list[str]] = {}
        seen: set[str] = set()
        found: set[str] = set()
        for start in range(0, len(skus), HOLDER_SKUS):
            chunk = skus[start : start + HOLDER_SKUS]
            nodes = await variants_with_skus(
                self.api,
                chunk,
                HOLDER_FIELDS,
                per_node=3,
                what="SKU lookup",
            )
            for v in nodes:
                seen.add(str(v.get("id")))
                found.add(str(v.get("sku") or "").casefold())
                if v.get("sku") in chunk:
                    owner = (v["product"].get("metafield") or {}).get("value")
                    holders.setdefault(v["sku"], []).append(
                        (str(v["product"]["id"]), owner)
                    )
                    if owner:
                        own.setdefault((owner, v["sku"]), []).append(
                            str(v["id"])
                        )
        for i, number, data in todo:
            variants = data["input"]["variants"]
            for k, v in enumerate(variants):
                others = sorted(
                    {
                        p
                        for p, owner in holders.get(v["sku"], [])
                        if owner != number
                    }
                )
                if others:
                    outcomes[i] = fail(
                        number,
                        f"SKU {v['sku']!r} is held by another Shopify product "
                        f"({', '.join(others)}); Shopify does not keep SKUs "
                        "unique, so the shop would hold it twice: remove it "
                        "there or give the ERP record another number",
                        "number"
                        if v["sku"] == number and len(variants) == 1
                        else f"variants.{k}.number",
                    )
                    break
        owners = {o for held in holders.values() for _, o in held if o}
        return seen, owners, found, own

    def _article(
        self, i: int, number: str, answer: Row, made: Made
    ) -> Outcome:
        """
        The outcome of one ``productSet`` answer (item *i* of the push);
        remembers its SKUs' inventory items, and those of the variants
        it made (none the SKU look-up found).
        """
        if answer["userErrors"]:
            return user_errors(number, answer["userErrors"])
        product = answer["product"]
        for v in product["variants"]["nodes"]:
            if v.get("sku"):
                self.items[v["sku"]] = v["inventoryItem"]["id"]
                if v["inventoryItem"].get("tracked") is False:
                    self.untracked.add(v["sku"])
                else:
                    self.untracked.discard(v["sku"])
            if i not in made.stocked and str(v.get("id")) not in made.seen:
                item = str(v["inventoryItem"]["id"])
                made.items.append((i, str(v.get("sku")), item))
        return Outcome(number=number, platform_id=product["id"])

    async def _articles_in_bulk(
        self,
        todo: Sequence[tuple[int, str, Row]],
        outcomes: list[Outcome | None],
        made: Made,
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
                outcomes[i] = self._article(
                    i, number, row["data"]["productSet"], made
                )


__all__ = [
    "Catalogue",
    "collection_handle",
    "fail",
    "in_bulk",
    "line_errors",
    "not_run",
    "user_errors",
]
