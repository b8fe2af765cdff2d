"""
What every catalogue writer of the Vendure adapter shares: the channel's
settings read once (`Reference`), the category facet, and the look-ups
by SKU, product id and slug that every push starts with.

The writers themselves live next door, one concern each:
`_categories` (facet values and collections), `_articles` (products),
`_variants` (variants and options), `_stock`, `_media`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from decimal import Decimal

import anyio
import attrs

from ..._contracts import Outcome
from ...exceptions import AuthenticationError, ConfigurationError, SyncError
from . import _lists
from ._client import JSON, GraphQL
from ._gql import aliased
from ._locations import resolve_locations
from ._money import DEFAULT_PRECISION, PRECISION_QUERY, precision_of
from ._pages import chunks, read_all


PAGE = 1000
#: The largest value of a GraphQL ``Int`` (prices in minor units).
MAX_INT = 2**31 - 1

PRODUCT_FIELDS = (
    "id name slug description enabled facetValues { id facet { id } }"
    " featuredAsset { id } assets { id } variants { id sku }"
    " optionGroups { id code name options { id code name } }"
)
_VARIANT_FIELDS = """id sku name price priceWithTax enabled stockOnHand
  trackInventory outOfStockThreshold useGlobalOutOfStockThreshold
  taxCategory { id } product { id name } options { id }
  stockLevels { stockLocationId stockOnHand stockAllocated }"""


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


def fail(number: str, message: str, field: str | None = None) -> Outcome:
    """
    The failed outcome of record *number*.
    """
    return Outcome(number=number, error=message, field=field)


@attrs.frozen
class Reference:
    """
    The shop's settings a push depends on, read once.

    *locations* maps the ids of the channel's stock locations to their
    names; *warehouses* maps ERP warehouse codes to the id of the
    location their stock goes to (empty without a mapping: every level
    goes to *default_location*).  *channel* is the channel's id,
    *code* its code, and *default_channel* whether it is Vendure's
    default channel.
    *precision* is the number of decimals the server keeps money with
    (its MoneyStrategy's, ``moneyStrategyPrecision``).
    *default_location* is empty if the channel has no stock location
    (it takes articles, not stock).
    """

    currency: str
    prices_include_tax: bool
    #: rate -> the ids of the tax categories with it in the zone
    tax_categories: dict[Decimal, tuple[str, ...]]
    default_location: str
    locations: dict[str, str]
    warehouses: dict[str, str] = attrs.Factory(dict)
    channel: str = ""
    default_channel: bool = True
    precision: int = DEFAULT_PRECISION
    code: str = ""
    #: tax category id -> its name, and the id of Vendure's default one
    tax_names: dict[str, str] = attrs.Factory(dict)
    default_tax: str = ""

    def tax_category(self, rate: Decimal) -> str | None:
        """
        The tax category a new variant with *rate* gets: the one with
        the rate in the channel's default tax zone; of several, Vendure's
        default category; ``None`` if several and none is the default
        (no category is more right than another: `tax_problem` says so).
        """
        ids = self.tax_categories.get(rate.normalize(), ())
        if len(ids) == 1:
            return ids[0]
        return self.default_tax if self.default_tax in ids else None

    def tax_problem(self, rate: Decimal) -> str:
        """
        Why no tax category can be picked for *rate*.
        """
        ids = self.tax_categories.get(rate.normalize(), ())
        if not ids:
            return (
                f"no tax category with a {rate} % rate in the channel's "
                "default tax zone"
            )
        names = " and ".join(
            f"{self.tax_names.get(i, i)!r} (id {i})" for i in ids
        )
        return (
            f"the tax categories {names} have the same {rate} % rate in "
            "the channel's default tax zone, and none is Vendure's default "
            "category, so which one the article's variants take is not "
            "known: set their category in Vendure (it is kept), or make "
            "one of them the default category"
        )


#: The code of Vendure's default channel, which has every location.
_DEFAULT_CHANNEL = "__default_channel__"


@attrs.define
class Catalog:
    """
    One Vendure channel's catalogue: its settings, the category facet and
    look-ups.  Shared by the writers; caches what does not change during
    a run.
    """

    gql: GraphQL
    language: str = "en"
    facet_code: str = "erp-category"
    stock_location: str | None = None
    stock_locations: Mapping[str, str] | None = None
    _reference: Reference | None = attrs.field(default=None, init=False)
    _precision: int | None = attrs.field(default=None, init=False)
    _facet_id: str | None = attrs.field(default=None, init=False)
    _foreign: frozenset[str] | None = attrs.field(default=None, init=False)
    _default_token: str | None = attrs.field(default=None, init=False)
    #: This channel's id and whether it is the default one.
    _channel: tuple[str, bool] | None = attrs.field(default=None, init=False)
    _lock: anyio.Lock = attrs.field(factory=anyio.Lock, init=False)

    # -- reference data -----------------------------------------------------

    async def reference(self) -> Reference:
        """
        The channel's settings (read on first use).
        """
        async with self._lock:
            if self._reference is None:
                self._reference = await self._read_reference()
            return self._reference

    async def precision(self) -> int:
        """
        The decimals the server keeps money with (`precision_of`; read
        on first use, with the reference if that was read first).
        """
        async with self._lock:
            if self._precision is None:
                if self._reference is not None:
                    self._precision = self._reference.precision
                else:
                    data = await self.gql.query(f"{{ {PRECISION_QUERY} }}")
                    self._precision = precision_of(data)
            return self._precision

    async def _read_reference(self) -> Reference:
        data = await self.gql.query(
            f"""{{
              activeChannel {{ id code defaultCurrencyCode
                               pricesIncludeTax defaultTaxZone {{ id }} }}
              {_lists.first("taxRates", _lists.RATE_FIELDS)}
              {_lists.first("stockLocations")}
              {PRECISION_QUERY}
            }}"""
        )
        # one request for up to a page of each, as before; the rest of a
        # longer list (Vendure caps neither) is read, not cut
        data["taxRates"]["items"] = await _lists.whole(
            self.gql, data["taxRates"], "taxRates", _lists.RATE_FIELDS
        )
        data["stockLocations"]["items"] = await _lists.whole(
            self.gql, data["stockLocations"], "stockLocations"
        )
        channel = data["activeChannel"]
        zone = (channel.get("defaultTaxZone") or {}).get("id")
        rates: dict[Decimal, tuple[str, ...]] = {}
        names: dict[str, str] = {}
        default_tax = ""
        for rate in data["taxRates"]["items"]:
            if rate["zone"]["id"] != zone or not rate.get("enabled", True):
                continue
            value = Decimal(str(rate["value"])).normalize()
            category = rate["category"]
            cid = str(category["id"])
            if cid not in rates.get(value, ()):
                rates[value] = (*rates.get(value, ()), cid)
            names[cid] = str(category.get("name") or cid)
            if category.get("isDefault"):
                default_tax = cid
        items = data["stockLocations"]["items"]
        default, warehouses = "", dict[str, str]()
        # a channel without locations takes articles; its stock push
        # fails (`Stock.push`) unless locations are named: then now
        if items or self.stock_location or self.stock_locations:
            default, warehouses = resolve_locations(
                items,
                self.stock_location,
                self.stock_locations,
                channel=channel["code"],
            )
        return Reference(
            currency=channel["defaultCurrencyCode"],
            prices_include_tax=bool(channel["pricesIncludeTax"]),
            tax_categories=rates,
            default_location=default,
            locations={str(loc["id"]): loc["name"] for loc in items},
            warehouses=warehouses,
            channel=str(channel["id"]),
            default_channel=channel["code"] == _DEFAULT_CHANNEL,
            precision=precision_of(data),
            code=channel["code"],
            tax_names=names,
            default_tax=default_tax,
        )

    async def foreign_locations(self) -> frozenset[str]:
        """
        The ids of the stock locations that a channel other than this
        one and the default channel has (read on first use).  Vendure
        puts every location in the default channel too, so the default
        channel lists the locations other channels sell from.

        Raises:
            ConfigurationError: The role may not read another channel's
                stock locations (named).
        """
        async with self._lock:
            if self._foreign is None:
                self._foreign = await self._read_foreign()
            return self._foreign

    async def _read_foreign(self) -> frozenset[str]:
        try:
            data = await self.gql.query(
                "{ activeChannel { id } "
                f"{_lists.first('channels', _lists.CHANNEL_FIELDS)} }}"
            )
            channels = await _lists.whole(
                self.gql, data["channels"], "channels", _lists.CHANNEL_FIELDS
            )
        except AuthenticationError as exc:
            raise ConfigurationError(
                "cannot read Vendure's channels (the role needs "
                "ReadChannel), so which stock locations other channels "
                "sell from and ecomsync may not set to sell nothing"
            ) from exc
        active = data["activeChannel"]["id"]
        foreign: set[str] = set()
        for channel in channels:
            if channel["id"] == active or channel["code"] == _DEFAULT_CHANNEL:
                continue
            try:
                page = await self.gql.query(
                    f"{{ {_lists.first('stockLocations', 'id createdAt')} }}",
                    channel=channel["token"],
                )
                held = await _lists.whole(
                    self.gql,
                    page["stockLocations"],
                    "stockLocations",
                    "id createdAt",
                    channel=channel["token"],
                )
            except AuthenticationError as exc:
                raise ConfigurationError(
                    "cannot tell which stock locations Vendure's channel "
                    f"{channel['code']!r} sells from (the role needs "
                    "ReadStockLocation in that channel too), so which "
                    "locations ecomsync may set to sell nothing; grant it, "
                    "or name every location of this channel in "
                    "stock_location / stock_locations"
                ) from exc
            foreign.update(str(loc["id"]) for loc in held)
        return frozenset(foreign)

    async def default_token(self) -> str:
        """
        The token of Vendure's default channel (read on first use): the
        channel that holds every product, whichever channel made it.

        Raises:
            ConfigurationError: The role may not read the channels.
        """
        async with self._lock:
            return await self._token()

    async def _token(self) -> str:
        if self._default_token is None:
            try:
                # the default channel alone: its code is fixed, and a
                # page of every channel missed it past the 1,000th
                data = await self.gql.query(
                    "{ channels(options: { filter: { code: { eq: "
                    f'"{_DEFAULT_CHANNEL}" }} }} }}) '
                    "{ items { code token } } }"
                )
            except AuthenticationError as exc:
                raise ConfigurationError(
                    "cannot read Vendure's channels (the role needs "
                    "ReadChannel), so whether the default channel has "
                    "the catalogue already, which this channel would "
                    "make again"
                ) from exc
            tokens = [
                str(c["token"])
                for c in data["channels"]["items"]
                if c["code"] == _DEFAULT_CHANNEL
            ]
            if not tokens:
                raise ConfigurationError(
                    "Vendure does not show its default channel to the "
                    "role, so whether it has the catalogue already, "
                    "which this channel would make again; give the role "
                    "ReadChannel and ReadCatalog there"
                )
            self._default_token = tokens[0]
        return self._default_token

    async def assign(self, field: str, ids: Sequence[str]) -> None:
        """
        Assign the entities with *ids* of Vendure's default channel to
        this channel with mutation *field* (``assignFacetsToChannel``,
        ``assignCollectionsToChannel``; none: no request).

        Raises:
            SyncError: Vendure refused it.
        """
        if not ids:
            return
        assert self._channel is not None  # learned with the facet
        argument = {
            "assignFacetsToChannel": "facetIds",
            "assignCollectionsToChannel": "collectionIds",
        }[field]
        try:
            _, errors = await self.gql.request(
                f"mutation ($ids: [ID!]!, $c: ID!) {{ {field}(input: "
                f"{{ {argument}: $ids, channelId: $c }}) {{ id }} }}",
                {"ids": list(ids), "c": self._channel[0]},
                mutation=True,
                idempotent=True,
                channel=await self._token(),
            )
        except AuthenticationError as exc:
            errors = [{"message": str(exc)}]
        if errors:
            raise SyncError(
                f"cannot take the default channel's {argument[:-3]}s "
                f"{', '.join(ids)} into this channel (the role needs "
                "UpdateCatalog here): "
                + "; ".join(str(e.get("message")) for e in errors)
            )

    def shared(self) -> bool:
        """
        Whether this channel takes its catalogue from Vendure's default
        channel (it is another channel); known once the facet is.
        """
        return self._channel is not None and not self._channel[1]

    async def default_values(self, codes: Sequence[str]) -> dict[str, JSON]:
        """
        The category facet values with *codes* that the default channel
        has and this one lacks, assigned to this channel (with all the
        facet's values: Vendure assigns a facet whole), by code.  Vendure
        puts a value made in another channel into the default channel
        only, and this channel making its own would give the default
        channel two values of one category.  No request in the default
        channel.
        """
        if not codes or not self.shared():
            return {}
        facet = await self.facet_id()
        async with self._lock:
            token = await self._token()
        found: dict[str, JSON] = {}
        # a page of codes a request: more were cut at the page's end
        for chunk in chunks(codes):
            data = await self.gql.query(
                """query ($f: String!, $c: [String!]!, $take: Int!) {
                  facetValues(options: { take: $take, sort: { id: ASC },
                    filter: { facetId: { eq: $f }, code: { in: $c } } }) {
                    items { id code name } } }""",
                {"f": facet, "c": chunk, "take": PAGE},
                channel=token,
            )
            for item in data["facetValues"]["items"]:
                found.setdefault(item["code"], item)
        if found:
            await self.assign("assignFacetsToChannel", [facet])
        return found

    # -- the category facet -------------------------------------------------

    async def facet_id(self) -> str:
        """
        The id of the private facet holding one value per ERP category.
        """
        async with self._lock:
            if self._facet_id is None:
                self._facet_id = await self._ensure_facet()
            return self._facet_id

    async def _ensure_facet(self) -> str:
        """
        The facet's id; in another channel than the default one, the
        default channel's facet, assigned to this channel: Vendure keeps
        facet codes unique across channels, so one made here would be
        "erp-category-2", and another one in every process after.
        """
        query = """query ($c: String!) { activeChannel { id code }
             facets(options: { filter: { code: { eq: $c } } })
             { items { id } } }"""
        data = await self.gql.query(query, {"c": self.facet_code})
        channel = data["activeChannel"]
        self._channel = (
            str(channel["id"]),
            channel["code"] == _DEFAULT_CHANNEL,
        )
        items = data["facets"]["items"]
        if items:
            return str(items[0]["id"])
        if self.shared():
            there = await self.gql.query(
                query, {"c": self.facet_code}, channel=await self._token()
            )
            if there["facets"]["items"]:
                facet = str(there["facets"]["items"][0]["id"])
                await self.assign("assignFacetsToChannel", [facet])
                return facet
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
            look=lambda _: self._facet_made(query),
        )
        created = results[0]
        if isinstance(created, str):
            raise SyncError(f"cannot create the category facet: {created}")
        return str(created["id"])

    async def _facet_made(self, query: str) -> list[JSON | None]:
        # the facet of a create whose answer was lost, if it landed
        data = await self.gql.query(query, {"c": self.facet_code})
        items = data["facets"]["items"]
        return [{"id": str(items[0]["id"])} if items else None]

    async def category_values(self) -> dict[str, JSON]:
        """
        The ERP categories the shop has: category number -> facet value.
        """
        facet = await self.facet_id()
        rows = await read_all(
            self.gql,
            """query ($options: FacetValueListOptions) {
              facetValues(options: $options) {
                totalItems items { id code name createdAt } } }""",
            "facetValues",
            {"facetId": {"eq": facet}},
        )
        return {item["code"]: item for item in rows}

    # -- look-ups -------------------------------------------------------------

    async def variants_by_sku(
        self, skus: Sequence[str], *, channel: str | None = None
    ) -> dict[str, list[JSON]]:
        """
        Every variant the shop has for each of *skus*, oldest first; in
        the channel with the token *channel* instead of this one.

        Vendure does not keep SKUs unique, so a SKU may have several.
        """
        found: dict[str, list[JSON]] = {}
        wanted = sorted(set(skus))
        for start in range(0, len(wanted), 500):
            rows = await read_all(
                self.gql,
                """query ($options: ProductVariantListOptions) {
                  productVariants(options: $options) { totalItems items { """
                + _VARIANT_FIELDS
                + " createdAt } } }",
                "productVariants",
                {"sku": {"in": wanted[start : start + 500]}},
                channel=channel,
            )
            for item in rows:
                found.setdefault(item["sku"], []).append(item)
        return found

    async def products(self, ids: Sequence[str]) -> dict[str, JSON]:
        """
        The products with *ids*, with variants, options and assets.
        """
        return {p["id"]: p for p in await self._products("id", "ids", ids)}

    async def by_slug(self, slugs: Sequence[str]) -> dict[str, JSON]:
        """
        The products with *slugs*, by slug (none: no request).
        """
        return {
            p["slug"]: p for p in await self._products("slug", "slugs", slugs)
        }

    async def near_slug(self, slug: str) -> list[JSON]:
        """
        The products whose slug is *slug* or one Vendure gives a create
        whose slug is taken: ``-2``, ``-3`` ... appended, or replacing a
        trailing number ("x-1" taken makes "x-2"); newest first.
        """
        stem = re.sub(r"-[0-9]+$", "", slug)
        data = await self.gql.query(
            # newest first: a just-made product is on the first page
            "query ($s: String!, $take: Int!) { products(options: "
            "{ take: $take, sort: { id: DESC }, "
            "filter: { slug: { contains: $s } } }) "
            f"{{ items {{ {PRODUCT_FIELDS} }} }} }}",
            {"s": stem, "take": PAGE},
        )
        given = re.compile(rf"{re.escape(slug)}|{re.escape(stem)}-[0-9]+")
        return [
            p for p in data["products"]["items"] if given.fullmatch(p["slug"])
        ]

    async def _products(
        self, field: str, variable: str, values: Sequence[str]
    ) -> list[JSON]:
        """
        The products whose *field* is one of *values* (sent as the query
        variable *variable*), with variants, options and assets.  Asked
        for a page's worth at a time: Vendure answers at most `PAGE`
        products, and one left out would be made again by its article.
        """
        items: list[JSON] = []
        wanted = sorted(set(values))
        for start in range(0, len(wanted), PAGE):
            data = await self.gql.query(
                f"query (${variable}: [String!]!, $take: Int!) {{ "
                f"products(options: {{ take: $take, "
                f"filter: {{ {field}: {{ in: ${variable} }} }} }}) {{ "
                f"items {{ {PRODUCT_FIELDS} }} }} }}",
                {variable: wanted[start : start + PAGE], "take": PAGE},
            )
            items += data["products"]["items"]
        return items


__all__ = [
    "MAX_INT",
    "PAGE",
    "PRODUCT_FIELDS",
    "Catalog",
    "Reference",
    "fail",
    "slugify",
]
