"""
Shopware 6, through its Admin API.

`Shopware6` implements `ecomsync.typing.Platform` for all five data types.
Writes go through the Sync API with ids derived from ERP numbers, so a
replayed request upserts what it wrote before instead of duplicating it;
a rejected Sync request (one transaction) is split until the offending
record is isolated and the rest is written.  See ``docs/shopware6.md``.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

import logging
import math
import mimetypes
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any, ClassVar, TypeAlias

import anyio
import attrs
import httpx

from .._contracts import MediaLink, Outcome, Outgoing, StagedMedia
from .._http import check_url
from .._model import (
    Article,
    Category,
    MediaKind,
    Order,
    OrderState,
    OrderStatus,
    StockLevel,
)
from .._spec import All, ChangedSince, DataType, NumberRange, Only, Selection
from ._shopware6_api import (
    MAX_LIMIT,
    AdminApi,
    ApiProblem,
    ShopwareApiError,
)
from ._shopware6_mapping import (
    DELIVERY_GRAPH,
    DOCUMENTS_FIELD,
    ORDER_ASSOCIATIONS,
    ORDER_GRAPH,
    STATE_TARGETS,
    article_rows,
    category_id,
    category_payload,
    order_from,
    parents_first,
    pointer_parts,
    product_id,
    product_media_id,
    range_prefilter,
    shopware_time,
    sw_id,
    tax_id,
    transitions,
)


__all__ = ["Shopware6"]

log = logging.getLogger("ecomsync.platforms.shopware6")

#: One Sync operation: ``key``, ``entity``, ``action``, ``payload``.
Operation: TypeAlias = dict[str, Any]
#: Operations for some items, and per operation key which item (by index)
#: owns each payload row, so Shopware's error pointer names the record.
Built: TypeAlias = tuple[list[Operation], dict[str, list[int]]]


def _op(
    key: str, entity: str, rows: list[dict[str, Any]], action: str = "upsert"
) -> Operation:
    return {"key": key, "entity": entity, "action": action, "payload": rows}


def _extension(media: StagedMedia) -> str:
    suffix = PurePosixPath(media.filename).suffix.lower().lstrip(".")
    if suffix.isalnum() and 0 < len(suffix) <= 8:
        return suffix
    guessed = mimetypes.guess_extension(media.mime_type) or ".bin"
    return guessed.lstrip(".")


@attrs.define(repr=False)
class Shopware6:
    """
    A Shopware 6 shop, written through the Admin API.

    Args:
        url: The shop's base URL (``https://shop.example``).
        client_id: The integration's access key id.
        client_secret: The integration's secret access key; never shown.
        sales_channel_id: Make articles visible in this sales channel;
            ``None`` makes them visible in every sales channel the shop
            has.
        send_mail: Let Shopware mail the customer on state transitions.
        batch_size: Records per Sync request.
        concurrency: Requests in flight at once, at most.
        request_deadline: Seconds one HTTP attempt may take in total.
        transport: Replace the network, e.g. ``httpx.ASGITransport(app=
            ShopwareEmulator(...).app)``.

    .. versionadded:: 26.1.0
    """

    url: str
    client_id: str
    client_secret: str = attrs.field(repr=False)
    sales_channel_id: str | None = attrs.field(default=None, kw_only=True)
    send_mail: bool = attrs.field(default=False, kw_only=True)
    batch_size: int = attrs.field(default=100, kw_only=True)
    concurrency: int = attrs.field(default=16, kw_only=True)
    request_deadline: float = attrs.field(default=60.0, kw_only=True)
    transport: httpx.AsyncBaseTransport | None = attrs.field(
        default=None, kw_only=True
    )
    #: The engine hands a record's uploaded media to `push` (in
    #: `Outgoing.media`), which writes them in the record's own sync.
    media_on_push: ClassVar[bool] = True
    supported: frozenset[DataType] = attrs.field(
        init=False, default=frozenset(DataType)
    )
    _api: AdminApi = attrs.field(init=False)
    _channels: list[str] | None = attrs.field(init=False, default=None)
    _taxes: dict[Decimal, str] = attrs.field(init=False, factory=dict)
    _lock: anyio.Lock | None = attrs.field(init=False, default=None)
    _media_batch: _MediaBatch | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        check_url(self.url, what="the Shopware 6 URL")
        self._api = AdminApi.create(
            self.url,
            self.client_id,
            self.client_secret,
            concurrency=self.concurrency,
            request_deadline=self.request_deadline,
            transport=self.transport,
        )

    def __repr__(self) -> str:
        return f"<Shopware6 {self.url!r} client_id={self.client_id!r}>"

    # -- setup, once per instance -------------------------------------

    def _setup_lock(self) -> anyio.Lock:
        if self._lock is None:
            self._lock = anyio.Lock()
        return self._lock

    async def _sales_channels(self) -> list[str]:
        async with self._setup_lock():
            if self._channels is None:
                if self.sales_channel_id is not None:
                    self._channels = [self.sales_channel_id]
                else:
                    rows = await self._api.search_all("sales_channel", {})
                    self._channels = sorted(str(r["id"]) for r in rows)
            return self._channels

    async def _tax(self, rate: Decimal) -> str:
        """
        The id of the tax entity for *rate*: found, or created.
        """
        async with self._setup_lock():
            if rate in self._taxes:
                return self._taxes[rate]
            rows = await self._api.search(
                "tax",
                {
                    "filter": [
                        {
                            "type": "equals",
                            "field": "taxRate",
                            "value": float(rate),
                        }
                    ],
                    "sort": [{"field": "id", "order": "ASC"}],
                    "limit": 1,
                },
            )
            if rows:
                found = str(rows[0]["id"])
            else:
                found = tax_id(rate)
                await self._api.sync(
                    [
                        _op(
                            "ecomsync-tax",
                            "tax",
                            [
                                {
                                    "id": found,
                                    "taxRate": float(rate),
                                    "name": f"{rate.normalize()} %",
                                }
                            ],
                        )
                    ]
                )
            self._taxes[rate] = found
            return found

    # -- the one way records are written ------------------------------

    async def _write(
        self,
        count: int,
        build: Callable[[Sequence[int]], Built],
    ) -> dict[int, tuple[str, str | None]]:
        """
        Write items ``0..count-1`` with as few Sync requests as the data
        allows; return the failures by item index: (Shopware's detail,
        field from its pointer).

        A Sync request is one transaction.  When Shopware rejects one,
        the items its error pointers name fail, and the rest is retried;
        without a usable pointer the batch is halved, left half first (so
        parents still precede children), until the offender is alone.
        """
        failures: dict[int, tuple[str, str | None]] = {}
        pending: list[list[int]] = [list(range(count))] if count else []
        while pending:
            chunk = pending.pop(0)
            operations, owners = build(chunk)
            try:
                await self._api.sync(operations)
            except ShopwareApiError as exc:
                blamed = self._blame(exc, owners, chunk)
                if len(chunk) == 1 and not blamed:
                    blamed = {chunk[0]: self._first_problem(exc)}
                if blamed:
                    failures.update(blamed)
                    rest = [i for i in chunk if i not in blamed]
                    if rest:
                        pending.insert(0, rest)
                    continue
                half = len(chunk) // 2
                pending[:0] = [chunk[:half], chunk[half:]]
        return failures

    @staticmethod
    def _first_problem(exc: ShopwareApiError) -> tuple[str, str | None]:
        for problem in exc.problems:
            parts = pointer_parts(problem.pointer)
            return problem.detail or str(exc), (
                (parts[2] or None) if parts else None
            )
        return str(exc), None

    @staticmethod
    def _blame(
        exc: ShopwareApiError,
        owners: dict[str, list[int]],
        chunk: Sequence[int],
    ) -> dict[int, tuple[str, str | None]]:
        blamed: dict[int, tuple[str, str | None]] = {}
        for problem in exc.problems:
            parts = pointer_parts(problem.pointer)
            if parts is None:
                continue
            key, index, field = parts
            rows = owners.get(key, [])
            if 0 <= index < len(rows) and rows[index] in chunk:
                blamed.setdefault(
                    rows[index], (problem.detail or str(exc), field or None)
                )
        return blamed

    # -- Platform: push -----------------------------------------------

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

        Per batch: a category batch is one sync; an article batch a
        product search, a product-media search and one sync (plus, once,
        the sales channels and tax lookups); a stock batch a search and a
        sync; a status batch an order search, then per order a tracking
        patch and up to three transitions.  Per new file: a media sync and
        the upload.  Media are written with their record, so records with
        media cost nothing more.
        """
        batches = math.ceil(writes / self.batch_size)
        if data_type is DataType.CATEGORIES:
            return batches
        if data_type is DataType.ARTICLES:
            lookups = 3 if writes else 0
            return lookups + 3 * batches + 2 * uploads
        if data_type is DataType.STOCK:
            return 2 * batches
        if data_type is DataType.ORDER_STATUS:
            return batches + 4 * writes
        return batches

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
            return await self._push_statuses(items)
        return [
            Outcome(
                number=item.record.number,
                error=f"{data_type.value} cannot be pushed to Shopware",
            )
            for item in items
        ]

    @staticmethod
    def _outcomes(
        numbers: Sequence[str],
        ids: Sequence[str | None],
        failures: dict[int, tuple[str, str | None]],
    ) -> list[Outcome]:
        outcomes = []
        for i, number in enumerate(numbers):
            if i in failures:
                error, field = failures[i]
                outcomes.append(
                    Outcome(number=number, error=error, field=field)
                )
            else:
                outcomes.append(Outcome(number=number, platform_id=ids[i]))
        return outcomes

    async def _push_categories(
        self, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        if any(not isinstance(i.record, Category) for i in items):
            return self._wrong_type(items, Category)
        categories = [
            i.record for i in items if isinstance(i.record, Category)
        ]
        order = parents_first(categories)

        def build(chunk: Sequence[int]) -> Built:
            members = set(chunk)
            rows, owner = [], []
            for i in order:
                if i in members:
                    row = category_payload(categories[i])
                    media = items[i].media
                    if media is not None:
                        images = _image_ids(media)
                        row["mediaId"] = images[0] if images else None
                    rows.append(row)
                    owner.append(i)
            key = "ecomsync-categories"
            return [_op(key, "category", rows)], {key: owner}

        failures = await self._write(len(categories), build)
        return self._outcomes(
            [c.number for c in categories],
            [category_id(c.number) for c in categories],
            failures,
        )

    @staticmethod
    def _wrong_type(items: Sequence[Outgoing], kind: type) -> list[Outcome]:
        return [
            Outcome(
                number=item.record.number,
                error=(
                    f"expected a {kind.__name__}, got "
                    f"{type(item.record).__name__}"
                ),
            )
            for item in items
        ]

    async def _products(
        self, ids: Sequence[str], *, categories: bool = False
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), MAX_LIMIT):
            part = unique[start : start + MAX_LIMIT]
            criteria: dict[str, Any] = {
                "filter": [
                    {"type": "equalsAny", "field": "id", "value": part}
                ],
                "limit": MAX_LIMIT,
            }
            if categories:
                criteria["associations"] = {"categories": {}}
            for row in await self._api.search("product", criteria):
                found[str(row["id"])] = row
        return found

    async def _push_articles(self, items: Sequence[Outgoing]) -> list[Outcome]:
        if any(not isinstance(i.record, Article) for i in items):
            return self._wrong_type(items, Article)
        articles = [i.record for i in items if isinstance(i.record, Article)]
        channels = await self._sales_channels()
        taxes = {a.tax_rate: await self._tax(a.tax_rate) for a in articles}
        ids = [product_id(a.number) for a in articles]
        all_ids = ids + [
            product_id(v.number) for a in articles for v in a.variants
        ]
        current = await self._products(all_ids, categories=True)
        existing = frozenset(current)
        per_article = [
            article_rows(
                a,
                tax=taxes[a.tax_rate],
                sales_channels=channels,
                existing=existing,
            )
            for a in articles
        ]
        # Media come with the record (media_on_push): write the product
        # media and cover in the same sync, and drop the stale ones.
        held_media = await self._held_media(
            [
                pid
                for pid, i in zip(ids, items, strict=True)
                if i.media is not None
            ]
        )
        stale_media: list[list[dict[str, str]]] = []
        for item, pid, rows in zip(items, ids, per_article, strict=True):
            if item.media is None:
                stale_media.append([])
                continue
            fields, wanted_media = _product_media_fields(pid, item.media)
            for row in rows["product"]:
                if row["id"] == pid:
                    row.update(fields)
            stale_media.append(
                [
                    {"id": m}
                    for m in sorted(held_media.get(pid, set()) - wanted_media)
                ]
            )
        stale: list[list[dict[str, str]]] = []
        for article, pid in zip(articles, ids, strict=True):
            wanted = {category_id(c) for c in article.categories}
            held = _category_ids(current.get(pid))
            stale.append(
                [
                    {"productId": pid, "categoryId": cid}
                    for cid in sorted(held - wanted)
                ]
            )

        def build(chunk: Sequence[int]) -> Built:
            operations: list[Operation] = []
            owners: dict[str, list[int]] = {}
            for entity in (
                "property_group",
                "property_group_option",
                "product",
            ):
                key = f"ecomsync-{entity.replace('_', '-')}"
                rows: list[dict[str, Any]] = []
                owner: list[int] = []
                seen: set[str] = set()
                for i in chunk:
                    for row in per_article[i][entity]:
                        if row["id"] in seen:
                            continue
                        seen.add(row["id"])
                        rows.append(row)
                        owner.append(i)
                operations.append(_op(key, entity, rows))
                owners[key] = owner
            key = "ecomsync-stale-categories"
            rows = [pair for i in chunk for pair in stale[i]]
            owners[key] = [i for i in chunk for _ in stale[i]]
            operations.append(_op(key, "product_category", rows, "delete"))
            key = "ecomsync-stale-media"
            rows = [row for i in chunk for row in stale_media[i]]
            owners[key] = [i for i in chunk for _ in stale_media[i]]
            operations.append(_op(key, "product_media", rows, "delete"))
            return operations, owners

        failures = await self._write(len(articles), build)
        return self._outcomes([a.number for a in articles], ids, failures)

    async def _push_stock(self, items: Sequence[Outgoing]) -> list[Outcome]:
        if any(not isinstance(i.record, StockLevel) for i in items):
            return self._wrong_type(items, StockLevel)
        levels = [i.record for i in items if isinstance(i.record, StockLevel)]
        ids = [
            item.platform_id or product_id(item.record.number)
            for item in items
        ]
        held = await self._products(ids)
        missing: dict[int, tuple[str, str | None]] = {
            i: (
                f"article {level.number} does not exist in Shopware",
                "number",
            )
            for i, (level, pid) in enumerate(zip(levels, ids, strict=True))
            if pid not in held
        }
        present = [i for i in range(len(levels)) if i not in missing]

        def build(chunk: Sequence[int]) -> Built:
            rows = [
                {"id": ids[present[j]], "stock": levels[present[j]].quantity}
                for j in chunk
            ]
            key = "ecomsync-stock"
            return [_op(key, "product", rows)], {key: list(chunk)}

        written = await self._write(len(present), build)
        failures = dict(missing)
        failures.update({present[j]: why for j, why in written.items()})
        return self._outcomes([s.number for s in levels], ids, failures)

    # -- order status -------------------------------------------------

    async def _orders_by_number(
        self, numbers: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(numbers))
        for start in range(0, len(unique), MAX_LIMIT):
            part = unique[start : start + MAX_LIMIT]
            rows = await self._api.search(
                "order",
                {
                    "filter": [
                        {
                            "type": "equalsAny",
                            "field": "orderNumber",
                            "value": part,
                        }
                    ],
                    "associations": {
                        "stateMachineState": {},
                        "deliveries": {
                            "associations": {"stateMachineState": {}}
                        },
                    },
                    "limit": MAX_LIMIT,
                },
            )
            for row in rows:
                found[str(row.get("orderNumber"))] = row
        return found

    async def _push_statuses(self, items: Sequence[Outgoing]) -> list[Outcome]:
        if any(not isinstance(i.record, OrderStatus) for i in items):
            return self._wrong_type(items, OrderStatus)
        statuses = [
            i.record for i in items if isinstance(i.record, OrderStatus)
        ]
        orders = await self._orders_by_number([s.number for s in statuses])
        outcomes: list[Outcome | None] = [None] * len(statuses)
        errors: list[Exception] = []

        async def one(i: int) -> None:
            try:
                outcomes[i] = await self._set_status(
                    statuses[i], orders.get(statuses[i].number)
                )
            except Exception as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            for i in range(len(statuses)):
                tg.start_soon(one, i)
        if errors:
            # Auth or transport trouble: raise it as itself, not wrapped
            # in an exception group.
            raise errors[0]
        return [o for o in outcomes if o is not None]

    async def _set_status(
        self, status: OrderStatus, order: dict[str, Any] | None
    ) -> Outcome:
        if order is None:
            return Outcome(
                number=status.number,
                error=f"order {status.number} does not exist in Shopware",
                field="number",
            )
        oid = str(order["id"])
        deliveries = sorted(
            (d for d in order.get("deliveries") or [] if isinstance(d, dict)),
            key=lambda d: str(d.get("id")),
        )
        delivery = deliveries[0] if deliveries else None
        order_target, delivery_target = STATE_TARGETS[status.state]
        try:
            if delivery is not None and status.tracking_numbers:
                codes = list(dict.fromkeys(status.tracking_numbers))
                if list(delivery.get("trackingCodes") or []) != codes:
                    await self._api.call(
                        "PATCH",
                        f"/api/order-delivery/{delivery['id']}",
                        json={"trackingCodes": codes},
                    )
            moves: list[tuple[str, str, str | None, str, Any]] = []
            if delivery is not None and delivery_target is not None:
                moves.append(
                    (
                        "order_delivery",
                        str(delivery["id"]),
                        _technical(delivery),
                        delivery_target,
                        DELIVERY_GRAPH,
                    )
                )
            if order_target is not None:
                moves.append(
                    (
                        "order",
                        oid,
                        _technical(order),
                        order_target,
                        ORDER_GRAPH,
                    )
                )
            if status.state is OrderState.CANCELLED:
                moves.reverse()
            for entity, eid, current, target, graph in moves:
                await self._move(entity, eid, current, target, graph)
        except ShopwareApiError as exc:
            detail, field = self._first_problem(exc)
            return Outcome(number=status.number, error=detail, field=field)
        return Outcome(number=status.number, platform_id=oid)

    async def _move(
        self,
        entity: str,
        eid: str,
        current: str | None,
        target: str,
        graph: Any,
    ) -> None:
        """
        Walk *entity* from *current* to *target* (already there: nothing
        to do).  An illegal transition (another writer, or our own
        request that committed before its answer was lost) re-reads the
        state and plans again, once.
        """
        for attempt in range(2):
            if current is None:
                current = await self._read_state(entity, eid)
            path = transitions(graph, current, target)
            if path is None:
                raise ShopwareApiError(
                    f"{entity} {eid}",
                    400,
                    [
                        _problem(
                            f"no transition leads the {entity} from "
                            f"{current!r} to {target!r}"
                        )
                    ],
                )
            try:
                for action in path:
                    response = await self._api.call(
                        "POST",
                        f"/api/_action/{entity}/{eid}/state/{action}",
                        json={"sendMail": self.send_mail},
                    )
                    current = _answer_state(response) or graph[current][action]
            except ShopwareApiError as exc:
                if attempt or not exc.has_code(
                    "SYSTEM__ILLEGAL_STATE_TRANSITION"
                ):
                    raise
                current = None
                continue
            return

    async def _read_state(self, entity: str, eid: str) -> str:
        rows = await self._api.search(
            entity,
            {
                "filter": [{"type": "equals", "field": "id", "value": eid}],
                "associations": {"stateMachineState": {}},
                "limit": 1,
            },
        )
        state = _technical(rows[0]) if rows else None
        if state is None:
            raise ShopwareApiError(
                f"{entity} {eid}",
                404,
                [_problem(f"{entity} {eid} has no readable state")],
            )
        return state

    # -- Platform: orders ---------------------------------------------

    async def fetch_orders(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order]]:
        """
        Yield the selected orders with customer, addresses, line items,
        deliveries and transactions, paged by a stable sort.
        """
        limit = max(1, min(batch_size, MAX_LIMIT))
        filters: list[dict[str, Any]] = []
        exact: Callable[[str], bool] = lambda _: True  # noqa: E731
        if isinstance(selection, ChangedSince):
            since = shopware_time(selection.moment)
            filters.append(
                {
                    "type": "multi",
                    "operator": "or",
                    "queries": [
                        {
                            "type": "range",
                            "field": field,
                            "parameters": {"gte": since},
                        }
                        for field in ("createdAt", "updatedAt")
                    ],
                }
            )
        elif isinstance(selection, NumberRange):
            prefilter = range_prefilter(selection)
            if prefilter is not None:
                filters.append(prefilter)
            exact = selection.__contains__
        elif isinstance(selection, Only):
            numbers = sorted(selection.numbers)
            if len(numbers) > MAX_LIMIT:
                async for batch in self._fetch_only(numbers, limit):
                    yield batch
                return
            filters.append(
                {"type": "equalsAny", "field": "orderNumber", "value": numbers}
            )
        elif not isinstance(selection, All):  # pragma: no cover
            raise TypeError(f"unknown selection {selection!r}")
        async for batch in self._pages(filters, limit):
            chosen = [o for o in batch if exact(o.number)]
            if chosen:
                yield chosen

    async def _fetch_only(
        self, numbers: list[str], limit: int
    ) -> AsyncIterator[Sequence[Order]]:
        for start in range(0, len(numbers), MAX_LIMIT):
            part = numbers[start : start + MAX_LIMIT]
            flt = [
                {"type": "equalsAny", "field": "orderNumber", "value": part}
            ]
            async for batch in self._pages(flt, limit):
                yield batch

    async def _pages(
        self, filters: list[dict[str, Any]], limit: int
    ) -> AsyncIterator[list[Order]]:
        page = 1
        while True:
            criteria: dict[str, Any] = {
                "limit": limit,
                "page": page,
                "sort": [
                    {"field": "createdAt", "order": "ASC"},
                    {"field": "id", "order": "ASC"},
                ],
                "associations": ORDER_ASSOCIATIONS,
            }
            if filters:
                criteria["filter"] = filters
            rows = await self._api.search("order", criteria)
            if rows:
                yield [order_from(row) for row in rows]
            if len(rows) < limit:
                return
            page += 1

    # -- Platform: media ----------------------------------------------

    async def _media_named(self, name: str, extension: str) -> str | None:
        rows = await self._api.search(
            "media",
            {
                "filter": [
                    {"type": "equals", "field": "fileName", "value": name},
                    {
                        "type": "equals",
                        "field": "fileExtension",
                        "value": extension,
                    },
                ],
                "sort": [{"field": "id", "order": "ASC"}],
                "limit": 1,
            },
        )
        return str(rows[0]["id"]) if rows else None

    async def upload_media(self, media: StagedMedia) -> str:
        """
        Upload a staged file named by its content hash; content the shop
        already has (same hash) is reused, not uploaded again.
        """
        extension = _extension(media)
        name = media.sha256
        # No search first: the media id derives from the content hash, so
        # re-uploading our own file is an idempotent replace, and content
        # someone else uploaded under this name shows up as a duplicate
        # file name below.  (The engine asks only for content its store
        # does not know yet.)
        content = await anyio.to_thread.run_sync(media.read_bytes)
        mid = sw_id("media", media.sha256)
        await self._create_media(mid)
        try:
            await self._api.call(
                "POST",
                f"/api/_action/media/{mid}/upload",
                params={"extension": extension, "fileName": name},
                content=content,
                headers={"Content-Type": media.mime_type},
            )
        except ShopwareApiError as exc:
            if exc.has_code("CONTENT__MEDIA_DUPLICATED_FILE_NAME"):
                found = await self._media_named(name, extension)
                if found is not None:
                    return found
            raise
        return mid

    async def _create_media(self, mid: str) -> None:
        """
        Create the media entity *mid*, batched with the other uploads in
        flight: the first caller waits a moment for others to join, then
        creates them all in one sync (one request instead of one per
        file; the upload itself cannot be batched).
        """
        batch = self._media_batch
        if batch is not None:
            batch.ids.append(mid)
            await batch.done.wait()
            if batch.error is not None:
                raise batch.error
            return
        batch = self._media_batch = _MediaBatch(ids=[mid])
        try:
            await anyio.sleep(MEDIA_BATCH_WINDOW)
            self._media_batch = None
            rows = [{"id": i, "private": False} for i in batch.ids]
            await self._api.sync([_op("ecomsync-media", "media", rows)])
        except BaseException as exc:
            if self._media_batch is batch:
                self._media_batch = None
            batch.error = exc
            raise
        finally:
            batch.done.set()

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
        images = _image_ids(media)
        if data_type is DataType.CATEGORIES:
            cid = target.platform_id or category_id(target.number)
            await self._api.sync(
                [
                    _op(
                        "ecomsync-category-media",
                        "category",
                        [
                            {
                                "id": cid,
                                "mediaId": images[0] if images else None,
                            }
                        ],
                    )
                ]
            )
            return
        if data_type is not DataType.ARTICLES:
            raise ValueError(f"{data_type.value} records have no media")
        pid = target.platform_id or product_id(target.number)
        fields, wanted = _product_media_fields(pid, media)
        held = await self._held_media([pid])
        stale = sorted(held.get(pid, set()) - wanted)
        product: dict[str, Any] = {"id": pid, **fields}
        await self._api.sync(
            [
                _op("ecomsync-product-media", "product", [product]),
                _op(
                    "ecomsync-stale-media",
                    "product_media",
                    [{"id": i} for i in stale],
                    "delete",
                ),
            ]
        )

    async def _held_media(self, pids: Sequence[str]) -> dict[str, set[str]]:
        """
        The product media rows the shop holds, per product id.
        """
        held: dict[str, set[str]] = {}
        unique = list(dict.fromkeys(pids))
        if not unique:
            return held
        for start in range(0, len(unique), MAX_LIMIT):
            rows = await self._api.search_all(
                "product_media",
                {
                    "filter": [
                        {
                            "type": "equalsAny",
                            "field": "productId",
                            "value": unique[start : start + MAX_LIMIT],
                        }
                    ]
                },
            )
            for row in rows:
                held.setdefault(str(row["productId"]), set()).add(
                    str(row["id"])
                )
        return held

    async def aclose(self) -> None:
        """
        Close the HTTP connections.
        """
        await self._api.aclose()

    async def __aenter__(self) -> Shopware6:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _category_ids(product: dict[str, Any] | None) -> set[str]:
    if not product:
        return set()
    found = {
        str(c["id"])
        for c in product.get("categories") or []
        if isinstance(c, dict) and c.get("id")
    }
    found.update(str(i) for i in product.get("categoryIds") or [] if i)
    return found


def _technical(entity: dict[str, Any]) -> str | None:
    state = entity.get("stateMachineState")
    if isinstance(state, dict) and state.get("technicalName"):
        return str(state["technicalName"])
    return None


def _answer_state(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        data = body.get("data", body)
        if isinstance(data, dict) and data.get("technicalName"):
            return str(data["technicalName"])
    return None


def _problem(detail: str) -> ApiProblem:
    return ApiProblem(status="400", code="", detail=detail)


#: How long the first of concurrent uploads waits for others to join its
#: media-entity sync (seconds): short against one request's round trip.
MEDIA_BATCH_WINDOW = 0.003


@attrs.define
class _MediaBatch:
    """
    Media entities to create in one sync, and how that went.
    """

    ids: list[str]
    done: anyio.Event = attrs.Factory(anyio.Event)
    error: BaseException | None = None


def _image_ids(media: Sequence[MediaLink]) -> list[str]:
    ordered = sorted(media, key=lambda m: m.position)
    return list(
        dict.fromkeys(m.media_id for m in ordered if m.kind is MediaKind.IMAGE)
    )


def _product_media_fields(
    pid: str, media: Sequence[MediaLink]
) -> tuple[dict[str, Any], set[str]]:
    """
    The product fields that make *media* exactly the product's media:
    images as product media in position order (the first is the cover),
    documents in the custom field ``ecomsync_documents``; and the ids of
    the product media rows that should exist.
    """
    ordered = sorted(media, key=lambda m: m.position)
    documents = [m.media_id for m in ordered if m.kind is MediaKind.DOCUMENT]
    rows = [
        {
            "id": product_media_id(pid, mid),
            "productId": pid,
            "mediaId": mid,
            "position": position,
        }
        for position, mid in enumerate(_image_ids(media))
    ]
    fields = {
        "media": rows,
        "coverId": rows[0]["id"] if rows else None,
        "customFields": {DOCUMENTS_FIELD: documents},
    }
    return fields, {str(row["id"]) for row in rows}
