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
from collections.abc import Mapping, Sequence

import attrs

from ..._contracts import Outcome, Outgoing
from ..._model import Article, Category, StockLevel
from ...exceptions import ConfigurationError
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
ALL_LOCATIONS = """
query($after: String) { locations(first: 250, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { id name } } }
"""
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


def resolve_locations(
    known: Mapping[str, str],
    default: str | None,
    mapping: Mapping[str, str],
) -> tuple[str, dict[str, str]]:
    """
    The default location's GID and the warehouse -> location GID map;
    *known* maps the shop's location names to their GIDs, and a
    location is named by its name or its GID.

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
    first = next(iter(known.values()))
    return (
        first if default is None else str(gid_of(default)),
        {w: str(gid_of(loc)) for w, loc in mapping.items()},
    )


@attrs.frozen
class _Entry:
    """
    One quantity of an ``inventorySetQuantities`` call: an article's
    stock at one location, from the levels (indexes) summed into it.
    """

    number: str
    location: str
    quantity: int
    levels: tuple[int, ...]


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
    #: ERP warehouse code -> location name or GID; None: stock is summed.
    locations: Mapping[str, str] | None = None
    warehouses: dict[str, str] | None = None
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

    async def resolve(self) -> None:
        """
        With a ``locations`` map: read the shop's locations once and
        resolve the map and the default location to GIDs.

        Raises:
            ConfigurationError: A location the shop does not have.
        """
        if self.locations is None or self.warehouses is not None:
            return
        known: dict[str, str] = {}
        after: str | None = None
        while True:
            data = await self.api.call(
                ALL_LOCATIONS, {"after": after}, cost=252, what="locations"
            )
            page = data["locations"]
            for node in page["nodes"]:
                known.setdefault(str(node["name"]), str(node["id"]))
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        self.location, self.warehouses = resolve_locations(
            known, self.location, self.locations
        )

    async def _location(self) -> str:
        await self.resolve()
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
        await self.resolve()
        warehouses = self.warehouses
        await self._lookup(
            [
                x.number
                for x in levels
                if x.warehouse is None
                or (warehouses is not None and x.warehouse in warehouses)
            ]
        )
        outcomes: list[Outcome | None] = [None] * len(levels)
        todo: list[int] = []
        for i, level in enumerate(levels):
            if level.warehouse is not None and warehouses is None:
                outcomes[i] = fail(
                    level.number,
                    f"{level.number!r}: warehouse {level.warehouse!r} has "
                    "no Shopify location; send the sum over the warehouses "
                    "or map the warehouses in locations",
                    "warehouse",
                )
            elif level.warehouse is not None and (
                warehouses is not None and level.warehouse not in warehouses
            ):
                outcomes[i] = fail(
                    level.number,
                    f"{level.number!r}: warehouse {level.warehouse!r} is not "
                    "mapped to a Shopify location (locations maps "
                    + ", ".join(repr(w) for w in sorted(warehouses))
                    + ")",
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
        entries = self._entries(levels, todo, location, outcomes)
        done: list[Outcome | None] = [None] * len(entries)
        chunks = _articles_in_chunks(entries)
        if self._in_bulk(len(todo)):
            chunks = await self._stock_in_bulk(entries, chunks, done)
        for chunk in chunks:
            await self._set(entries, chunk, done)
        for entry, outcome in zip(entries, done, strict=True):
            for i in entry.levels:
                outcomes[i] = outcome
        return [o for o in outcomes if o is not None]

    def _entries(
        self,
        levels: Sequence[StockLevel],
        todo: Sequence[int],
        default: str,
        outcomes: list[Outcome | None],
    ) -> list[_Entry]:
        """
        One entry per article and location: levels of warehouses mapped
        to one location are summed into one entry (at the first's
        place).  A level without a warehouse next to another level for
        the same location says neither which to keep nor whether to add:
        all of them fail on ``warehouse``.
        """
        groups: dict[tuple[str, str], list[int]] = {}
        for i in todo:
            level = levels[i]
            location = (
                default
                if level.warehouse is None or self.warehouses is None
                else self.warehouses[level.warehouse]
            )
            groups.setdefault((level.number, location), []).append(i)
        entries: list[_Entry] = []
        for (number, location), group in groups.items():
            if len(group) > 1 and any(
                levels[i].warehouse is None for i in group
            ):
                named = [
                    repr(levels[k].warehouse)
                    for k in group
                    if levels[k].warehouse is not None
                ]
                why = (
                    f"a summed stock level and a level of warehouse "
                    f"{', '.join(named)} both go to location {location!r}"
                    if named
                    else f"{len(group)} summed stock levels in one push"
                )
                for i in group:
                    outcomes[i] = fail(
                        number, f"{number!r}: {why}", "warehouse"
                    )
                continue
            entries.append(
                _Entry(
                    number,
                    location,
                    sum(levels[i].quantity for i in group),
                    tuple(group),
                )
            )
        return entries

    def _quantities(
        self, entries: Sequence[_Entry], chunk: Sequence[int]
    ) -> Row:
        return {
            "input": {
                "name": "available",
                "reason": "correction",
                "referenceDocumentUri": "gid://ecomsync/Sync/stock",
                "quantities": [
                    {
                        "inventoryItemId": self.items[entries[i].number],
                        "locationId": entries[i].location,
                        "quantity": entries[i].quantity,
                        "changeFromQuantity": None,
                    }
                    for i in chunk
                ],
            },
            "key": str(uuid.uuid4()),
        }

    async def _stock_in_bulk(
        self,
        levels: Sequence[_Entry],
        chunks: list[list[int]],
        outcomes: list[Outcome | None],
    ) -> list[list[int]]:
        """
        One bulk line per chunk; what is left to send one call at a time:
        the rest of a chunk a userError refused.
        """
        assert self.bulk is not None
        result = await self.bulk.run(
            INVENTORY,
            [self._quantities(levels, c) for c in chunks],
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
        levels: Sequence[_Entry],
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
        levels: Sequence[_Entry],
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
        levels: Sequence[_Entry],
        chunk: list[int],
        outcomes: list[Outcome | None],
    ) -> None:
        while chunk:
            answer = (
                await self.api.call(
                    INVENTORY,
                    self._quantities(levels, chunk),
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


def _articles_in_chunks(entries: Sequence[_Entry]) -> list[list[int]]:
    """
    Entry indexes in chunks of at most 250 quantities, the entries of one
    article always in one chunk (one call), so its levels land together.
    """
    by_article: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        by_article.setdefault(entry.number, []).append(i)
    chunks: list[list[int]] = []
    for group in by_article.values():
        if not chunks or len(chunks[-1]) + len(group) > INPUT_LIMIT:
            chunks.append([])
        chunks[-1].extend(group)
        while len(chunks[-1]) > INPUT_LIMIT:  # more locations than a call
            chunks.append(chunks[-1][INPUT_LIMIT:])
            del chunks[-2][INPUT_LIMIT:]
    return chunks


__all__ = ["Catalogue", "collection_handle", "resolve_locations"]
