"""
`WooCommerce`: the public face; it wires the parts together (categories,
articles, stock and order statuses out through the batch endpoints,
orders in, media through WordPress).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import ClassVar

import attrs
import httpx

from ..._closing import AsyncResource
from ..._contracts import MediaLink, Outcome, Outgoing, Refusal, StagedMedia
from ..._http import HttpClient
from ..._model import Order
from ..._settings import at_least, flag, name, seconds
from ..._spec import DataType, Selection
from ..._urls import check_url, public_url
from ...exceptions import ConfigurationError, SyncError
from .._dispatch import Pushes
from ._batches import Batches
from ._categories import Categories
from ._client import RestApi
from ._common import DEFAULT_TAX_CLASSES, sku_key
from ._common import tax_classes as as_tax_classes
from ._media import Media
from ._orders import Orders
from ._prices import PriceSettings
from ._products import Products
from ._stock import Stock


#: The types whose records WooCommerce finds by SKU.
_BY_SKU = frozenset({DataType.ARTICLES, DataType.STOCK})


@attrs.define(repr=False)
class WooCommerce(AsyncResource):
    """
    A WooCommerce shop, through the REST API v3.

    Args:
        url: The WordPress site URL (``https://shop.example``), without
            credentials: a URL with user info is a `ConfigurationError`.
        consumer_key: The REST API key (``ck_...``), permission
            ``read_write``.
        consumer_secret: Its secret (``cs_...``); never shown.
        wp_user: The WordPress user that uploads media ...
        wp_application_password: ... with this application password
            (WooCommerce keys cannot use ``wp/v2/media``); never shown.
        prices_include_tax: The shop's "prices entered with tax" setting;
            ``False`` sends net prices.
        allow_backorders: Write negative stock; by default a negative
            level is written as 0 (the shop sells nothing) and its record
            fails on ``quantity`` all the same, so it is seen.
        tax_classes: The WooCommerce tax class (its slug, ``""`` or
            ``"standard"`` for the standard class) of each ERP tax
            rate; an article with a rate not listed fails on
            ``tax_rate``.  By default 19 % standard, 7 % ``reduced-rate``
            and 0 % ``zero-rate``, WooCommerce's own classes with the
            German rates.
        batch_size: Records per batch request, at most 100.
        concurrency: Requests in flight at once, at most.
        request_deadline: Seconds one HTTP attempt may take in total.
        transport: Replace the network, e.g. ``httpx.ASGITransport(app=
            WooCommerceEmulator(...).app)``.

    Raises:
        ConfigurationError: A setting out of its range, naming it: the
            URL not an absolute http(s) one, an empty key, secret or
            *wp_user*, a flag that is not ``True`` or ``False``,
            *batch_size* not a whole number from 1 to 100, *concurrency*
            not one of at least 1, *request_deadline* not a number of
            seconds above 0.

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0
       Settings out of range are refused when the adapter is made.
    """

    url: str
    consumer_key: str = attrs.field(validator=name(secret=True))
    consumer_secret: str = attrs.field(repr=False, validator=name(secret=True))
    wp_user: str | None = attrs.field(
        default=None, kw_only=True, validator=name(optional=True)
    )
    wp_application_password: str | None = attrs.field(
        default=None,
        kw_only=True,
        repr=False,
        validator=name(optional=True, secret=True),
    )
    prices_include_tax: bool = attrs.field(
        default=True, kw_only=True, validator=flag
    )
    allow_backorders: bool = attrs.field(
        default=False, kw_only=True, validator=flag
    )
    tax_classes: Mapping[Decimal, str] = attrs.field(
        default=DEFAULT_TAX_CLASSES, kw_only=True, converter=as_tax_classes
    )
    batch_size: int = attrs.field(
        default=100, kw_only=True, validator=at_least(1)
    )
    concurrency: int = attrs.field(
        default=16, kw_only=True, validator=at_least(1)
    )
    request_deadline: float = attrs.field(
        default=120.0, kw_only=True, validator=seconds()
    )
    transport: httpx.AsyncBaseTransport | None = attrs.field(
        default=None, kw_only=True
    )
    #: Media are uploaded first and written with their record (by id).
    media_on_push: ClassVar[bool] = True
    #: The engine hands an article's stock levels to `push` (in
    #: `Outgoing.stock`) when the run syncs stock too, which writes them
    #: as ``manage_stock`` and ``stock_quantity`` of its product and
    #: variations: no SKU look-up and no batch for them in the stock sync.
    stock_on_push: ClassVar[bool] = True
    supported: frozenset[DataType] = attrs.field(
        init=False, default=frozenset(DataType)
    )
    _closed: bool = attrs.field(init=False, default=False)
    _api: RestApi = attrs.field(init=False)
    _media: Media = attrs.field(init=False)
    _categories: Categories = attrs.field(init=False)
    _products: Products = attrs.field(init=False)
    _stock: Stock = attrs.field(init=False)
    _orders: Orders = attrs.field(init=False)
    _pushes: Pushes = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        check_url(self.url, what="the WooCommerce URL")
        if not 1 <= self.batch_size <= 100:
            raise ConfigurationError(
                "WooCommerce batch_size must be 1..100 (the batch limit of "
                f"WC_REST_Controller), got {self.batch_size}"
            )
        self._api = RestApi(
            url=self.url,
            key=self.consumer_key,
            secret=self.consumer_secret,
            http=HttpClient(
                base_url=self.url.rstrip("/"),
                transport=self.transport,
                concurrency=self.concurrency,
                deadline=self.request_deadline,
            ),
            wp_user=self.wp_user,
            wp_password=self.wp_application_password,
        )
        batches = Batches(self._api, self)
        self._media = Media(self._api)
        self._categories = Categories(self._api, self)
        self._products = Products(
            batches, self._categories, self, PriceSettings(self._api)
        )
        self._stock = Stock(batches, self)
        self._orders = Orders(self._api)
        self._pushes = Pushes(
            {
                DataType.CATEGORIES: self._categories.push,
                DataType.ARTICLES: self._products.push,
                DataType.STOCK: self._stock.push,
                DataType.ORDER_STATUS: self._orders.push_statuses,
            },
            refusal="cannot be pushed",
        )

    def __repr__(self) -> str:
        return (
            f"<WooCommerce {public_url(self.url)!r} "
            f"consumer_key={self.consumer_key[:7]!r}…>"
        )

    # -- Platform ---------------------------------------------------------

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        """
        Write categories, articles, stock levels or order statuses; one
        outcome per item, in order; one bad item fails alone.
        """
        found = await self._pushes(data_type, items)
        # Ids the shop lost are not this process's to hand out again.
        self._media.forget({m for o in found for m in o.media_gone})
        return found

    def fetch_orders(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order | Refusal]]:
        """
        Yield the selected orders, oldest id first; ``ChangedSince`` reads
        ``modified_after`` with ``dates_are_gmt=true`` (exclusive, so one
        second earlier) and keeps what changed at or after the moment.
        An order whose number an order read before (or beside it) holds
        too, which numbering plugins allow, comes as a
        `~ecomsync.Refusal` on ``number`` naming both: the ERP would take
        one for the other.
        """
        return self._orders.fetch(selection, batch_size=batch_size)

    def number_identity(self, data_type: DataType, number: str) -> str:
        """
        An article's or a stock level's number as WooCommerce finds and
        keeps its SKU: ignoring case, accents, invisible characters and
        trailing spaces (``utf8mb4_unicode_520_ci``, `sku_key`), so
        ``A-01``, ``a-01`` and ``"A-01 "`` are one product to it
        (`~ecomsync.typing.SupportsNumberIdentity`).  Categories (by a
        slug unique per exact number) and orders: exactly.  Numbers that
        WooCommerce would not keep as they are (a leading space) fail on
        their own (`sku_problem`) and never reach the shop.
        """
        if data_type in _BY_SKU:
            return sku_key(number)
        return number

    async def upload_media(self, media: StagedMedia) -> str:
        """
        Upload a staged file through WordPress' media endpoint, named by
        its content hash: one request per file.  Content uploaded before
        through this adapter is not uploaded again (across runs the
        engine's store remembers it); after an upload whose answer was
        lost, the file is looked up by its hash before it is sent again.
        """
        return await self._media.upload(media)

    async def attach_media(
        self,
        data_type: DataType,
        target: Outcome,
        media: Sequence[MediaLink],
    ) -> None:
        """
        Make *media* exactly the record's media: images in position order
        (index 0 featured), documents in the product meta
        ``_ecomsync_documents``.
        """
        await self._media.attach(data_type, target, media)

    # -- optional capabilities ---------------------------------------------

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
        An upper estimate for `Synchronizer.plan`: per batch one lookup
        and one batch write (categories: plus the term listing's pages,
        for the terms check() or the last listing saw and those the push
        may make: 100, then 99 more a page; a plan runs check() first.
        A further write call of a run lists the terms again, counted as
        the plan counts any further call, so a shop of more than 100
        terms whose changes span read batches may see more); articles
        the tax classes, the price settings and the term listing (the
        terms last seen); per new file an upload; variable articles one
        variations batch each (counted as one per article, the worst
        case); order statuses
        a read, a write, a read of the notes and a note per record.
        Orders (*writes*: the pages read): nothing beyond the pages but
        a read of each refunded order's refunds, which only the orders
        tell: a plan counts what its read sent (`requests_sent`).
        """
        batches = math.ceil(writes / self.batch_size)
        if data_type is DataType.CATEGORIES:
            # the term listing's pages: the terms last seen (check(), which
            # a plan runs first, or a listing) and those the push may make
            listing = RestApi.pages_of(self._categories.seen + writes)
            return 2 * batches + listing + 2 * uploads  # lost upload: search
        if data_type is DataType.ARTICLES:
            # + the tax classes and the shop's price settings (general,
            # and its tax mode where it calculates tax), and the term
            # listing the push reads unless the categories' push did
            terms = RestApi.pages_of(self._categories.seen)
            return 2 * batches + writes + 3 + terms + 2 * uploads
        if data_type is DataType.STOCK:
            return 2 * batches
        if data_type is DataType.ORDER_STATUS:
            return 4 * writes
        if data_type is DataType.ADDRESSES_AND_ORDERS:
            return 0
        return batches

    async def check(self) -> list[str]:
        """
        Whether the shop can be used: reachable, accepting the key, the
        key able to read products, categories and orders; with
        ``wp_user`` or ``wp_application_password`` set, WordPress
        accepting them for media.  Writes nothing.
        """
        where = f"WooCommerce at {public_url(self.url)}"
        problems = []
        reachable = True
        for path in ("products", "products/categories", "orders"):
            try:
                answer = await self._api.call(
                    "GET", path, params={"per_page": "1"}
                )
            except SyncError as exc:
                problems.append(f"{where}: {exc}")
                if "refused" in str(exc) or "HTTP" not in str(exc):
                    reachable = "refused" in str(exc)
                    break
            else:
                total = (answer.headers.get("x-wp-total") or "").strip()
                if path == "products/categories" and total.isdigit():
                    # a plan checks first: its estimate of the term
                    # listing follows the shop's terms
                    self._categories.seen = int(total)
        if reachable and (self.wp_user or self.wp_application_password):
            try:
                await self._api.check_media()
            except (SyncError, ConfigurationError) as exc:
                problems.append(f"{where}: media: {exc}")
        return problems

    # -- lifecycle ----------------------------------------------------------

    async def _close(self) -> None:
        await self._api.aclose()
