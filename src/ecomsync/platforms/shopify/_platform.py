"""
`Shopify`: the public face; it wires the parts together.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import ClassVar

import attrs
import httpx

from ..._closing import AsyncResource
from ..._contracts import MediaLink, Outcome, Outgoing, StagedMedia
from ..._http import HttpClient
from ..._model import Order
from ..._settings import at_least, flag, name, names_by_name, seconds
from ..._spec import DataType, Selection
from ..._urls import check_url, public_url
from ...exceptions import AuthenticationError, ConfigurationError, SyncError
from .._dispatch import Pushes
from ._bulk import BulkRunner
from ._catalogue import Catalogue
from ._client import GraphQL, ShopifyApiError
from ._locations import read_locations, resolve_locations
from ._media import Media
from ._orders import Orders
from ._stock import Stock
from ._stock_moves import layout_of


#: The largest push; a bulk variables file of that many articles stays
#: well under Shopify's 20 MiB (and larger ones are split).
MAX_BATCH = 10_000
#: The requests of one bulk operation as estimated: staged upload, the
#: upload, the run, the result file and up to four polls.
BULK_REQUESTS = 8
#: The pushes that read the shop's locations first when *locations* is set.
_CATALOGUE = frozenset(
    {DataType.CATEGORIES, DataType.ARTICLES, DataType.STOCK}
)


@attrs.define(repr=False)
class Shopify(AsyncResource):
    """
    A Shopify shop, through the GraphQL Admin API.

    Args:
        url: The shop's URL (``https://my-shop.myshopify.com``), without
            credentials.
        access_token: The Admin API access token (``shpat_...``); never
            shown.
        api_version: The API version in the endpoint path.
        location: The location (GID, or with *locations* also a name)
            summed stock is written to; by default the shop's primary
            location (``location`` without an id; not the first of
            ``locations``, which Shopify sorts by name).
        locations: ERP warehouse code -> Shopify location name or GID;
            each warehouse's stock goes to its location (warehouses
            mapped to one location are summed there), an article's
            levels in one ``inventorySetQuantities`` call.  Without it,
            a level with a warehouse fails on ``warehouse``: send the
            sum.  A location the shop does not have is a
            `ConfigurationError` on first contact, before any write.
        batch_size: Records per `push` (1 to 10,000).
        bulk_threshold: A push of at least this many articles or stock
            levels goes as one bulk mutation (None: never); the engine
            hands over at most ``min(Synchronizer.batch_size,
            batch_size)`` records per push, so both must reach it.
        bulk_poll_interval: Seconds before the second poll of a bulk
            operation; each further wait is half as long again, at most
            5 s.
        allow_backorders: Write negative stock as the ERP has it (the
            shop sells below zero where a variant's ``inventoryPolicy``
            is ``CONTINUE``); by default a negative quantity is written
            as 0 (the shop sells nothing) and its record fails on
            ``quantity`` all the same, so it is seen.
        concurrency: Requests in flight at once, at most.
        request_deadline: Seconds one HTTP attempt may take in total.
        transport: Replace the network, e.g. ``httpx.ASGITransport(app=
            ShopifyEmulator(...).app)``.

    Requests are paced by the bucket Shopify reports in every answer; a
    THROTTLED answer waits ``(requested - available) / restoreRate``
    seconds and is sent again.  No query asks for more than 1,000 points
    and no input array holds more than 250 elements.  Bulk mutations are
    not metered by the bucket: a large push of articles or stock costs a
    few points instead of one ``productSet`` (16 points and up) per
    article.  One bulk mutation runs at a time; one already running on
    the shop is waited for.

    .. versionchanged:: 26.1.0
       *locations*; a level with a warehouse and no mapping fails.

    Raises:
        ConfigurationError: A setting out of its range, naming it: the
            URL not an absolute http(s) one, an empty *access_token*,
            *api_version* or *location*, *locations* not a mapping of
            warehouse codes to location names, a flag that is not ``True`` or
            ``False``, *batch_size* not a whole number from 1 to 10,000,
            *bulk_threshold* or *concurrency* not one of at least 1,
            *bulk_poll_interval* or *request_deadline* not a number of
            seconds above 0.

    .. versionchanged:: 26.1.0
       *allow_backorders*; negative stock is written as 0 and fails
       unless it is on.

    .. versionchanged:: 26.1.0
       Settings out of range are refused when the adapter is made.

    .. versionadded:: 26.1.0
    """

    url: str
    access_token: str = attrs.field(repr=False, validator=name(secret=True))
    api_version: str = attrs.field(
        default="2026-01", kw_only=True, validator=name()
    )
    location: str | None = attrs.field(
        default=None, kw_only=True, validator=name(optional=True)
    )
    locations: Mapping[str, str] | None = attrs.field(
        default=None, kw_only=True, validator=names_by_name
    )
    batch_size: int = attrs.field(
        default=250, kw_only=True, validator=at_least(1)
    )
    bulk_threshold: int | None = attrs.field(
        default=250,
        kw_only=True,
        validator=at_least(1, optional=True),
    )
    bulk_poll_interval: float = attrs.field(
        default=1.0, kw_only=True, validator=seconds()
    )
    allow_backorders: bool = attrs.field(
        default=False, kw_only=True, validator=flag
    )
    concurrency: int = attrs.field(
        default=4, kw_only=True, validator=at_least(1)
    )
    request_deadline: float = attrs.field(
        default=120.0, kw_only=True, validator=seconds()
    )
    transport: httpx.AsyncBaseTransport | None = attrs.field(
        default=None, kw_only=True
    )
    supported: frozenset[DataType] = attrs.field(
        init=False, default=frozenset(DataType)
    )
    #: A collection keeps no files (its image takes a URL): categories
    #: land without their images, which are not read or uploaded
    #: (`ecomsync.typing.SupportsMediaTypes`).
    media_types: ClassVar[frozenset[DataType]] = frozenset({DataType.ARTICLES})
    _closed: bool = attrs.field(init=False, default=False)
    _api: GraphQL = attrs.field(init=False)
    _uploads: HttpClient = attrs.field(init=False)
    _catalogue: Catalogue = attrs.field(init=False)
    _stock: Stock = attrs.field(init=False)
    _orders: Orders = attrs.field(init=False)
    _media: Media = attrs.field(init=False)
    _bulk: BulkRunner = attrs.field(init=False)
    _pushes: Pushes = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        check_url(self.url, what="the Shopify URL")
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ConfigurationError(
                f"Shopify batch_size must be 1..{MAX_BATCH}, got "
                f"{self.batch_size}"
            )
        if self.bulk_threshold is not None and self.bulk_threshold < 1:
            raise ConfigurationError(
                "Shopify bulk_threshold must be at least 1 (None: no bulk "
                f"operations), got {self.bulk_threshold}"
            )
        http = HttpClient(
            base_url=self.url.rstrip("/"),
            transport=self.transport,
            concurrency=self.concurrency,
            deadline=self.request_deadline,
            headers={"X-Shopify-Access-Token": self.access_token},
        )
        self._api = GraphQL(
            url=self.url,
            http=http,
            path=f"/admin/api/{self.api_version}/graphql.json",
        )
        self._orders = Orders(self._api)
        self._uploads = uploads = HttpClient(
            base_url=self.url.rstrip("/"),
            transport=self.transport,
            concurrency=self.concurrency,
            deadline=self.request_deadline,
        )
        self._media = Media(self._api, uploads)
        self._bulk = BulkRunner(
            self._api, uploads, poll_interval=self.bulk_poll_interval
        )
        self._catalogue = Catalogue(
            self._api, bulk=self._bulk, bulk_threshold=self.bulk_threshold
        )
        self._stock = Stock(
            self._api,
            self._catalogue.items,
            untracked=self._catalogue.untracked,
            location=self.location,
            locations=None if self.locations is None else dict(self.locations),
            bulk=self._bulk,
            bulk_threshold=self.bulk_threshold,
            allow_backorders=self.allow_backorders,
        )
        self._catalogue.stock_targets = self._stock.targets
        self._pushes = Pushes(
            {
                DataType.CATEGORIES: self._catalogue.push_categories,
                DataType.ARTICLES: self._catalogue.push_articles,
                DataType.STOCK: self._stock.push,
                DataType.ORDER_STATUS: self._orders.push_statuses,
            },
            refusal="cannot be pushed",
        )

    def __repr__(self) -> str:
        return f"<Shopify {public_url(self.url)!r} {self.api_version}>"

    def stock_layout(self) -> str:
        """
        Where stock goes, *location* and *locations*
        (`~ecomsync.typing.SupportsStockLayout`): a changed one sends
        every level again; each stock push takes an article's stock off
        the locations its stock link names and it no longer goes to.
        ``""`` with neither set.
        """
        return layout_of(self.location, self.locations)

    @property
    def throttled(self) -> int:
        """
        How many THROTTLED answers this adapter has had.
        """
        return self._api.model.throttled

    @property
    def bulk_operations(self) -> int:
        """
        How many bulk operations this adapter has started.
        """
        return self._bulk.operations

    @property
    def requests_sent(self) -> int:
        """
        The HTTP requests this adapter has sent, every attempt counted
        (`~ecomsync.typing.SupportsRequestCount`: a plan counts its
        read of orders).
        """
        return self._api.http.sent + self._uploads.sent

    @property
    def waited(self) -> float:
        """
        Seconds this adapter has waited for the bucket.
        """
        return self._api.model.waited

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        """
        Write categories (as collections), articles (``productSet``),
        stock levels or order statuses; one outcome per item, in order.

        Raises:
            ConfigurationError: With *locations*, on first contact, a
                location the shop does not have (before any write).
        """
        if items and data_type in _CATALOGUE:
            await self._stock.resolve()
        return await self._pushes(data_type, items)

    def fetch_orders(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order]]:
        """
        Yield the selected orders by ``updated_at``; ``ChangedSince``
        queries ``updated_at:>='…'``; pages as large as the cost limit
        allows.
        """
        return self._orders.fetch(selection, batch_size=batch_size)

    async def upload_media(self, media: StagedMedia) -> str:
        """
        Staged upload, then ``fileCreate``; the file's GID.
        """
        return await self._media.upload(media)

    async def attach_media(
        self,
        data_type: DataType,
        target: Outcome,
        media: Sequence[MediaLink],
    ) -> None:
        """
        Make *media* exactly the product's files, in position order.
        """
        if data_type is not DataType.ARTICLES:
            raise SyncError(
                f"Shopify keeps media on products only, not {data_type.value}"
            )
        await self._media.attach(target, media)

    def estimate_requests(
        self,
        data_type: DataType,
        *,
        writes: int,
        uploads: int,
        with_media: int,
    ) -> int:
        """
        An upper estimate: categories one collection listing plus one
        write each; articles a lookup of who holds their SKUs per 100
        SKUs and one ``productSet`` each (a bulk mutation of at least
        ``bulk_threshold`` of them needs far fewer); stock one
        lookup per 50 and one write per 250, each of which may be sent
        once more (a quantity Shopify refuses, such as a 0 where a stock
        link names a location deleted since, is left out and the call
        sent again), plus a bulk operation's requests per push that may
        go in bulk; order statuses four per
        record (the order read and the write; a cancellation's job
        polled once and the order read again); an upload three
        requests, attaching one.  Orders (*writes*: the pages read):
        nothing beyond the pages but the line items of an order with
        more than a page holds, which only the orders tell: a plan
        counts what its read sent (`requests_sent`).
        """
        media = 3 * uploads + with_media
        # the shop's locations, read once with *locations*
        first = int(self.locations is not None and data_type in _CATALOGUE)
        if data_type is DataType.CATEGORIES:
            return first + 1 + writes + media
        if data_type is DataType.ARTICLES:
            # one SKU lookup per 100 SKUs (counted as two per article)
            return first + 1 + math.ceil(writes / 50) + writes + media
        if data_type is DataType.STOCK:
            bulk = (
                BULK_REQUESTS * math.ceil(writes / self.batch_size)
                if self.bulk_threshold is not None
                and writes >= self.bulk_threshold
                else 0
            )
            return (
                first
                + 1
                + math.ceil(writes / 50)
                # a write call, and its resend without what was refused
                + 2 * math.ceil(writes / 250)
                + bulk
            )
        if data_type is DataType.ORDER_STATUS:
            return 4 * writes
        if data_type is DataType.ADDRESSES_AND_ORDERS:
            return 0
        return writes

    async def check(self) -> list[str]:
        """
        Whether the shop can be used: reachable, accepting the access
        token, letting it read the shop's locations, and having a
        location, the configured *location* and every location
        *locations* names (each problem naming the warehouse code and
        the value).  One request (per 250 locations).  Returns one
        message per problem; empty when all is well.  Writes nothing,
        retries nothing.

        Other access scopes cannot be tested without reading or writing
        what they guard: a missing one fails the records that need it
        with Shopify's ACCESS_DENIED message.

        .. versionadded:: 26.1.0
        """
        where = f"Shopify at {public_url(self.url)}"
        try:
            known, primary = await read_locations(self._api, retry=False)
        except AuthenticationError as exc:
            return [str(exc)]
        except ShopifyApiError as exc:
            return [f"{where} cannot read locations: {exc}"]
        except SyncError as exc:
            return [f"{where} is unreachable: {exc}"]
        try:
            resolve_locations(
                known, self.location, self.locations or {}, primary
            )
        except ConfigurationError as exc:
            return [f"{where}: {exc}"]
        if (
            self.locations is None
            and self.location is not None
            and self.location not in known.values()
        ):
            return [
                f"{where}: location {self.location!r} is a name; without "
                f"locations give its GID {known[self.location]!r}"
            ]
        return []

    async def _close(self) -> None:
        try:
            await self._api.aclose()
        finally:
            await self._media.upload_http.aclose()
