"""
`Shopware6`: the public face; it wires the parts together.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

import attrs
import httpx

from ..._closing import AsyncResource
from ..._contracts import (
    MediaLink,
    Outcome,
    Outgoing,
    Refusal,
    StagedMedia,
)
from ..._http import POOLS
from ..._model import Order
from ..._settings import at_least, flag, name, one_of, seconds
from ..._spec import DataType, Selection
from ..._urls import check_url, public_url
from ...exceptions import AuthenticationError, ConfigurationError, SyncError
from .._dispatch import Pushes
from ._catalogue import Catalogue
from ._claims import collate
from ._client import AdminApi
from ._keyset import read_all
from ._media import Media, media_id_for
from ._navigation import channel_criteria, from_channels
from ._order_read import OrderReader
from ._orders import Orders
from ._writer import Writer


#: A Shopware id: 32 lower-case hexadecimal digits.
_ID = re.compile(r"[0-9a-f]{32}")

#: What `Shopware6.check` reads to see the integration's read privileges.
CHECKED_ENTITIES = (
    "category",
    "product",
    "product_media",
    "media",
    "property_group",
    "tax",
    "order",
    "order_delivery",
)


#: The types whose records are Shopware products, by product number.
_PRODUCT_NUMBERS = frozenset({DataType.ARTICLES, DataType.STOCK})


@attrs.define(repr=False)
class Shopware6(AsyncResource):
    """
    A Shopware 6 shop, written through the Admin API.

    Args:
        url: The shop's base URL (``https://shop.example``), without
            credentials: a URL with user info is a `ConfigurationError`.
        client_id: The integration's access key id.
        client_secret: The integration's secret access key; never shown.
        sales_channel_id: Make articles visible in this sales channel;
            ``None`` makes them visible in every sales channel the shop
            has.  The ERP's top-level categories go below its navigation
            category (``None``: the one the shop's channels share, a
            fresh shop's "Home"); see ``docs/shopware6.md``.
        category_root: The id of the Shopware category below which the
            ERP's top-level categories go, instead of the sales channel's
            navigation category; a value that is not a Shopware id (32
            lower-case hexadecimal digits) is a `ConfigurationError`.
        send_mail: Let Shopware mail the customer on state transitions.
        allow_backorders: Write negative stock levels (the host sells
            beyond what is on hand); by default a negative level is
            written as 0 (the shop sells nothing) and its record fails
            on ``quantity`` all the same, so it is seen.
        sole_writer: Promise that no other process writes products into
            this shop with ecomsync (no second process, no workers sharing
            the shop) while this adapter is open.  A first sync into an
            empty shop then reads none of the shop's products (its tax
            look-up tells that the shop holds none) instead of reading
            each article batch's; see ``docs/shopware6.md``.
        batch_size: Records per Sync request.
        concurrency: Requests in flight at once, at most.
        request_deadline: Seconds one HTTP attempt may take in total.
        transport: Replace the network, e.g. ``httpx.ASGITransport(app=
            ShopwareEmulator(...).app)``.
        http_pool: The connection pool on real sockets: ``"auto"``
            (aiohttp's under httpx's API where the ``aiohttp`` extra is
            installed and the loop is asyncio, else httpx's),
            ``"httpx"`` or ``"aiohttp"``.

    Raises:
        ConfigurationError: A setting out of its range, naming it: the
            URL not an absolute http(s) one, an empty *client_id*,
            *client_secret* or *sales_channel_id*, a flag that is not
            ``True`` or ``False`` (``sole_writer="no"`` would be true),
            *batch_size* or *concurrency* not a whole number of at least
            1, *request_deadline* not a number of seconds above 0, an
            unknown *http_pool*.

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0
       Settings out of range are refused when the adapter is made.
    """

    url: str
    client_id: str = attrs.field(validator=name())
    client_secret: str = attrs.field(repr=False, validator=name(secret=True))
    sales_channel_id: str | None = attrs.field(
        default=None, kw_only=True, validator=name(optional=True)
    )
    category_root: str | None = attrs.field(default=None, kw_only=True)
    send_mail: bool = attrs.field(default=False, kw_only=True, validator=flag)
    allow_backorders: bool = attrs.field(
        default=False, kw_only=True, validator=flag
    )
    sole_writer: bool = attrs.field(
        default=False, kw_only=True, validator=flag
    )
    batch_size: int = attrs.field(
        default=100, kw_only=True, validator=at_least(1)
    )
    concurrency: int = attrs.field(
        default=16, kw_only=True, validator=at_least(1)
    )
    request_deadline: float = attrs.field(
        default=60.0, kw_only=True, validator=seconds()
    )
    transport: httpx.AsyncBaseTransport | None = attrs.field(
        default=None, kw_only=True
    )
    http_pool: str = attrs.field(
        default="auto", kw_only=True, validator=one_of(*sorted(POOLS))
    )
    #: The engine hands a record's uploaded media to `push` (in
    #: `Outgoing.media`), which writes them in the record's own sync.
    media_on_push: ClassVar[bool] = True
    #: The engine hands an article's stock levels to `push` (in
    #: `Outgoing.stock`) when the run syncs stock too, which writes them
    #: in the product rows: no stock sync for them.
    stock_on_push: ClassVar[bool] = True
    supported: frozenset[DataType] = attrs.field(
        init=False, default=frozenset(DataType)
    )
    _closed: bool = attrs.field(init=False, default=False)
    _api: AdminApi = attrs.field(init=False)
    _media: Media = attrs.field(init=False)
    _catalogue: Catalogue = attrs.field(init=False)
    _orders: Orders = attrs.field(init=False)
    _order_read: OrderReader = attrs.field(init=False)
    _pushes: Pushes = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        check_url(self.url, what="the Shopware 6 URL")
        root = self.category_root
        if root is not None and not (
            isinstance(root, str) and _ID.fullmatch(root)
        ):
            raise ConfigurationError(
                "Shopware6 category_root must be a category id (32 "
                f"lower-case hexadecimal digits), got {root!r}"
            )
        self._api = AdminApi.create(
            self.url,
            self.client_id,
            self.client_secret,
            concurrency=self.concurrency,
            request_deadline=self.request_deadline,
            transport=self.transport,
            pool=self.http_pool,
        )
        self._media = Media(self._api)
        self._catalogue = Catalogue(
            self._api,
            Writer(self._api),
            self._media,
            self.sales_channel_id,
            self.allow_backorders,
            sole_writer=self.sole_writer,
            category_root=root,
        )
        self._orders = Orders(self._api, self.send_mail)
        self._order_read = OrderReader(self._api)
        self._pushes = Pushes(
            {
                DataType.CATEGORIES: self._catalogue.push_categories,
                DataType.ARTICLES: self._catalogue.push_articles,
                DataType.STOCK: self._catalogue.push_stock,
                DataType.ORDER_STATUS: self._orders.push_statuses,
            },
            refusal="cannot be pushed to Shopware",
        )

    def __repr__(self) -> str:
        url = public_url(self.url)
        return f"<Shopware6 {url!r} client_id={self.client_id!r}>"

    # -- Platform -----------------------------------------------------

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        """
        Write categories, articles, stock levels or order statuses; one
        outcome per item, in order; one bad item fails alone.
        """
        return await self._pushes(data_type, items)

    def fetch_orders(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order | Refusal]]:
        """
        Yield the selected orders with customer, addresses, line items,
        deliveries and transactions, paged by a stable sort.  An order
        whose number another order of the shop holds too (Shopware does
        not keep order numbers unique) comes as a `~ecomsync.Refusal` on
        ``number`` naming every order holding it: the ERP would take one
        for the other.
        """
        return self._order_read.fetch(selection, batch_size=batch_size)

    def media_id_for(self, sha256: str) -> str:
        """
        The media id for content with this SHA-256: derived from the hash,
        so a product's sync can create the media entity it links.
        """
        return media_id_for(sha256)

    def number_identity(self, data_type: DataType, number: str) -> str:
        """
        An article's or a stock level's number as Shopware compares
        product numbers: under the ``product`` table's
        ``utf8mb4_unicode_ci`` (case, accents and trailing spaces do not
        count, `collate`), so ``A-01``, ``a-01`` and ``"A-01 "`` are one
        product number (`~ecomsync.typing.SupportsNumberIdentity`).
        Categories (their ids derive from the exact number) and orders:
        exactly.
        """
        if data_type in _PRODUCT_NUMBERS:
            return collate(number)
        return number

    async def upload_media(self, media: StagedMedia) -> str:
        """
        Upload a staged file named by its content hash; content the shop
        already has (same hash) is reused, not uploaded again.
        """
        return await self._media.upload(media)

    async def attach_media(
        self,
        data_type: DataType,
        target: Outcome,
        media: Sequence[MediaLink],
    ) -> None:
        """
        Make *media* exactly the record's media: images as product media
        in position order (the first is the cover), documents in the
        product custom field ``ecomsync_documents`` (never as downloads,
        which would make the product digital).  A category takes its
        first image.
        """
        await self._media.attach(data_type, target, media)

    # -- optional capabilities ----------------------------------------

    @property
    def requests_sent(self) -> int:
        """
        The HTTP requests this adapter has sent, every attempt counted
        (`~ecomsync.typing.SupportsRequestCount`: a plan counts its
        read of orders).
        """
        return self._api.http.sent

    def estimate_requests(
        self,
        data_type: DataType,
        *,
        writes: int,
        uploads: int,
        with_media: int,
    ) -> int:
        """
        An upper estimate of the Admin API requests a run makes for
        *writes* records, *uploads* new files and *with_media* records
        with media (token requests aside); `Synchronizer.plan` uses it.

        Per batch: a category batch is one sync (plus the look-up of
        where top-level categories go, once per five minutes, shared with
        the articles' sales channels); an article batch a
        product search (none into an empty shop, with ``sole_writer``)
        and one sync (plus the sales channels and tax
        look-ups, once per five minutes); a stock batch a search and a
        sync; a status batch an order search, then per order a tracking
        patch and up to three transitions.  Per new file: the upload (its
        media entity is created in the record's own sync).  Media are
        written with their record, so records with media cost nothing
        more.  Orders: a plan counts what its read sent
        (`requests_sent`); else (*writes*: the pages read) one search
        per page, which carries the look-up of the page before's order
        numbers (`fetch_orders`; only the last page's look-up is a
        request of its own).
        """
        batches = math.ceil(writes / self.batch_size)
        if data_type is DataType.CATEGORIES:
            return batches + (1 if writes else 0)
        if data_type is DataType.ARTICLES:
            lookups = 3 if writes else 0
            return lookups + 2 * batches + uploads
        if data_type is DataType.STOCK:
            return 2 * batches
        if data_type is DataType.ORDER_STATUS:
            return batches + 4 * writes
        if data_type is DataType.ADDRESSES_AND_ORDERS:
            return writes
        return batches

    async def check(self) -> list[str]:
        """
        Whether the shop can be used: reachable, accepting the
        credentials, granting the read privileges the adapter needs, and
        having the configured sales channel and ``category_root``, or
        else sales channels that agree on where top-level categories go.
        Returns one message per problem; empty when all is well.  Writes
        nothing, retries nothing.

        Write privileges cannot be tested without writing: a missing one
        stops the first run that needs it with an `AuthenticationError`
        naming the privilege.
        """
        where = f"Shopware at {public_url(self.url)}"
        try:
            await self._api.http.request(
                "GET", "/api/_info/version", retry=False
            )
        except SyncError as exc:
            return [f"{where} is unreachable: {exc}"]
        try:
            await self._api.token()
        except SyncError as exc:
            return [str(exc)]
        problems: list[str] = []
        entities = list(CHECKED_ENTITIES)
        if self.sales_channel_id is None:
            entities.append("sales_channel")
        for entity in entities:
            try:
                await self._api.search(entity, {"limit": 1})
            except AuthenticationError as exc:
                problems.append(str(exc))
            except SyncError as exc:
                problems.append(f"{where} cannot read {entity}: {exc}")
        if self.category_root is not None:
            try:
                rows = await self._api.search(
                    "category", {"ids": [self.category_root]}
                )
            except SyncError as exc:
                problems.append(str(exc))
            else:
                if not rows:
                    problems.append(
                        f"{where} has no category {self.category_root!r} "
                        "(category_root)"
                    )
        if self.sales_channel_id is not None:
            try:
                rows = await self._api.search(
                    "sales_channel",
                    {
                        "filter": [
                            {
                                "type": "equals",
                                "field": "id",
                                "value": self.sales_channel_id,
                            }
                        ],
                        "limit": 1,
                    },
                )
            except SyncError as exc:
                problems.append(str(exc))
            else:
                if not rows:
                    problems.append(
                        f"{where} has no sales channel "
                        f"{self.sales_channel_id!r} (sales_channel_id)"
                    )
        if self.sales_channel_id is None and self.category_root is None:
            problems += await self._check_home(where)
        return problems

    async def _check_home(self, where: str) -> list[str]:
        """
        Whether the shop's sales channels leave one place for the ERP's
        top-level categories (they would fail on ``parent`` otherwise).
        """
        try:
            rows = await read_all(
                self._api, "sales_channel", channel_criteria(None)
            )
        except SyncError:
            return []  # reported above, as a missing read privilege
        home = from_channels(rows, None)
        if not home.refuse_all:
            return []
        return [f"{where}: top-level categories have no place: {home.why}"]

    # -- lifecycle ----------------------------------------------------

    async def _close(self) -> None:
        await self._api.aclose()
