"""
The workload: a seeded catalogue generated on demand (so memory measures
the client, not the data set), the emulator's cost model, and the lower
bound T_lb computed from both.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator, Container, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs

from ecomsync import DataType
from ecomsync._contracts import Outcome
from ecomsync._model import (
    Article,
    Category,
    MediaRef,
    Order,
    Record,
    StockLevel,
    number_key,
)
from ecomsync._spec import All, ChangedSince, NumberRange, Only, Selection


#: When the catalogue was last changed (version 0); the delta (version 1)
#: changes it when the process that reads it starts, so a scheduled run
#: after the first one finds it.
BASE_TIME = datetime(2026, 11, 1, tzinfo=UTC)


@attrs.frozen(kw_only=True)
class Costs:
    """
    The emulator's cost model (reliability-performance.md C.1).
    """

    latency_ms: float = 20.0
    base_ms: float = 5.0
    per_item_ms: float = 0.5
    per_upload_ms: float = 10.0
    bandwidth_bps: float = 12.5e6  # 100 Mbit/s
    workers: int = 8

    def args(self) -> list[str]:
        return [
            f"--latency-ms={self.latency_ms}",
            f"--base-ms={self.base_ms}",
            f"--per-item-ms={self.per_item_ms}",
            f"--per-upload-ms={self.per_upload_ms}",
            f"--bandwidth-bps={self.bandwidth_bps}",
            f"--workers={self.workers}",
        ]


FREE = Costs(
    latency_ms=0,
    base_ms=0,
    per_item_ms=0,
    per_upload_ms=0,
    bandwidth_bps=0,
    workers=0,
)


@attrs.frozen(kw_only=True)
class Workload:
    articles: int
    images: int = 3
    image_bytes: int = 20_000
    categories: int = 200
    orders: int = 2_000
    changed_share: float = 0.01

    def changed(self) -> list[int]:
        """
        Indices of the articles the delta changes: every k-th.
        """
        count = max(1, round(self.articles * self.changed_share))
        step = self.articles // count
        return [i * step + 1 for i in range(count)]

    def new_image(self) -> list[int]:
        """
        Of the changed articles, those that get a new first image: half.
        """
        return self.changed()[::2]


# -- the lower bound ------------------------------------------------------


@attrs.frozen
class Bound:
    t_lb: float
    latency_term: float
    service_term: float
    bytes_term: float
    rate_term: float
    requests: int
    binding: str

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


#: Shopware's largest page of orders the adapter reads (and the floor).
ORDER_PAGE = 500

#: The associations an order import needs (as the Shopware6 adapter asks
#: for them), so that every contender's order pages weigh the same.
ORDER_ASSOCIATIONS: dict[str, Any] = {
    "orderCustomer": {},
    "billingAddress": {"associations": {"country": {}}},
    "addresses": {"associations": {"country": {}}},
    "deliveries": {
        "associations": {
            "shippingOrderAddress": {"associations": {"country": {}}},
            "stateMachineState": {},
        }
    },
    "lineItems": {},
    "transactions": {"associations": {"stateMachineState": {}}},
    "stateMachineState": {},
    "currency": {},
}


def request_set(w: Workload, *, batch: int = 100) -> dict[str, Any]:
    """
    The fewest requests the Shopware API allows for a first full sync of
    *w*, as the emulator charges them: the items of each Sync (top-level
    rows: media entities and product-media rows travel nested in their
    product row, stock in the product row too), the number of uploads and
    of order searches, the reads no client can do without, plus one
    token.  `lower_bound` prices this set and `bench._floor` replays it.

    The reads (``reads``): the tax of the articles' rate (a product
    needs a ``taxId``, and the shop's taxes have ids its installation
    drew) and the sales channels (a product is sold only where it has a
    visibility naming one, and a top-level category shows below a sales
    channel's navigation category; their ids too are the shop's own).
    The order searches: one per page of `ORDER_PAGE` up to the short
    one, and one look-up of who else holds the last page's numbers when
    it holds any (Shopware keeps no order number unique, and the ERP
    imports an order by its number; a page's search carries the look-up
    of the page before's numbers, so only the last one's is a request of
    its own).
    """
    syncs: list[int] = []  # charged items per sync request
    for start in range(0, w.categories, batch):
        syncs.append(min(batch, w.categories - start))
    for start in range(0, w.articles, batch):
        syncs.append(min(batch, w.articles - start))
    # The last page is the one that comes back short (possibly empty).
    pages = w.orders // ORDER_PAGE + 1
    searches = pages + (1 if w.orders % ORDER_PAGE else 0)
    reads = (1 if w.articles else 0) + (1 if w.articles or w.categories else 0)
    return {
        "syncs": syncs,
        "uploads": w.articles * w.images,
        "pages": pages,
        "searches": searches,
        "reads": reads,
        "requests": len(syncs) + w.articles * w.images + searches + reads + 1,
    }


def lower_bound(
    w: Workload, c: Costs, *, concurrency: int, batch: int = 100
) -> Bound:
    """
    T_lb for a first full sync of *w* on an emulator costing *c*, for a
    client that keeps *concurrency* requests in flight.

    The request set is `request_set`: one Sync per *batch* categories; one
    Sync per *batch* articles whose product rows carry their stock, media
    entities and product-media rows nested (the emulator charges top-level
    rows); one upload per image; one search per page of `ORDER_PAGE`
    orders and the last page's look-up; the tax and sales-channel reads;
    one token.  Per request the emulator charges latency + base +
    items * per_item (+ per_upload), only base/item/upload time holds one
    of its workers, and request bodies share one link of *bandwidth*.

        T_lb = max(sum(latency + service) / concurrency,
                   sum(service) / workers,
                   bytes / bandwidth,
                   requests / rate limit)

    The emulator has no rate limit (Shopware has none for the Admin API
    besides failed logins), so the last term is 0.
    """
    rs = request_set(w, batch=batch)
    syncs, uploads = rs["syncs"], rs["uploads"]
    searches = rs["searches"] + rs["reads"]
    base = c.base_ms / 1000
    service = (
        sum(base + n * c.per_item_ms / 1000 for n in syncs)
        + uploads * (base + c.per_upload_ms / 1000)
        + searches * base
    )
    requests = rs["requests"]
    latency = requests * c.latency_ms / 1000
    latency_term = (latency + service) / concurrency
    service_term = service / c.workers if c.workers else 0.0
    total_bytes = uploads * w.image_bytes
    bytes_term = total_bytes / c.bandwidth_bps if c.bandwidth_bps else 0.0
    rate_term = 0.0
    terms = {
        "latency/concurrency": latency_term,
        "service/workers": service_term,
        "bytes/bandwidth": bytes_term,
        "requests/rate limit": rate_term,
    }
    binding = max(terms, key=lambda k: terms[k])
    return Bound(
        t_lb=terms[binding],
        latency_term=latency_term,
        service_term=service_term,
        bytes_term=bytes_term,
        rate_term=rate_term,
        requests=requests,
        binding=binding,
    )


# -- the catalogue ---------------------------------------------------------


def category_number(i: int) -> str:
    return f"C-{i:03d}"


def article_number(i: int) -> str:
    return f"A-{i:06d}"


def image_bytes(number: str, j: int, version: int, size: int) -> bytes:
    """
    Deterministic, unique content for image *j* of article *number*.
    """
    seed = hashlib.sha256(f"{number}/{j}/{version}".encode()).digest()
    return random.Random(seed).randbytes(size)


@attrs.define
class SeededErp:
    """
    An `ErpSource` whose records are computed from their index, so a run
    over 50,000 articles holds no catalogue in memory.  *version* 1 is the
    catalogue after the delta (`Workload.changed`).  Imported orders are
    only counted.
    """

    workload: Workload
    version: int = 0
    imported: set[str] = attrs.Factory(set)
    delta_time: datetime = attrs.Factory(lambda: datetime.now(UTC))
    _changed: frozenset[int] = attrs.field(init=False)
    _new_image: frozenset[int] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._changed = frozenset(self.workload.changed())
        self._new_image = frozenset(self.workload.new_image())

    @asynccontextmanager
    async def session(self) -> AsyncIterator[_Session]:
        yield _Session(self)

    def category(self, i: int) -> Category:
        return Category(
            number=category_number(i),
            name=f"Kategorie {i}",
            parent=None
            if i <= 5
            else category_number((i * 7919) % (i - 1) + 1),
            position=i,
        )

    def _delta(self, i: int) -> tuple[bool, bool]:
        if self.version == 0:
            return False, False
        return i in self._changed, i in self._new_image

    def article(self, i: int) -> Article:
        number = article_number(i)
        changed, new_image = self._delta(i)
        refs = tuple(
            MediaRef(
                key=f"{number}/{j}/{1 if (new_image and j == 0) else 0}",
                filename=f"{number}-{j}.jpg",
                mime_type="image/jpeg",
                version=str(1 if (new_image and j == 0) else 0),
            )
            for j in range(self.workload.images)
        )
        cents = 199 + (i * 7919) % 19800 + (100 if changed else 0)
        return Article(
            number=number,
            name=f"Artikel {i}",
            description=f"<p>Artikel {i} in Werkstattqualität.</p>",
            price=Decimal(cents) / 100,
            categories=(
                category_number((i * 31) % self.workload.categories + 1),
            ),
            media=refs,
        )

    def stock(self, i: int) -> StockLevel:
        return StockLevel(number=article_number(i), quantity=(i * 37) % 500)

    def changed_at(self, i: int) -> datetime:
        changed, _ = self._delta(i)
        return self.delta_time if changed else BASE_TIME

    def indices(
        self, data_type: DataType, selection: Selection
    ) -> Iterator[int]:
        if data_type is DataType.CATEGORIES:
            count, name = self.workload.categories, category_number
        elif data_type in (DataType.ARTICLES, DataType.STOCK):
            count, name = self.workload.articles, article_number
        else:
            return
        if data_type is DataType.CATEGORIES and not isinstance(
            selection, Only
        ):
            # Parents first: parents always have smaller indices.
            pass
        if isinstance(selection, Only):
            wanted = sorted(
                (int(n.split("-")[1]) for n in selection.numbers),
            )
            yield from (i for i in wanted if 1 <= i <= count)
            return
        for i in range(1, count + 1):
            if isinstance(selection, All):
                yield i
            elif isinstance(selection, NumberRange):
                if name(i) in selection:
                    yield i
            elif isinstance(selection, ChangedSince):
                moment = (
                    BASE_TIME
                    if data_type is DataType.CATEGORIES
                    else self.changed_at(i)
                )
                if moment >= selection.moment:
                    yield i

    def make(self, data_type: DataType, i: int) -> Record:
        if data_type is DataType.CATEGORIES:
            return self.category(i)
        if data_type is DataType.ARTICLES:
            return self.article(i)
        return self.stock(i)


@attrs.define
class _Session:
    erp: SeededErp

    async def read(
        self,
        data_type: DataType,
        selection: Selection,
        *,
        batch_size: int,
        exclude: Container[str] | None = None,
    ) -> AsyncIterator[Sequence[Record]]:
        batch: list[Record] = []
        for i in self.erp.indices(data_type, selection):
            if (
                exclude is not None
                and data_type is DataType.STOCK
                and article_number(i) in exclude
            ):
                continue  # read with its article (one level per number)
            batch.append(self.erp.make(data_type, i))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    async def count(
        self, data_type: DataType, selection: Selection
    ) -> int | None:
        return sum(1 for _ in self.erp.indices(data_type, selection))

    async def read_media(self, ref: MediaRef) -> bytes:
        number, j, version = ref.key.split("/")
        return image_bytes(
            number, int(j), int(version), self.erp.workload.image_bytes
        )

    async def import_orders(self, orders: Sequence[Order]) -> list[Outcome]:
        outcomes = []
        for order in orders:
            self.erp.imported.add(order.number)
            outcomes.append(
                Outcome(number=order.number, platform_id=f"SO-{order.number}")
            )
        return outcomes


def sort_key(number: str) -> tuple[Any, ...]:
    return number_key(number)
