"""
The `Vendure` platform: wires the transport, the catalogue writers and
the orders together behind the `Platform` protocol.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence

import anyio
import attrs
import httpx

from ..._closing import AsyncResource
from ..._contracts import MediaLink, Outcome, Outgoing, StagedMedia
from ..._model import Order
from ..._settings import at_least, flag, name, names_by_name, seconds
from ..._spec import DataType, Selection
from ..._urls import check_url, public_url
from ...exceptions import AuthenticationError, ConfigurationError, SyncError
from .._dispatch import Pushes
from . import _lists
from ._articles import Articles
from ._catalog import Catalog
from ._categories import Categories
from ._client import GraphQL
from ._locations import resolve_locations
from ._media import Media
from ._orders import Orders
from ._stock import Stock
from ._variants import Variants


#: The permissions of the role the sync's API key needs; nothing else.
SYNC_PERMISSIONS: tuple[str, ...] = (
    "ReadCatalog",
    "CreateCatalog",
    "UpdateCatalog",
    "DeleteCatalog",
    "ReadAsset",
    "CreateAsset",
    "UpdateAsset",
    "ReadCustomer",
    "ReadOrder",
    "UpdateOrder",
    "ReadTaxCategory",
    "ReadStockLocation",
    "ReadSettings",
    "ReadChannel",
)

#: What `Vendure.check` reads, with the permission each read needs.
_READS: tuple[tuple[str, str, str], ...] = (
    (
        "products",
        "{ products(options: { take: 1 }) { totalItems } }",
        "ReadCatalog",
    ),
    ("assets", "{ assets(options: { take: 1 }) { totalItems } }", "ReadAsset"),
    (
        "customers",
        "{ customers(options: { take: 1 }) { totalItems } }",
        "ReadCustomer",
    ),
    ("orders", "{ orders(options: { take: 1 }) { totalItems } }", "ReadOrder"),
    (
        "tax rates",
        "{ taxRates(options: { take: 1 }) { totalItems } }",
        "ReadSettings",
    ),
    (
        "tax categories",
        "{ taxCategories(options: { take: 1 }) { totalItems } }",
        "ReadTaxCategory",
    ),
)


@attrs.define(repr=False)
class Vendure(AsyncResource):
    """
    A Vendure 3.x shop, reached through its Admin API.

    Args:
        url: The server's base URL (``https://shop.example``) or the Admin
            API's (``.../admin-api``).
        api_key: An API key (header ``vendure-api-key``) of a role with
            `SYNC_PERMISSIONS`; preferred.
        username: An administrator for bearer login, if no API key.
        password: That administrator's password.
        channel_token: The channel to sync (default: the default one).
        transport: An httpx transport (tests, proxies).
        batch_size: Records per `push`.
        concurrency: Requests in flight at most.
        timeout: Per-request deadline in seconds (retries included per
            attempt).
        language: The language code of the texts written.
        category_facet: The code of the facet holding the categories.
        stock_location: The name of the stock location stock goes to
            without a mapping (default: the one Vendure takes as the
            channel's default, its oldest location).
        stock_locations: ERP warehouse code -> Vendure stock location
            name; each warehouse's stock goes to its location.  Without
            it, the stock of every warehouse is summed at
            *stock_location*.  A name Vendure does not have, or one
            that several of its locations have, is a
            `ConfigurationError` on first contact, before any write.
            Every other location of the channel is set to sell nothing
            (``stockOnHand`` = ``stockAllocated``) when an article's
            stock is written: Vendure sells the sum of the channel's
            locations.  A location another channel has too is left
            alone (reading it needs ``ReadStockLocation`` there).
        allow_backorders: Write negative stock as the ERP has it (the shop
            sells below zero as far as Vendure's ``outOfStockThreshold``
            allows); by default a negative figure (per stock location) is
            written as 0 to sell and its records fail on ``quantity``
            all the same, so it is seen.

    Raises:
        ConfigurationError: A setting out of its range, naming it (never
            a credential's value): the URL not an absolute http(s) one,
            no credentials, an empty credential, *language*,
            *category_facet* or *stock_location*, *stock_locations* not
            a mapping of warehouse codes to location names,
            *allow_backorders* not
            ``True`` or ``False``, *batch_size* or *concurrency* not a
            whole number of at least 1 (0 was taken as 1), *timeout* not
            a number of seconds above 0.

    .. versionchanged:: 26.1.0
       Settings out of range are refused when the adapter is made.

    .. versionchanged:: 26.1.0
       *stock_locations*, *allow_backorders*; NaN or fractional stock
       and ambiguous SKUs fail their records; negative stock is written
       as 0 and fails them.

    .. versionadded:: 26.1.0
    """

    url: str
    api_key: str | None = attrs.field(
        default=None,
        kw_only=True,
        repr=False,
        validator=name(optional=True, secret=True),
    )
    username: str | None = attrs.field(
        default=None,
        kw_only=True,
        repr=False,
        validator=name(optional=True, secret=True),
    )
    password: str | None = attrs.field(
        default=None,
        kw_only=True,
        repr=False,
        validator=name(optional=True, secret=True),
    )
    channel_token: str | None = attrs.field(
        default=None,
        kw_only=True,
        repr=False,
        validator=name(optional=True, secret=True),
    )
    transport: httpx.AsyncBaseTransport | None = attrs.field(
        default=None, kw_only=True, repr=False
    )
    batch_size: int = attrs.field(
        default=50, kw_only=True, validator=at_least(1)
    )
    concurrency: int = attrs.field(
        default=8, kw_only=True, validator=at_least(1)
    )
    timeout: float = attrs.field(
        default=60.0, kw_only=True, validator=seconds()
    )
    language: str = attrs.field(default="en", kw_only=True, validator=name())
    category_facet: str = attrs.field(
        default="erp-category", kw_only=True, validator=name()
    )
    stock_location: str | None = attrs.field(
        default=None, kw_only=True, validator=name(optional=True)
    )
    stock_locations: Mapping[str, str] | None = attrs.field(
        default=None, kw_only=True, validator=names_by_name
    )
    allow_backorders: bool = attrs.field(
        default=False, kw_only=True, validator=flag
    )
    supported: frozenset[DataType] = attrs.field(
        default=frozenset(DataType), init=False
    )
    _closed: bool = attrs.field(init=False, default=False)
    _client: httpx.AsyncClient = attrs.field(init=False)
    _gql: GraphQL = attrs.field(init=False)
    _catalog: Catalog = attrs.field(init=False)
    _categories: Categories = attrs.field(init=False)
    _articles: Articles = attrs.field(init=False)
    _stock: Stock = attrs.field(init=False)
    _media: Media = attrs.field(init=False)
    _orders: Orders = attrs.field(init=False)
    _pushes: Pushes = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        check_url(self.url, what="the Vendure URL")
        if not self.api_key and not (self.username and self.password):
            raise ConfigurationError(
                "Vendure needs an api_key, or a username and password"
            )
        base = self.url.rstrip("/")
        endpoint = base if base.endswith("/admin-api") else f"{base}/admin-api"
        self._client = httpx.AsyncClient(
            transport=self.transport,
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=max(self.concurrency, 1)),
        )
        self._gql = GraphQL(
            url=endpoint,
            client=self._client,
            api_key=self.api_key,
            username=self.username,
            password=self.password,
            channel_token=self.channel_token,
            deadline=self.timeout,
            limiter=anyio.CapacityLimiter(max(self.concurrency, 1)),
        )
        self._catalog = Catalog(
            self._gql,
            language=self.language,
            facet_code=self.category_facet,
            stock_location=self.stock_location,
            stock_locations=(
                None
                if self.stock_locations is None
                else dict(self.stock_locations)
            ),
        )
        self._categories = Categories(self._catalog)
        self._articles = Articles(
            self._catalog,
            Variants(self._catalog, backorders=self.allow_backorders),
        )
        self._stock = Stock(self._catalog, backorders=self.allow_backorders)
        self._media = Media(self._catalog, self._categories)
        self._orders = Orders(self._gql, self._catalog.precision)
        self._pushes = Pushes(
            {
                DataType.CATEGORIES: self._categories.push,
                DataType.ARTICLES: self._articles.push,
                DataType.STOCK: self._stock.push,
                DataType.ORDER_STATUS: self._orders.push_status,
            },
            refusal="cannot be pushed to a platform",
        )

    def __repr__(self) -> str:
        how = "api-key" if self.api_key else "login"
        return f"<Vendure {self.url} auth={how}>"

    # -- Platform -------------------------------------------------------------

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        """
        Write *items*; one `Outcome` per item, in order.

        Platform ids: the facet value id for categories, the product id
        for articles, the variant id for stock, the order id for order
        status.
        """
        return await self._pushes(data_type, items)

    async def fetch_orders(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order]]:
        """
        Yield the placed orders in *selection*, in batches.
        """
        async for batch in self._orders.fetch(selection, batch_size):
            yield batch

    async def upload_media(self, media: StagedMedia) -> str:
        """
        Upload *media* as an asset named by its SHA-256, or return the id
        of the asset that already has that content.
        """
        return await self._media.upload(media)

    async def attach_media(
        self,
        data_type: DataType,
        target: Outcome,
        media: Sequence[MediaLink],
    ) -> None:
        """
        Make *media* the assets of a product (articles) or collection
        (categories); the first image is the featured asset.
        """
        if data_type is DataType.ARTICLES:
            await self._media.attach("product", target, media)
        elif data_type is DataType.CATEGORIES:
            await self._media.attach("collection", target, media)
        else:
            raise ConfigurationError(
                f"Vendure takes media for articles and categories, "
                f"not {data_type.value}"
            )

    def stock_layout(self) -> str:
        """
        Where stock goes, *stock_location* and *stock_locations*
        (`~ecomsync.typing.SupportsStockLayout`): a changed one sends
        every level again, and the location no level goes to any more
        is set to sell nothing with it.  ``""`` with neither set.
        """
        if self.stock_location is None and self.stock_locations is None:
            return ""
        return json.dumps(
            [self.stock_location, dict(self.stock_locations or {})],
            sort_keys=True,
            separators=(",", ":"),
        )

    @property
    def requests_sent(self) -> int:
        """
        The HTTP requests this adapter has sent, every attempt counted
        (`~ecomsync.typing.SupportsRequestCount`: a plan counts its
        read of orders, which reads pages that hold no order a
        `NumberRange` selects).
        """
        return self._gql.sent

    async def check(self) -> list[str]:
        """
        Whether the shop can be used: reachable, accepting the
        credentials, granting the read permissions the sync needs, and
        having the configured stock locations.  Returns one message per
        problem; empty when all is well.  Writes nothing, retries nothing.

        Write permissions cannot be tested without writing: a missing one
        fails the records that need it with Vendure's FORBIDDEN message.

        .. versionadded:: 26.1.0
        """
        where = f"Vendure at {public_url(self.url)}"
        try:
            answer, _ = await self._gql.request(
                "{ activeChannel { id code } }", retry=False
            )
        except AuthenticationError as exc:
            return [str(exc)]
        except SyncError as exc:
            return [f"{where} is unreachable: {exc}"]
        problems: list[str] = []
        for what, query, permission in _READS:
            try:
                await self._gql.query(query, retry=False)
            except AuthenticationError:
                problems.append(
                    f"{where} refuses reading {what}: the role needs "
                    f"the {permission} permission"
                )
            except SyncError as exc:
                problems.append(f"{where} cannot read {what}: {exc}")
        try:
            data = await self._gql.query(
                f"{{ {_lists.first('stockLocations')} }}", retry=False
            )
            # a location named past the first page is no problem
            items = await _lists.whole(
                self._gql, data["stockLocations"], "stockLocations"
            )
        except AuthenticationError:
            problems.append(
                f"{where} refuses reading stock locations: the role needs "
                "the ReadStockLocation permission"
            )
        except SyncError as exc:
            problems.append(f"{where} cannot read stock locations: {exc}")
        else:
            named = {
                self.stock_location,
                *(self.stock_locations or {}).values(),
            }
            try:
                resolve_locations(
                    items,
                    self.stock_location,
                    self.stock_locations,
                    channel=str(
                        (answer.get("activeChannel") or {}).get("code")
                    ),
                )
                if len(items) > 1 and any(
                    loc["name"] not in named for loc in items
                ):
                    await self._catalog.foreign_locations()
            except (ConfigurationError, SyncError) as exc:
                problems.append(f"{where}: {exc}")
        return problems

    async def _close(self) -> None:
        await self._client.aclose()


__all__ = ["SYNC_PERMISSIONS", "Vendure"]
