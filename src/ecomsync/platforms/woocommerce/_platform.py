"""
`WooCommerce`: categories, articles, stock and order statuses out through
the batch endpoints, orders in, media through WordPress.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import attrs
import httpx

from ..._contracts import MediaLink, Outcome, Outgoing, StagedMedia
from ..._http import HttpClient, check_url, public_url
from ..._model import (
    Address,
    Article,
    Category,
    Customer,
    MediaKind,
    Order,
    OrderLine,
    OrderState,
    OrderStatus,
    StockLevel,
    number_key,
)
from ..._spec import All, ChangedSince, DataType, NumberRange, Only, Selection
from ...exceptions import ConfigurationError, SyncError
from ._client import MAX_PER_PAGE, RestApi, WooApiError, item_error


Row = dict[str, Any]

#: ERP order states as WooCommerce order statuses; WooCommerce has no
#: "shipped": a shipped order is ``completed``.
STATUS_OF = {
    OrderState.OPEN: "pending",
    OrderState.IN_PROGRESS: "processing",
    OrderState.SHIPPED: "completed",
    OrderState.COMPLETED: "completed",
    OrderState.CANCELLED: "cancelled",
}
STATE_OF = {
    "pending": OrderState.OPEN,
    "on-hold": OrderState.OPEN,
    "checkout-draft": OrderState.OPEN,
    "processing": OrderState.IN_PROGRESS,
    "completed": OrderState.COMPLETED,
    "cancelled": OrderState.CANCELLED,
    "refunded": OrderState.CANCELLED,
    "failed": OrderState.CANCELLED,
}
#: Order meta the adapter keeps: the ERP's state (to tell shipped from
#: completed) and the tracking numbers already announced.
STATE_META = "_ecomsync_state"
TRACKING_META = "_ecomsync_tracking"
#: Product meta holding the attachment ids of an article's documents.
DOCUMENTS_META = "_ecomsync_documents"

_SLUG = re.compile(r"[^a-z0-9]+")


def category_slug(number: str) -> str:
    """
    The slug that identifies an ERP category in WooCommerce: readable,
    and unique per exact number (a hash suffix), since WordPress folds
    case and punctuation in slugs.
    """
    plain = unicodedata.normalize("NFKD", number)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    readable = _SLUG.sub("-", plain.lower()).strip("-")[:40]
    digest = hashlib.sha256(number.encode("utf-8", "surrogatepass"))
    return f"{readable}-{digest.hexdigest()[:8]}".lstrip("-")


def sku_key(sku: str) -> str:
    """
    An SKU as WooCommerce's lookup compares it (MySQL ``_ci``
    collation): case, accents and trailing spaces do not count.
    """
    plain = unicodedata.normalize("NFKD", sku)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return plain.casefold().rstrip(" ")


def money(value: Decimal) -> str:
    """
    A price as WooCommerce takes it: a decimal string.
    """
    return format(value, "f")


def _fail(number: str, error: str, field: str | None = None) -> Outcome:
    return Outcome(number=number, error=error, field=field)


def _describe(error: Row) -> str:
    return f"{error.get('code', '')}: {error.get('message', '')}"


@attrs.define(repr=False)
class WooCommerce:
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
            level fails that record.
        batch_size: Records per batch request, at most 100.
        concurrency: Requests in flight at once, at most.
        request_deadline: Seconds one HTTP attempt may take in total.
        transport: Replace the network, e.g. ``httpx.ASGITransport(app=
            WooCommerceEmulator(...).app)``.

    .. versionadded:: 26.1.0
    """

    url: str
    consumer_key: str
    consumer_secret: str = attrs.field(repr=False)
    wp_user: str | None = attrs.field(default=None, kw_only=True)
    wp_application_password: str | None = attrs.field(
        default=None, kw_only=True, repr=False
    )
    prices_include_tax: bool = attrs.field(default=True, kw_only=True)
    allow_backorders: bool = attrs.field(default=False, kw_only=True)
    batch_size: int = attrs.field(default=100, kw_only=True)
    concurrency: int = attrs.field(default=16, kw_only=True)
    request_deadline: float = attrs.field(default=120.0, kw_only=True)
    transport: httpx.AsyncBaseTransport | None = attrs.field(
        default=None, kw_only=True
    )
    #: Media are uploaded first and written with their record (by id).
    media_on_push: ClassVar[bool] = True
    supported: frozenset[DataType] = attrs.field(
        init=False, default=frozenset(DataType)
    )
    _api: RestApi = attrs.field(init=False)
    _terms: dict[str, int] | None = attrs.field(init=False, default=None)
    _media_ids: dict[str, str] = attrs.field(init=False, factory=dict)

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
        if not items:
            return []
        if data_type is DataType.CATEGORIES:
            return await self._push_categories(items)
        if data_type is DataType.ARTICLES:
            return await self._push_articles(items)
        if data_type is DataType.STOCK:
            return await self._push_stock(items)
        if data_type is DataType.ORDER_STATUS:
            return [await self._push_status(i) for i in items]
        return [
            _fail(i.record.number, f"{data_type.value} cannot be pushed")
            for i in items
        ]

    # -- categories -------------------------------------------------------

    async def _term_index(self, *, fresh: bool = False) -> dict[str, int]:
        if self._terms is None or fresh:
            terms: dict[str, int] = {}
            async for rows in self._api.pages(
                "products/categories", {}, per_page=MAX_PER_PAGE
            ):
                for row in rows:
                    terms[str(row["slug"])] = int(row["id"])
            self._terms = terms
        return self._terms

    async def _push_categories(
        self, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        terms = await self._term_index(fresh=True)
        outcomes: list[Outcome | None] = [None] * len(items)
        # Parents first: a child waits for its parent in this batch.
        pending = list(range(len(items)))
        while pending:
            wave, later = [], []
            numbers_waiting = {items[i].record.number for i in pending}
            for i in pending:
                record = items[i].record
                if not isinstance(record, Category):
                    outcomes[i] = _fail(record.number, "not a category")
                    continue
                parent = record.parent
                if (
                    parent is not None
                    and parent in numbers_waiting
                    and parent != record.number
                    and category_slug(parent) not in terms
                ):
                    later.append(i)
                else:
                    wave.append(i)
            if not wave:
                for i in later:
                    outcomes[i] = _fail(
                        items[i].record.number,
                        "its parent could not be written",
                        "parent",
                    )
                break
            await self._category_wave(items, wave, terms, outcomes)
            pending = later
        return [o for o in outcomes if o is not None]

    async def _category_wave(
        self,
        items: Sequence[Outgoing],
        wave: list[int],
        terms: dict[str, int],
        outcomes: list[Outcome | None],
    ) -> None:
        create: list[tuple[int, Row]] = []
        update: list[tuple[int, Row]] = []
        for i in wave:
            record = items[i].record
            assert isinstance(record, Category)
            parent_id = 0
            if record.parent is not None:
                found = terms.get(category_slug(record.parent))
                if found is None:
                    outcomes[i] = _fail(
                        record.number,
                        f"parent category {record.parent!r} is not on "
                        "WooCommerce",
                        "parent",
                    )
                    continue
                parent_id = found
            slug = category_slug(record.number)
            payload: Row = {
                "name": record.name,
                "slug": slug,
                "parent": parent_id,
                "description": record.description,
                "menu_order": record.position,
            }
            media = items[i].media
            if media is not None:
                images = [m for m in media if m.kind is MediaKind.IMAGE]
                payload["image"] = (
                    {"id": int(images[0].media_id)} if images else None
                )
            existing = terms.get(slug)
            if existing is not None:
                update.append((i, {"id": existing, **payload}))
            else:
                create.append((i, payload))
        for chunk in _chunks(create + update, self.batch_size):
            body = {
                "create": [p for _, p in chunk if "id" not in p],
                "update": [p for _, p in chunk if "id" in p],
            }
            answer = (
                await self._api.call(
                    "POST", "products/categories/batch", json=body
                )
            ).json()
            created = iter(answer.get("create") or [])
            updated = iter(answer.get("update") or [])
            adopt: list[tuple[int, Row]] = []
            for i, payload in chunk:
                row: Row = next(updated if "id" in payload else created, {})
                number = items[i].record.number
                error = item_error(row)
                if error is None:
                    terms[str(row.get("slug", ""))] = int(row["id"])
                    terms[category_slug(number)] = int(row["id"])
                    outcomes[i] = Outcome(
                        number=number, platform_id=str(row["id"])
                    )
                elif error.get("code") == "term_exists" and (
                    error.get("data") or {}
                ).get("resource_id"):
                    # Our own earlier write whose answer was lost: the
                    # same name and slug under the same parent.
                    rid = int(error["data"]["resource_id"])
                    adopt.append((i, {**payload, "id": rid}))
                else:
                    outcomes[i] = _fail(number, _describe(error), "name")
            if adopt:
                answer = (
                    await self._api.call(
                        "POST",
                        "products/categories/batch",
                        json={"update": [p for _, p in adopt]},
                    )
                ).json()
                for (i, _), row in zip(
                    adopt, answer.get("update") or [], strict=False
                ):
                    number = items[i].record.number
                    error = item_error(row)
                    if error is None:
                        terms[category_slug(number)] = int(row["id"])
                        outcomes[i] = Outcome(
                            number=number, platform_id=str(row["id"])
                        )
                    else:
                        outcomes[i] = _fail(number, _describe(error), "name")

    # -- articles -----------------------------------------------------------

    async def _lookup(self, skus: Sequence[str]) -> dict[str, list[Row]]:
        """
        Products and variations by SKU (``?sku=a,b``, exact), keyed by
        `sku_key`.
        """
        found: dict[str, list[Row]] = {}
        plain = sorted({s for s in skus if s and "," not in s})
        for chunk in _chunks(plain, 40):
            async for rows in self._api.pages(
                "products", {"sku": ",".join(chunk)}, per_page=MAX_PER_PAGE
            ):
                for row in rows:
                    found.setdefault(sku_key(str(row["sku"])), []).append(row)
        return found

    def _collisions(self, articles: list[Article]) -> dict[int, str]:
        """
        Articles whose numbers (or variant numbers) collide in
        WooCommerce's SKU comparison although they differ: every party
        fails, naming the others.
        """
        owners: dict[str, set[tuple[int, str]]] = {}
        for i, article in enumerate(articles):
            for sku in [article.number, *(v.number for v in article.variants)]:
                owners.setdefault(sku_key(sku), set()).add((i, sku))
        failed: dict[int, str] = {}
        for parties in owners.values():
            if len({sku for _, sku in parties}) < 2:
                continue
            names = ", ".join(sorted(repr(sku) for _, sku in parties))
            for i, _ in parties:
                failed[i] = (
                    f"SKUs {names} are the same SKU to WooCommerce (case, "
                    "accents and trailing spaces do not count)"
                )
        return failed

    async def _push_articles(self, items: Sequence[Outgoing]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)
        articles: list[Article] = []
        index: list[int] = []
        for i, item in enumerate(items):
            if isinstance(item.record, Article):
                articles.append(item.record)
                index.append(i)
            else:
                outcomes[i] = _fail(item.record.number, "not an article")
        for j, message in self._collisions(articles).items():
            outcomes[index[j]] = _fail(articles[j].number, message, "number")
        terms = await self._term_index()
        wanted = {c for a in articles for c in a.categories}
        if any(category_slug(c) not in terms for c in wanted):
            terms = await self._term_index(fresh=True)
        skus = [
            s
            for a in articles
            for s in (a.number, *(v.number for v in a.variants))
        ]
        known = await self._lookup(skus)
        writes: list[tuple[int, Row]] = []
        for j, article in enumerate(articles):
            i = index[j]
            if outcomes[i] is not None:
                continue
            try:
                payload = self._article_payload(article, items[i], terms)
                existing = self._own(article.number, known, parent=0)
                for variant in article.variants:
                    # Checked before the parent is written, so that a
                    # refused article leaves nothing behind.
                    try:
                        self._own(variant.number, known, parent=existing or -1)
                    except _Refused as exc:
                        raise _Refused(str(exc), "variants") from None
            except _Refused as exc:
                outcomes[i] = _fail(article.number, str(exc), exc.field)
                continue
            if existing is not None:
                payload["id"] = existing
            writes.append((i, payload))
        written = await self._batch("products", writes, items, outcomes)
        for i, row in written:
            record = items[i].record
            assert isinstance(record, Article)
            if record.variants or row.get("variations"):
                error = await self._variations(record, row, known)
                if error is not None:
                    outcomes[i] = _fail(record.number, *error)
                    continue
            outcomes[i] = Outcome(
                number=record.number, platform_id=str(row["id"])
            )
        return [o for o in outcomes if o is not None]

    def _own(
        self, sku: str, known: dict[str, list[Row]], *, parent: int
    ) -> int | None:
        rows = known.get(sku_key(sku), [])
        if not rows:
            return None
        if len(rows) > 1:
            ids = ", ".join(f"#{r['id']}" for r in rows)
            raise _Refused(
                f"SKU {sku!r} is held by several WooCommerce products ({ids})",
                "number",
            )
        row = rows[0]
        if int(row.get("parent_id") or 0) != parent:
            what = (
                f"a variation of product #{row['parent_id']}"
                if row.get("parent_id")
                else f"product #{row['id']}"
            )
            raise _Refused(
                f"SKU {sku!r} belongs to {what} on WooCommerce", "number"
            )
        return int(row["id"])

    def _article_payload(
        self, article: Article, item: Outgoing, terms: dict[str, int]
    ) -> Row:
        categories = []
        for number in article.categories:
            term = terms.get(category_slug(number))
            if term is None:
                raise _Refused(
                    f"category {number!r} is not on WooCommerce", "categories"
                )
            categories.append({"id": term})
        payload: Row = {
            "name": article.name,
            "sku": article.number,
            "type": "variable" if article.variants else "simple",
            "status": "publish" if article.active else "draft",
            "description": article.description,
            "categories": categories,
        }
        if article.ean:
            payload["global_unique_id"] = article.ean
        if not article.variants:
            payload["regular_price"] = self._price(article.price, article)
        else:
            options: dict[str, list[str]] = {}
            for variant in article.variants:
                for name, value in variant.options:
                    values = options.setdefault(name, [])
                    if value not in values:
                        values.append(value)
            payload["attributes"] = [
                {"name": n, "options": v, "variation": True, "visible": True}
                for n, v in options.items()
            ]
        if item.media is not None:
            images = sorted(
                (m for m in item.media if m.kind is MediaKind.IMAGE),
                key=lambda m: m.position,
            )
            documents = sorted(
                (m for m in item.media if m.kind is MediaKind.DOCUMENT),
                key=lambda m: m.position,
            )
            payload["images"] = [{"id": int(m.media_id)} for m in images]
            payload["meta_data"] = [
                {
                    "key": DOCUMENTS_META,
                    "value": [int(m.media_id) for m in documents],
                }
            ]
        return payload

    def _price(self, gross: Decimal, article: Article) -> str:
        if self.prices_include_tax:
            return money(gross)
        net = gross / (1 + article.tax_rate / 100)
        return money(net.quantize(Decimal("0.0001")))

    async def _batch(
        self,
        path: str,
        writes: list[tuple[int, Row]],
        items: Sequence[Outgoing],
        outcomes: list[Outcome | None],
    ) -> list[tuple[int, Row]]:
        """
        Create and update *writes* through ``{path}/batch``; a create
        refused as ``product_invalid_sku`` for our own SKU (an earlier
        write whose answer was lost) is adopted as an update.  Returns
        the rows written; failures go into *outcomes*.
        """
        done: list[tuple[int, Row]] = []
        todo = writes
        for _round in range(2):
            adopt: list[tuple[int, Row]] = []
            for chunk in _chunks(todo, self.batch_size):
                body = {
                    "create": [p for _, p in chunk if "id" not in p],
                    "update": [p for _, p in chunk if "id" in p],
                }
                answer = (
                    await self._api.call("POST", f"{path}/batch", json=body)
                ).json()
                created = iter(answer.get("create") or [])
                updated = iter(answer.get("update") or [])
                for i, payload in chunk:
                    row: Row = next(
                        updated if "id" in payload else created, {}
                    )
                    number = items[i].record.number
                    error = item_error(row)
                    if error is None and row.get("id"):
                        done.append((i, row))
                        continue
                    error = error or {"message": "no answer for this item"}
                    data = error.get("data") or {}
                    if (
                        _round == 0
                        and "id" not in payload
                        and error.get("code") == "product_invalid_sku"
                        and data.get("resource_id")
                    ):
                        adopt.append(
                            (i, {**payload, "id": data["resource_id"]})
                        )
                        continue
                    outcomes[i] = _fail(
                        number, _describe(error), _field(error)
                    )
            if not adopt:
                break
            todo = adopt
        return done

    async def _variations(
        self, article: Article, parent: Row, known: dict[str, list[Row]]
    ) -> tuple[str, str] | None:
        """
        Make the parent's variations exactly the article's variants.
        """
        pid = int(parent["id"])
        keep: set[int] = set()
        create: list[Row] = []
        update: list[Row] = []
        for variant in article.variants:
            try:
                vid = self._own(variant.number, known, parent=pid)
            except _Refused as exc:
                return str(exc), "variants"
            price = (
                variant.price if variant.price is not None else article.price
            )
            payload: Row = {
                "sku": variant.number,
                "regular_price": self._price(price, article),
                "attributes": [
                    {"name": n, "option": v} for n, v in variant.options
                ],
            }
            if variant.ean:
                payload["global_unique_id"] = variant.ean
            if vid is None:
                create.append(payload)
            else:
                keep.add(vid)
                update.append({"id": vid, **payload})
        delete = [
            int(v)
            for v in parent.get("variations") or []
            if int(v) not in keep
        ]
        if not (create or update or delete):
            return None
        for chunk in _chunks(
            [("create", p) for p in create]
            + [("update", p) for p in update]
            + [("delete", d) for d in delete],
            self.batch_size,
        ):
            body: dict[str, list[Any]] = {
                "create": [],
                "update": [],
                "delete": [],
            }
            for kind, value in chunk:
                body[kind].append(value)
            answer = (
                await self._api.call(
                    "POST", f"products/{pid}/variations/batch", json=body
                )
            ).json()
            for kind in ("create", "update"):
                for row in answer.get(kind) or []:
                    error = item_error(row)
                    if error is not None:
                        return f"variant: {_describe(error)}", "variants"
        return None

    # -- stock ------------------------------------------------------------

    async def _push_stock(self, items: Sequence[Outgoing]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)
        levels: list[tuple[int, StockLevel]] = []
        for i, item in enumerate(items):
            record = item.record
            if not isinstance(record, StockLevel):
                outcomes[i] = _fail(record.number, "not a stock level")
            elif record.warehouse is not None:
                outcomes[i] = _fail(
                    record.number,
                    "WooCommerce has no stock locations; send the sum over "
                    "the warehouses",
                    "warehouse",
                )
            elif record.quantity < 0 and not self.allow_backorders:
                outcomes[i] = _fail(
                    record.number,
                    f"negative stock {record.quantity} (allow_backorders "
                    "is off)",
                    "quantity",
                )
            else:
                levels.append((i, record))
        known = await self._lookup([level.number for _, level in levels])
        by_path: dict[str, list[tuple[int, Row]]] = {}
        for i, level in levels:
            rows = known.get(sku_key(level.number), [])
            if len(rows) != 1:
                outcomes[i] = _fail(
                    level.number,
                    f"article {level.number!r} is not on WooCommerce"
                    if not rows
                    else f"SKU {level.number!r} is held by several products",
                    "number",
                )
                continue
            row = rows[0]
            parent = int(row.get("parent_id") or 0)
            path = f"products/{parent}/variations" if parent else "products"
            by_path.setdefault(path, []).append(
                (
                    i,
                    {
                        "id": int(row["id"]),
                        "manage_stock": True,
                        "stock_quantity": level.quantity,
                    },
                )
            )
        for path, writes in by_path.items():
            for i, row in await self._batch(path, writes, items, outcomes):
                outcomes[i] = Outcome(
                    number=items[i].record.number, platform_id=str(row["id"])
                )
        return [o for o in outcomes if o is not None]

    # -- order status -------------------------------------------------------

    async def _order(self, number: str) -> Row | None:
        if not number.isdigit():
            return None
        try:
            row: Row = (await self._api.call("GET", f"orders/{number}")).json()
        except WooApiError as exc:
            if exc.status == 404:
                return None
            raise
        return row if str(row.get("number")) == number else None

    async def _push_status(self, item: Outgoing) -> Outcome:
        status = item.record
        if not isinstance(status, OrderStatus):
            return _fail(status.number, "not an order status")
        order = await self._order(status.number)
        if order is None:
            return _fail(
                status.number,
                f"order {status.number} does not exist in WooCommerce",
                "number",
            )
        oid = int(order["id"])
        meta = {
            m.get("key"): m.get("value")
            for m in order.get("meta_data") or []
            if isinstance(m, dict)
        }
        announced = list(meta.get(TRACKING_META) or [])
        new = [
            t
            for t in dict.fromkeys(status.tracking_numbers)
            if t not in announced
        ]
        target = STATUS_OF[status.state]
        body: Row = {}
        if order.get("status") != target:
            body["status"] = target
        if meta.get(STATE_META) != status.state.value or new:
            body["meta_data"] = [
                {"key": STATE_META, "value": status.state.value},
                {"key": TRACKING_META, "value": announced + new},
            ]
        try:
            for number in new:
                await self._api.call(
                    "POST",
                    f"orders/{oid}/notes",
                    json={
                        "note": f"Tracking number: {number}",
                        "customer_note": True,
                    },
                )
            if body:
                await self._api.call("PUT", f"orders/{oid}", json=body)
        except WooApiError as exc:
            return _fail(status.number, str(exc), "state")
        return Outcome(number=status.number, platform_id=str(oid))

    # -- orders in ----------------------------------------------------------

    async def fetch_orders(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order]]:
        """
        Yield the selected orders, oldest id first; ``ChangedSince`` reads
        ``modified_after`` with ``dates_are_gmt=true`` (exclusive, so one
        second earlier) and keeps what changed at or after the moment.
        """
        params = {"orderby": "id", "order": "asc", "status": "any"}
        since: datetime | None = None
        if isinstance(selection, ChangedSince):
            since = selection.moment.astimezone(UTC)
            params["modified_after"] = (
                (since - timedelta(seconds=1)).replace(tzinfo=None).isoformat()
            )
            params["dates_are_gmt"] = "true"
        elif isinstance(selection, Only):
            ids = [n for n in selection.numbers if n.isdigit()]
            if not ids:
                return
            params["include"] = ",".join(sorted(ids))
        per_page = max(1, min(batch_size, MAX_PER_PAGE))
        async for rows in self._api.pages("orders", params, per_page=per_page):
            batch = []
            for row in rows:
                order = _order_of(row)
                if not _selected(selection, order, row, since):
                    continue
                batch.append(order)
            if batch:
                yield batch

    # -- media --------------------------------------------------------------

    async def upload_media(self, media: StagedMedia) -> str:
        """
        Upload a staged file through WordPress' media endpoint, named by
        its content hash: one request per file.  Content uploaded before
        through this adapter is not uploaded again (across runs the
        engine's store remembers it); after an upload whose answer was
        lost, the file is looked up by its hash before it is sent again.
        """
        cached = self._media_ids.get(media.sha256)
        if cached is not None:
            return cached
        ext = (
            media.filename.rsplit(".", 1)[-1] if "." in media.filename else ""
        )
        ext = re.sub(r"[^A-Za-z0-9]", "", ext)[:8].lower()
        name = f"{media.sha256}.{ext}" if ext else media.sha256
        row = await self._api.upload(media.read_bytes(), name, media.mime_type)
        self._media_ids[media.sha256] = str(row["id"])
        return str(row["id"])

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
        images = sorted(
            (m for m in media if m.kind is MediaKind.IMAGE),
            key=lambda m: m.position,
        )
        if data_type is DataType.CATEGORIES:
            await self._api.call(
                "PUT",
                f"products/categories/{target.platform_id}",
                json={
                    "image": {"id": int(images[0].media_id)}
                    if images
                    else None
                },
            )
            return
        documents = [m for m in media if m.kind is MediaKind.DOCUMENT]
        await self._api.call(
            "PUT",
            f"products/{target.platform_id}",
            json={
                "images": [{"id": int(m.media_id)} for m in images],
                "meta_data": [
                    {
                        "key": DOCUMENTS_META,
                        "value": [int(m.media_id) for m in documents],
                    }
                ],
            },
        )

    # -- optional capabilities ---------------------------------------------

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
        and one batch write (categories: plus the term list); per new file
        an upload; variable articles one variations batch
        each (counted as one per article, the worst case); order statuses
        a read, a write and a note per record.
        """
        batches = math.ceil(writes / self.batch_size)
        if data_type is DataType.CATEGORIES:
            return 2 * batches + 1 + 2 * uploads  # a lost upload: a search
        if data_type is DataType.ARTICLES:
            return 2 * batches + writes + 1 + 2 * uploads
        if data_type is DataType.STOCK:
            return 2 * batches
        if data_type is DataType.ORDER_STATUS:
            return 3 * writes
        return batches

    async def check(self) -> list[str]:
        """
        Whether the shop can be used: reachable, accepting the key, the
        key able to read products, categories and orders.  Writes
        nothing.
        """
        where = f"WooCommerce at {public_url(self.url)}"
        problems = []
        for path in ("products", "products/categories", "orders"):
            try:
                await self._api.call("GET", path, params={"per_page": "1"})
            except SyncError as exc:
                problems.append(f"{where}: {exc}")
                if "refused" in str(exc) or "HTTP" not in str(exc):
                    break
        return problems

    # -- lifecycle ----------------------------------------------------------

    async def aclose(self) -> None:
        """
        Close the HTTP connections.
        """
        await self._api.aclose()

    async def __aenter__(self) -> WooCommerce:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _Refused(Exception):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _field(error: Row) -> str | None:
    code = str(error.get("code") or "")
    if "sku" in code:
        return "number"
    if "image" in code:
        return "media"
    params = (error.get("data") or {}).get("params")
    if isinstance(params, dict) and params:
        return str(next(iter(params)))
    return None


def _chunks(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value or "0"))
    except InvalidOperation:
        return Decimal(0)


def _address(data: Row) -> Address:
    street = " ".join(
        s for s in (data.get("address_1"), data.get("address_2")) if s
    )
    return Address(
        first_name=str(data.get("first_name") or ""),
        last_name=str(data.get("last_name") or ""),
        street=street,
        zip_code=str(data.get("postcode") or ""),
        city=str(data.get("city") or ""),
        country=str(data.get("country") or "").upper(),
        company=str(data.get("company") or ""),
        phone=str(data.get("phone") or ""),
    )


def _order_of(row: Row) -> Order:
    billing_raw = row.get("billing") or {}
    shipping_raw = row.get("shipping") or {}
    billing = _address(billing_raw)
    shipping = (
        _address(shipping_raw)
        if shipping_raw.get("address_1") or shipping_raw.get("last_name")
        else billing
    )
    number = str(row.get("number") or row["id"])
    customer_id = int(row.get("customer_id") or 0)
    customer = Customer(
        number=str(customer_id) if customer_id else f"guest-{number}",
        email=str(billing_raw.get("email") or ""),
        first_name=billing.first_name,
        last_name=billing.last_name,
        addresses=(billing,) if billing == shipping else (billing, shipping),
    )
    lines = []
    for line in row.get("line_items") or []:
        quantity = int(line.get("quantity") or 0)
        gross = _amount(line.get("total")) + _amount(line.get("total_tax"))
        lines.append(
            OrderLine(
                article_number=str(line.get("sku") or ""),
                name=str(line.get("name") or ""),
                quantity=quantity,
                unit_price=gross / quantity if quantity else gross,
            )
        )
    created = str(row.get("date_created_gmt") or "")
    ordered_at = (
        datetime.fromisoformat(created).replace(tzinfo=UTC)
        if created
        else datetime.now(UTC)
    )
    return Order(
        number=number,
        customer=customer,
        billing=billing,
        shipping=shipping,
        lines=tuple(lines),
        total=_amount(row.get("total")),
        ordered_at=ordered_at,
        currency=str(row.get("currency") or "EUR"),
        state=STATE_OF.get(str(row.get("status")), OrderState.OPEN),
    )


def _selected(
    selection: Selection, order: Order, row: Row, since: datetime | None
) -> bool:
    if isinstance(selection, All):
        return True
    if isinstance(selection, Only):
        return order.number in selection.numbers
    if isinstance(selection, NumberRange):
        key = number_key(order.number)
        return number_key(selection.first) <= key <= number_key(selection.last)
    modified = str(row.get("date_modified_gmt") or "")
    if since is None or not modified:
        return True
    return datetime.fromisoformat(modified).replace(tzinfo=UTC) >= since
