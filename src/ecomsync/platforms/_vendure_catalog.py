"""
Catalogue writes of the Vendure adapter: categories (facet values plus
collections), articles (products with variants), stock and media.

Every push first reads what the shop holds and then writes only what
differs, so a record already in the target state costs no write.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import anyio
import attrs

from .._contracts import MediaLink, Outcome, Outgoing, StagedMedia
from .._model import Article, Category, MediaKind, StockLevel
from ..exceptions import SyncError
from ._vendure_client import JSON, GraphQL
from ._vendure_gql import aliased, list_mutation, union_error


_PAGE = 1000
_FILTER = "facet-value-filter"


def slugify(text: str) -> str:
    """
    A URL slug as Vendure makes them: ASCII, lower case, dashes.
    """
    plain = (
        unicodedata.normalize("NFKD", text)
        .encode("ascii", "ignore")
        .decode("ascii")
    )
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return slug or "item"


def cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@attrs.frozen
class Reference:
    """
    The shop's settings a push depends on, read once.
    """

    currency: str
    prices_include_tax: bool
    tax_categories: dict[Decimal, str]
    default_location: str
    locations: dict[str, str]


@attrs.define
class _Node:
    """
    A category collection: its own facet value comes first in its filter.
    """

    id: str
    parent_id: str | None
    name: str
    description: str
    private: bool
    value_ids: list[str]
    asset_ids: list[str]
    featured: str | None


def _value_ids(collection: JSON) -> list[str]:
    for flt in collection.get("filters") or []:
        if flt.get("code") != _FILTER:
            continue
        for arg in flt.get("args") or []:
            if arg.get("name") == "facetValueIds":
                try:
                    ids = json.loads(arg.get("value") or "[]")
                except ValueError:
                    return []
                return [str(i) for i in ids]
    return []


def _filter(value_ids: Sequence[str]) -> list[JSON]:
    return [
        {
            "code": _FILTER,
            "arguments": [
                {
                    "name": "facetValueIds",
                    "value": json.dumps(list(value_ids)),
                },
                {"name": "containsAny", "value": "true"},
                {"name": "combineWithAnd", "value": "true"},
            ],
        }
    ]


def _fail(number: str, message: str, field: str | None = None) -> Outcome:
    return Outcome(number=number, error=message, field=field)


@attrs.define
class Catalog:
    """
    Categories, articles, stock and media on one Vendure channel.
    """

    gql: GraphQL
    language: str = "en"
    facet_code: str = "erp-category"
    stock_location: str | None = None
    _reference: Reference | None = attrs.field(default=None, init=False)
    _facet_id: str | None = attrs.field(default=None, init=False)
    _lock: anyio.Lock = attrs.field(factory=anyio.Lock, init=False)
    _assets: dict[str, str] = attrs.field(factory=dict, init=False)

    # -- reference data ---------------------------------------------------

    async def reference(self) -> Reference:
        async with self._lock:
            if self._reference is None:
                self._reference = await self._read_reference()
            return self._reference

    async def _read_reference(self) -> Reference:
        data = await self.gql.query(
            """{
              activeChannel { defaultCurrencyCode pricesIncludeTax
                              defaultTaxZone { id } }
              taxRates(options: { take: 1000 }) {
                items { value enabled category { id } zone { id } } }
              stockLocations(options: { take: 1000 }) { items { id name } }
            }"""
        )
        channel = data["activeChannel"]
        zone = (channel.get("defaultTaxZone") or {}).get("id")
        rates: dict[Decimal, str] = {}
        for rate in data["taxRates"]["items"]:
            if rate["zone"]["id"] == zone and rate.get("enabled", True):
                rates.setdefault(
                    Decimal(str(rate["value"])).normalize(),
                    rate["category"]["id"],
                )
        locations = {
            loc["name"]: loc["id"] for loc in data["stockLocations"]["items"]
        }
        if not locations:
            raise SyncError("Vendure has no stock location")
        default = next(iter(locations.values()))
        if self.stock_location is not None:
            if self.stock_location not in locations:
                raise SyncError(
                    f"Vendure has no stock location {self.stock_location!r}"
                )
            default = locations[self.stock_location]
        return Reference(
            currency=channel["defaultCurrencyCode"],
            prices_include_tax=bool(channel["pricesIncludeTax"]),
            tax_categories=rates,
            default_location=default,
            locations=locations,
        )

    async def facet_id(self) -> str:
        """
        The id of the private facet holding one value per ERP category.
        """
        async with self._lock:
            if self._facet_id is None:
                self._facet_id = await self._ensure_facet()
            return self._facet_id

    async def _ensure_facet(self) -> str:
        data = await self.gql.query(
            """query ($c: String!) { facets(options: {
                 filter: { code: { eq: $c } } }) { items { id } } }""",
            {"c": self.facet_code},
        )
        items = data["facets"]["items"]
        if items:
            return str(items[0]["id"])
        results = await aliased(
            self.gql,
            "createFacet",
            {"input": "CreateFacetInput!"},
            [
                {
                    "input": {
                        "code": self.facet_code,
                        "isPrivate": True,
                        "translations": [
                            {
                                "languageCode": self.language,
                                "name": "ERP category",
                            }
                        ],
                        "values": [],
                    }
                }
            ],
            "id",
        )
        created = results[0]
        if isinstance(created, str):
            raise SyncError(f"cannot create the category facet: {created}")
        return str(created["id"])

    async def category_values(self) -> dict[str, JSON]:
        """
        The ERP categories the shop has: category number -> facet value.
        """
        facet = await self.facet_id()
        values: dict[str, JSON] = {}
        skip = 0
        while True:
            data = await self.gql.query(
                """query ($f: String!, $skip: Int!, $take: Int!) {
                  facetValues(options: { skip: $skip, take: $take,
                    filter: { facetId: { eq: $f } }, sort: { id: ASC } }) {
                    totalItems items { id code name } } }""",
                {"f": facet, "skip": skip, "take": _PAGE},
            )
            page = data["facetValues"]
            for item in page["items"]:
                values[item["code"]] = item
            skip += len(page["items"])
            if not page["items"] or skip >= page["totalItems"]:
                return values

    async def _collections(self, value_ids: set[str]) -> dict[str, _Node]:
        """
        The category collections, by their own facet value id.
        """
        nodes: dict[str, _Node] = {}
        skip = 0
        while True:
            data = await self.gql.query(
                """query ($skip: Int!, $take: Int!) {
                  collections(options: { skip: $skip, take: $take,
                                         sort: { id: ASC } }) {
                    totalItems
                    items { id parentId name description isPrivate
                            featuredAsset { id } assets { id }
                            filters { code args { name value } } } } }""",
                {"skip": skip, "take": _PAGE},
            )
            page = data["collections"]
            for item in page["items"]:
                ids = _value_ids(item)
                if ids and ids[0] in value_ids:
                    nodes[ids[0]] = _Node(
                        id=str(item["id"]),
                        parent_id=item.get("parentId"),
                        name=item["name"],
                        description=item.get("description") or "",
                        private=bool(item["isPrivate"]),
                        value_ids=ids,
                        asset_ids=[a["id"] for a in item.get("assets") or []],
                        featured=(item.get("featuredAsset") or {}).get("id"),
                    )
            skip += len(page["items"])
            if not page["items"] or skip >= page["totalItems"]:
                return nodes

    # -- categories ---------------------------------------------------------

    async def push_categories(
        self, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        facet = await self.facet_id()
        values = await self.category_values()
        outcomes: dict[int, Outcome] = {}
        cats: list[tuple[int, Category]] = []
        for i, item in enumerate(items):
            if isinstance(item.record, Category):
                cats.append((i, item.record))
            else:
                outcomes[i] = _fail(item.record.number, "not a category")

        def tr(cat: Category) -> list[JSON]:
            return [{"languageCode": self.language, "name": cat.name}]

        # 1. facet values: one per category, code = category number
        new = [(i, c) for i, c in cats if c.number not in values]
        created = await list_mutation(
            self.gql,
            "createFacetValues",
            "CreateFacetValueInput",
            [
                {"facetId": facet, "code": c.number, "translations": tr(c)}
                for _, c in new
            ],
            "id code name",
        )
        for (i, cat), result in zip(new, created, strict=True):
            if isinstance(result, str):
                outcomes[i] = _fail(cat.number, result)
            else:
                values[cat.number] = result
        renamed = [
            (i, c)
            for i, c in cats
            if i not in outcomes
            and c.number in values
            and values[c.number]["name"] != c.name
        ]
        updated = await list_mutation(
            self.gql,
            "updateFacetValues",
            "UpdateFacetValueInput",
            [
                {"id": values[c.number]["id"], "translations": tr(c)}
                for _, c in renamed
            ],
            "id name",
        )
        for (i, cat), result in zip(renamed, updated, strict=True):
            if isinstance(result, str):
                outcomes[i] = _fail(cat.number, result)

        # 2. collections, parents before children
        by_value = {v["id"]: n for n, v in values.items()}
        nodes = await self._collections(set(by_value))
        pending = [(i, c) for i, c in cats if i not in outcomes]
        root = await self._root_collection()
        while pending:
            ready: list[tuple[int, Category, str | None]] = []
            waiting: list[tuple[int, Category]] = []
            for i, cat in pending:
                parent_id = root
                if cat.parent is not None:
                    parent_value = values.get(cat.parent)
                    parent_node = (
                        nodes.get(parent_value["id"]) if parent_value else None
                    )
                    if parent_node is None:
                        waiting.append((i, cat))
                        continue
                    parent_id = parent_node.id
                ready.append((i, cat, parent_id))
            if not ready:
                for i, cat in waiting:
                    outcomes[i] = _fail(
                        cat.number,
                        f"parent category {cat.parent} does not exist",
                        "parent",
                    )
                break
            await self._write_collections(ready, values, nodes, outcomes)
            pending = waiting

        # 3. every collection lists its own and all descendant values
        await self._refilter(nodes)
        for i, cat in cats:
            if i not in outcomes:
                outcomes[i] = Outcome(
                    number=cat.number, platform_id=values[cat.number]["id"]
                )
        return [outcomes[i] for i in range(len(items))]

    async def _root_collection(self) -> str | None:
        data = await self.gql.query(
            "{ collections(options: { take: 1, topLevelOnly: true }) "
            "{ items { parentId } } }"
        )
        items = data["collections"]["items"]
        return str(items[0]["parentId"]) if items else None

    async def _write_collections(
        self,
        ready: list[tuple[int, Category, str | None]],
        values: dict[str, JSON],
        nodes: dict[str, _Node],
        outcomes: dict[int, Outcome],
    ) -> None:
        creates: list[tuple[int, Category, str | None]] = []
        updates: list[tuple[int, Category, JSON]] = []
        moves: list[tuple[int, Category, JSON]] = []
        for i, cat, parent_id in ready:
            value_id = values[cat.number]["id"]
            node = nodes.get(value_id)
            if node is None:
                creates.append((i, cat, parent_id))
                continue
            change: JSON = {}
            if (node.name, node.description) != (cat.name, cat.description):
                change["translations"] = [
                    {
                        "languageCode": self.language,
                        "name": cat.name,
                        "description": cat.description,
                    }
                ]
            if node.private != (not cat.active):
                change["isPrivate"] = not cat.active
            if change:
                updates.append((i, cat, {"id": node.id, **change}))
            if parent_id is not None and node.parent_id != parent_id:
                moves.append(
                    (
                        i,
                        cat,
                        {
                            "collectionId": node.id,
                            "parentId": parent_id,
                            "index": max(cat.position, 0),
                        },
                    )
                )
        results = await aliased(
            self.gql,
            "createCollection",
            {"input": "CreateCollectionInput!"},
            [
                {
                    "input": {
                        "translations": [
                            {
                                "languageCode": self.language,
                                "name": cat.name,
                                "slug": slugify(cat.name),
                                "description": cat.description,
                            }
                        ],
                        "parentId": parent_id,
                        "isPrivate": not cat.active,
                        "inheritFilters": False,
                        "filters": _filter([values[cat.number]["id"]]),
                    }
                }
                for _, cat, parent_id in creates
            ],
            "id parentId",
        )
        for (i, cat, parent_id), result in zip(creates, results, strict=True):
            if isinstance(result, str):
                outcomes[i] = _fail(cat.number, result)
                continue
            value_id = values[cat.number]["id"]
            nodes[value_id] = _Node(
                id=str(result["id"]),
                parent_id=parent_id,
                name=cat.name,
                description=cat.description,
                private=not cat.active,
                value_ids=[value_id],
                asset_ids=[],
                featured=None,
            )
        for field, arg, batch in (
            ("updateCollection", "UpdateCollectionInput!", updates),
            ("moveCollection", "MoveCollectionInput!", moves),
        ):
            answers = await aliased(
                self.gql,
                field,
                {"input": arg},
                [{"input": change} for _, _, change in batch],
                "id parentId",
            )
            for (i, cat, change), result in zip(batch, answers, strict=True):
                if isinstance(result, str):
                    outcomes[i] = _fail(cat.number, result)
                elif field == "moveCollection":
                    node = nodes[values[cat.number]["id"]]
                    node.parent_id = change["parentId"]

    async def _refilter(self, nodes: dict[str, _Node]) -> None:
        children: dict[str | None, list[_Node]] = {}
        for node in nodes.values():
            children.setdefault(node.parent_id, []).append(node)

        def below(node: _Node) -> list[str]:
            found: list[str] = []
            for child in children.get(node.id, []):
                found += [child.value_ids[0], *below(child)]
            return found

        changes = []
        for value_id, node in nodes.items():
            want = [value_id, *sorted(set(below(node)), key=int)]
            if node.value_ids != want:
                changes.append(
                    {"input": {"id": node.id, "filters": _filter(want)}}
                )
                node.value_ids = want
        results = await aliased(
            self.gql,
            "updateCollection",
            {"input": "UpdateCollectionInput!"},
            changes,
            "id",
        )
        failed = [r for r in results if isinstance(r, str)]
        if failed:
            raise SyncError(f"cannot update collection filters: {failed[0]}")

    # -- articles -----------------------------------------------------------

    async def variants_by_sku(self, skus: Sequence[str]) -> dict[str, JSON]:
        """
        The shop's variants for *skus* (the oldest where SKUs repeat).
        """
        found: dict[str, JSON] = {}
        wanted = sorted(set(skus))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            data = await self.gql.query(
                """query ($skus: [String!]!, $take: Int!) {
                  productVariants(options: { take: $take,
                    filter: { sku: { in: $skus } }, sort: { id: ASC } }) {
                    items { id sku name price enabled stockOnHand
                            taxCategory { id } product { id }
                            stockLevels { stockLocationId stockOnHand
                                          stockAllocated } } } }""",
                {"skus": chunk, "take": _PAGE},
            )
            for item in data["productVariants"]["items"]:
                found.setdefault(item["sku"], item)
        return found

    async def _products(self, ids: Sequence[str]) -> dict[str, JSON]:
        if not ids:
            return {}
        data = await self.gql.query(
            """query ($ids: [String!]!, $take: Int!) {
              products(options: { take: $take,
                                  filter: { id: { in: $ids } } }) {
                items { id name slug description enabled
                        facetValues { id facet { id } }
                        featuredAsset { id } assets { id }
                        variants { id sku }
                        optionGroups { id code name
                                       options { id code name } } } } }""",
            {"ids": sorted(set(ids)), "take": _PAGE},
        )
        return {p["id"]: p for p in data["products"]["items"]}

    async def _orphans(self, slugs: Sequence[str]) -> dict[str, JSON]:
        """
        Products left without variants by an interrupted create, by slug.
        """
        if not slugs:
            return {}
        data = await self.gql.query(
            """query ($slugs: [String!]!, $take: Int!) {
              products(options: { take: $take,
                                  filter: { slug: { in: $slugs } } }) {
                items { id slug name description enabled
                        facetValues { id facet { id } }
                        featuredAsset { id } assets { id }
                        variants { id sku }
                        optionGroups { id code name
                                       options { id code name } } } } }""",
            {"slugs": sorted(set(slugs)), "take": _PAGE},
        )
        return {
            p["slug"]: p
            for p in data["products"]["items"]
            if not p["variants"]
        }

    def _price(self, ref: Reference, gross: Decimal, rate: Decimal) -> int:
        if ref.prices_include_tax:
            return cents(gross)
        return cents(gross / (1 + rate / 100))

    async def push_articles(  # noqa: PLR0915 -- one pass, in order
        self, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        ref = await self.reference()
        facet = await self.facet_id()
        values = await self.category_values()
        outcomes: dict[int, Outcome] = {}
        arts: list[tuple[int, Article, str]] = []
        for i, item in enumerate(items):
            art = item.record
            if not isinstance(art, Article):
                outcomes[i] = _fail(art.number, "not an article")
                continue
            problem = self._article_problem(art, ref, values)
            if problem is not None:
                outcomes[i] = _fail(art.number, *problem)
                continue
            tax = ref.tax_categories[art.tax_rate.normalize()]
            arts.append((i, art, tax))

        skus = [s for _, a, _ in arts for s in _skus(a)]
        variants = await self.variants_by_sku(skus)
        products = await self._products(
            [v["product"]["id"] for v in variants.values()]
        )
        unmatched = [
            a for _, a, _ in arts if not any(s in variants for s in _skus(a))
        ]
        orphans = await self._orphans([_slug(a) for a in unmatched])

        # 1. products: create the missing ones in one aliased document
        product_of: dict[int, JSON] = {}
        creates: list[tuple[int, Article]] = []
        for i, art, _ in arts:
            pid = next(
                (
                    variants[s]["product"]["id"]
                    for s in _skus(art)
                    if s in variants
                ),
                None,
            )
            if pid is not None and pid in products:
                product_of[i] = products[pid]
            elif _slug(art) in orphans:
                product_of[i] = orphans[_slug(art)]
            else:
                creates.append((i, art))
        results = await aliased(
            self.gql,
            "createProduct",
            {"input": "CreateProductInput!"},
            [{"input": self._product_input(a, values)} for _, a in creates],
            "id name slug description enabled facetValues { id facet { id } }"
            " featuredAsset { id } assets { id } variants { id sku }"
            " optionGroups { id code name options { id code name } }",
        )
        for (i, art), result in zip(creates, results, strict=True):
            if isinstance(result, str):
                outcomes[i] = _fail(art.number, result)
            else:
                product_of[i] = result

        # 2. product updates (texts, enabled, category facet values)
        changed: list[tuple[int, Article, JSON]] = []
        for i, art, _ in arts:
            product = product_of.get(i)
            if product is None or i in outcomes:
                continue
            change = self._product_change(art, product, values, facet)
            if change:
                changed.append((i, art, {"id": product["id"], **change}))
        answers = await list_mutation(
            self.gql,
            "updateProducts",
            "UpdateProductInput",
            [c for _, _, c in changed],
            "id",
        )
        for (i, art, _), answer in zip(changed, answers, strict=True):
            if isinstance(answer, str):
                outcomes[i] = _fail(art.number, answer)

        # 3. variants: create missing, update changed, remove dropped
        new_variants: list[tuple[int, Article, JSON]] = []
        upd_variants: list[tuple[int, Article, JSON]] = []
        drop: list[str] = []
        for i, art, tax in arts:
            product = product_of.get(i)
            if product is None or i in outcomes:
                continue
            wanted = _variant_rows(art)
            option_ids: dict[str, list[str]] = {}
            if art.variants and len(wanted) > 1:
                keep = {sku for sku, _, _ in wanted}
                stale = [
                    v["id"]
                    for v in product.get("variants") or []
                    if v["sku"] not in keep
                ]
                if stale:
                    await self._delete_variants(stale)
                    product["variants"] = [
                        v for v in product["variants"] if v["id"] not in stale
                    ]
                options = await self._ensure_options(product, art)
                if isinstance(options, str):
                    outcomes[i] = _fail(art.number, options, "variants")
                    continue
                option_ids = options
            for sku, name, gross in wanted:
                price = self._price(ref, gross, art.tax_rate)
                have = variants.get(sku)
                if have is None or have["product"]["id"] != product["id"]:
                    new_variants.append(
                        (
                            i,
                            art,
                            {
                                "productId": product["id"],
                                "sku": sku,
                                "price": price,
                                "taxCategoryId": tax,
                                "enabled": art.active,
                                "optionIds": option_ids.get(sku, []),
                                "translations": [
                                    {
                                        "languageCode": self.language,
                                        "name": name,
                                    }
                                ],
                            },
                        )
                    )
                    continue
                vchange: JSON = {}
                if have["price"] != price:
                    vchange["price"] = price
                if have["taxCategory"]["id"] != tax:
                    vchange["taxCategoryId"] = tax
                if have["enabled"] != art.active:
                    vchange["enabled"] = art.active
                if have["name"] != name:
                    vchange["translations"] = [
                        {"languageCode": self.language, "name": name}
                    ]
                if vchange:
                    upd_variants.append(
                        (i, art, {"id": have["id"], **vchange})
                    )
            keep = {sku for sku, _, _ in wanted}
            drop += [
                v["id"]
                for v in product.get("variants") or []
                if v["sku"] not in keep
            ]
        for field, input_type, batch in (
            (
                "createProductVariants",
                "CreateProductVariantInput",
                new_variants,
            ),
            (
                "updateProductVariants",
                "UpdateProductVariantInput",
                upd_variants,
            ),
        ):
            answers = await list_mutation(
                self.gql, field, input_type, [b for _, _, b in batch], "id"
            )
            for (i, art, _), answer in zip(batch, answers, strict=True):
                if isinstance(answer, str) or answer is None:
                    outcomes[i] = _fail(art.number, str(answer or "no result"))
        await self._delete_variants(drop)
        for i, art, _ in arts:
            if i not in outcomes:
                outcomes[i] = Outcome(
                    number=art.number, platform_id=product_of[i]["id"]
                )
        return [outcomes[i] for i in range(len(items))]

    async def _delete_variants(self, ids: Sequence[str]) -> None:
        if ids:
            await self.gql.request(
                "mutation ($ids: [ID!]!) { deleteProductVariants(ids: $ids) "
                "{ result message } }",
                {"ids": list(ids)},
                mutation=True,
            )

    async def _ensure_options(
        self, product: JSON, art: Article
    ) -> dict[str, list[str]] | str:
        """
        The option ids per variant SKU, creating option groups and options
        the product lacks.  Variants whose options do not tell them apart
        get one group "Variant" with the variant numbers as options.
        """
        names = list(
            dict.fromkeys(n for v in art.variants for n, _ in v.options)
        )
        combos = [
            tuple(dict(v.options).get(n) for n in names) for v in art.variants
        ]
        if (
            not names
            or None in (x for c in combos for x in c)
            or len(set(combos)) != len(combos)
        ):
            names = ["Variant"]
            rows = {v.number: {"Variant": v.number} for v in art.variants}
        else:
            rows = {v.number: dict(v.options) for v in art.variants}
        groups = {g["name"]: g for g in product.get("optionGroups") or []}
        for name in names:
            wanted = list(dict.fromkeys(r[name] for r in rows.values()))
            group = groups.get(name)
            tr = [{"languageCode": self.language, "name": name}]
            if group is None:
                results = await aliased(
                    self.gql,
                    "createProductOptionGroup",
                    {"input": "CreateProductOptionGroupInput!"},
                    [
                        {
                            "input": {
                                "code": slugify(f"{art.number}-{name}"),
                                "translations": tr,
                                "options": [
                                    {
                                        "code": slugify(value),
                                        "translations": [
                                            {
                                                "languageCode": self.language,
                                                "name": value,
                                            }
                                        ],
                                    }
                                    for value in wanted
                                ],
                            }
                        }
                    ],
                    "id code name options { id code name }",
                )
                if isinstance(results[0], str):
                    return results[0]
                group = results[0]
                added = await aliased(
                    self.gql,
                    "addOptionGroupToProduct",
                    {"productId": "ID!", "optionGroupId": "ID!"},
                    [
                        {
                            "productId": product["id"],
                            "optionGroupId": group["id"],
                        }
                    ],
                    "id",
                )
                if isinstance(added[0], str):
                    return added[0]
                groups[name] = group
            have = {o["name"] for o in group["options"]}
            missing = [v for v in wanted if v not in have]
            results = await aliased(
                self.gql,
                "createProductOption",
                {"input": "CreateProductOptionInput!"},
                [
                    {
                        "input": {
                            "productOptionGroupId": group["id"],
                            "code": slugify(value),
                            "translations": [
                                {"languageCode": self.language, "name": value}
                            ],
                        }
                    }
                    for value in missing
                ],
                "id code name",
            )
            for result in results:
                if isinstance(result, str):
                    return result
                group["options"].append(result)
        by_name = {
            name: {o["name"]: o["id"] for o in groups[name]["options"]}
            for name in names
        }
        return {
            sku: [by_name[n][row[n]] for n in names]
            for sku, row in rows.items()
        }

    def _article_problem(
        self, art: Article, ref: Reference, values: dict[str, JSON]
    ) -> tuple[str, str] | None:
        if art.currency != ref.currency:
            return (
                f"the channel sells in {ref.currency}, the article is "
                f"priced in {art.currency}",
                "currency",
            )
        if art.tax_rate.normalize() not in ref.tax_categories:
            return (
                f"no tax category with a {art.tax_rate} % rate in the "
                "channel's default tax zone",
                "tax_rate",
            )
        for number in art.categories:
            if number not in values:
                return (f"category {number} does not exist", "categories")
        return None

    def _product_input(self, art: Article, values: dict[str, JSON]) -> JSON:
        return {
            "enabled": art.active,
            "translations": [
                {
                    "languageCode": self.language,
                    "name": art.name,
                    "slug": _slug(art),
                    "description": art.description,
                }
            ],
            "facetValueIds": [values[n]["id"] for n in art.categories],
        }

    def _product_change(
        self,
        art: Article,
        product: JSON,
        values: dict[str, JSON],
        facet: str,
    ) -> JSON:
        change: JSON = {}
        if (product["name"], product.get("description") or "") != (
            art.name,
            art.description,
        ):
            change["translations"] = [
                {
                    "languageCode": self.language,
                    "name": art.name,
                    "description": art.description,
                }
            ]
        if product["enabled"] != art.active:
            change["enabled"] = art.active
        current = [fv["id"] for fv in product.get("facetValues") or []]
        others = [
            fv["id"]
            for fv in product.get("facetValues") or []
            if fv["facet"]["id"] != facet
        ]
        want = others + [values[n]["id"] for n in art.categories]
        if sorted(current) != sorted(want):
            change["facetValueIds"] = want
        return change

    # -- stock --------------------------------------------------------------

    async def push_stock(self, items: Sequence[Outgoing]) -> list[Outcome]:
        ref = await self.reference()
        levels = [
            (i, item.record)
            for i, item in enumerate(items)
            if isinstance(item.record, StockLevel)
        ]
        variants = await self.variants_by_sku([s.number for _, s in levels])
        outcomes: dict[int, Outcome] = {}
        writes: list[tuple[int, StockLevel, JSON]] = []
        for i, item in enumerate(items):
            if not isinstance(item.record, StockLevel):
                outcomes[i] = _fail(item.record.number, "not a stock level")
        for i, level in levels:
            variant = variants.get(level.number)
            if variant is None:
                outcomes[i] = _fail(
                    level.number,
                    f"no variant with SKU {level.number}",
                    "number",
                )
                continue
            location = ref.default_location
            if level.warehouse is not None:
                if level.warehouse not in ref.locations:
                    outcomes[i] = _fail(
                        level.number,
                        f"no stock location named {level.warehouse!r}",
                        "warehouse",
                    )
                    continue
                location = ref.locations[level.warehouse]
            on_hand, allocated = 0, 0
            for stock in variant.get("stockLevels") or []:
                if str(stock["stockLocationId"]) == location:
                    on_hand = stock["stockOnHand"]
                    allocated = stock["stockAllocated"]
            # Available in the ERP + what Vendure holds for open orders.
            target = max(level.quantity, 0) + allocated
            outcomes[i] = Outcome(
                number=level.number, platform_id=variant["id"]
            )
            if target != on_hand:
                writes.append(
                    (
                        i,
                        level,
                        {
                            "id": variant["id"],
                            "stockLevels": [
                                {
                                    "stockLocationId": location,
                                    "stockOnHand": target,
                                }
                            ],
                        },
                    )
                )
        answers = await list_mutation(
            self.gql,
            "updateProductVariants",
            "UpdateProductVariantInput",
            [w for _, _, w in writes],
            "id",
        )
        for (i, level, _), answer in zip(writes, answers, strict=True):
            if isinstance(answer, str) or answer is None:
                outcomes[i] = _fail(level.number, str(answer or "no result"))
        return [outcomes[i] for i in range(len(items))]

    # -- media --------------------------------------------------------------

    async def upload(self, media: StagedMedia) -> str:
        name = _asset_name(media)
        if media.sha256 in self._assets:
            return self._assets[media.sha256]
        data = await self.gql.query(
            """query ($n: String!) { assets(options: {
                 filter: { name: { eq: $n } }, sort: { id: ASC }, take: 1 }) {
                 items { id } } }""",
            {"n": name},
        )
        items = data["assets"]["items"]
        if items:
            self._assets[media.sha256] = str(items[0]["id"])
            return self._assets[media.sha256]
        content = await anyio.to_thread.run_sync(media.read_bytes)
        answer, errors = await self.gql.request(
            """mutation ($input: [CreateAssetInput!]!) {
              createAssets(input: $input) { __typename
                ... on Asset { id name }
                ... on ErrorResult { errorCode message } } }""",
            {"input": [{"file": None, "tags": ["ecomsync"]}]},
            mutation=True,
            files={"variables.input.0.file": (name, content, media.mime_type)},
        )
        created = (answer.get("createAssets") or [None])[0]
        problem = union_error(created)
        if problem is not None or errors:
            raise SyncError(
                f"Vendure refused the upload of {media.filename!r}: "
                f"{problem or errors[0].get('message')}"
            )
        assert created is not None
        self._assets[media.sha256] = str(created["id"])
        return self._assets[media.sha256]

    async def attach(
        self, kind: str, target: Outcome, media: Sequence[MediaLink]
    ) -> None:
        ordered = sorted(media, key=lambda m: m.position)
        ids = list(dict.fromkeys(m.media_id for m in ordered))
        images = [m.media_id for m in ordered if m.kind is MediaKind.IMAGE]
        featured = images[0] if images else (ids[0] if ids else None)
        if target.platform_id is None:
            raise SyncError(f"{target.number} has no Vendure id to attach to")
        if kind == "product":
            current = (await self._products([target.platform_id])).get(
                target.platform_id
            )
            if current is None:
                raise SyncError(f"product {target.platform_id} is gone")
            have = [a["id"] for a in current.get("assets") or []]
            have_featured = (current.get("featuredAsset") or {}).get("id")
            field, input_type, entity = (
                "updateProduct",
                "UpdateProductInput!",
                target.platform_id,
            )
        else:
            values = await self.category_values()
            nodes = await self._collections({v["id"] for v in values.values()})
            node = nodes.get(target.platform_id)
            if node is None:
                raise SyncError(f"category {target.number} has no collection")
            have, have_featured = node.asset_ids, node.featured
            field, input_type, entity = (
                "updateCollection",
                "UpdateCollectionInput!",
                node.id,
            )
        if have == ids and have_featured == featured:
            return
        results = await aliased(
            self.gql,
            field,
            {"input": input_type},
            [
                {
                    "input": {
                        "id": entity,
                        "assetIds": ids,
                        "featuredAssetId": featured,
                    }
                }
            ],
            "id",
        )
        if isinstance(results[0], str):
            raise SyncError(
                f"cannot attach media to {target.number}: {results[0]}"
            )


def _skus(art: Article) -> list[str]:
    return [v.number for v in art.variants] or [art.number]


def _slug(art: Article) -> str:
    return slugify(art.number)


def _variant_rows(art: Article) -> list[tuple[str, str, Decimal]]:
    if not art.variants:
        return [(art.number, art.name, art.price)]
    rows = []
    for variant in art.variants:
        label = " / ".join(value for _, value in variant.options)
        name = f"{art.name} {label}".strip()
        rows.append(
            (
                variant.number,
                name,
                variant.price if variant.price is not None else art.price,
            )
        )
    return rows


def _asset_name(media: StagedMedia) -> str:
    suffix = ""
    if "." in media.filename:
        suffix = "." + slugify(media.filename.rsplit(".", 1)[1])[:8]
    return f"{media.sha256}{suffix}"


__all__ = ["Catalog", "Reference", "cents", "slugify"]
