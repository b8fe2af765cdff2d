"""
A platform that lives in memory: for tests, demos and host applications'
own test suites.

It behaves like a strict shop: ids derive from record numbers (so a
replayed write cannot duplicate), a child needs its parent, an article
needs its categories, stock and status need their article and order.
Everything it holds is plain data a test can inspect.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import anyio
import attrs

from .._closing import AsyncResource
from .._contracts import MediaLink, Outcome, Outgoing, StagedMedia
from .._model import (
    Article,
    Category,
    Order,
    OrderState,
    OrderStatus,
    Record,
    StockLevel,
    number_key,
    parents_first,
)
from .._settings import at_least, flag, seconds
from .._spec import DataType, Selection, aware, selected
from ._backorders import negative_stock, reported


__all__ = ["MemoryPlatform"]


def _now() -> datetime:
    return datetime.now(UTC)


def platform_id(data_type: DataType, number: str) -> str:
    """
    The id a record gets: derived from its number, never random.
    """
    return hashlib.md5(  # noqa: S324 -- an id, not a secret
        f"{data_type.value}:{number}".encode()
    ).hexdigest()


@attrs.define(repr=False)
class MemoryPlatform(AsyncResource):
    """
    An in-memory `Platform`.

    Args:
        supported: The data types it accepts (default: all).
        batch_size: Records per `push`.
        reject: Called for every written record; a returned text rejects
            the record with that message (fault injection).
        latency: Seconds each call takes.
        allow_backorders: Whether the shop sells below zero: negative stock is
            written as it is; otherwise the level is written as 0 and its
            record fails on ``quantity`` all the same (reported).

    Attributes:
        records: What it holds, per data type and record number (for
            stock: the level last written for the article).
        stock: Stock per article number and warehouse (``None``: the
            summed level): the shop's stock locations, one per ERP
            warehouse, so that levels kept per warehouse are all kept.
        media: Uploaded content by media id.
        attachments: Media ids per (data type, record number), in order.
        calls: How often each method was called; ``writes`` counts records
            written.

    Raises:
        ConfigurationError: *batch_size* not a whole number of at least
            1, *latency* not a number of seconds of 0 or more,
            *allow_backorders* not ``True`` or ``False``; naming it.

    .. versionadded:: 26.1.0
    """

    supported: frozenset[DataType] = frozenset(DataType)
    batch_size: int = attrs.field(default=100, validator=at_least(1))
    reject: Callable[[Record], str | None] | None = None
    latency: float = attrs.field(default=0.0, validator=seconds(zero=True))
    clock: Callable[[], datetime] = _now
    allow_backorders: bool = attrs.field(default=False, validator=flag)
    records: dict[DataType, dict[str, Record]] = attrs.field(
        init=False, factory=dict
    )
    stock: dict[str, dict[str | None, int]] = attrs.field(
        init=False, factory=dict
    )
    media: dict[str, bytes] = attrs.field(init=False, factory=dict)
    attachments: dict[tuple[DataType, str], list[str]] = attrs.field(
        init=False, factory=dict
    )
    calls: Counter[str] = attrs.field(init=False, factory=Counter)
    _orders: dict[str, tuple[Order, datetime]] = attrs.field(
        init=False, factory=dict
    )
    _closed: bool = attrs.field(init=False, default=False)

    def __repr__(self) -> str:
        held = ", ".join(
            f"{t.value}={len(r)}" for t, r in self.records.items()
        )
        return f"<MemoryPlatform {held}>"

    # -- what a shop customer does ------------------------------------

    def place_order(
        self, order: Order, *, changed_at: datetime | None = None
    ) -> None:
        """
        An order arrives (or changes) in the shop.
        """
        self._orders[order.number] = (
            order,
            aware(
                changed_at or self.clock(),
                f"MemoryPlatform: the change time of order {order.number!r}",
            ),
        )

    def held(self, data_type: DataType) -> dict[str, Record]:
        return self.records.setdefault(data_type, {})

    # -- Platform -------------------------------------------------------

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        self._ensure_open()
        self.calls["push"] += 1
        await anyio.sleep(self.latency)
        records = [item.record for item in items]
        categories = [r for r in records if isinstance(r, Category)]
        if data_type is not DataType.CATEGORIES or len(categories) < len(
            records
        ):
            written = [self._write(data_type, record) for record in records]
            if data_type is DataType.STOCK:
                self._drop_warehouses(records)
            return written
        # Parents first within the push; a category on (or below) a cycle
        # fails by name, like on a real shop.
        order, invalid = parents_first(categories)
        outcomes: dict[int, Outcome] = {
            i: Outcome(
                number=categories[i].number,
                error=f"category {categories[i].number} {p.reason}",
                field=p.field,
            )
            for i, p in invalid.items()
        }
        for i in order:
            outcomes[i] = self._write(data_type, categories[i])
        return [outcomes[i] for i in range(len(categories))]

    def _drop_warehouses(self, records: Sequence[Record]) -> None:
        """
        Like a shop with stock locations: an article's levels come whole
        (the engine sends them so), so a warehouse none of them names any
        more (the ERP stopped counting it) sells nothing.
        """
        sent: dict[str, set[str | None]] = {}
        for record in records:
            if isinstance(record, StockLevel):
                sent.setdefault(record.number, set()).add(record.warehouse)
        for number, warehouses in sent.items():
            levels = self.stock.get(number, {})
            for warehouse in [w for w in levels if w not in warehouses]:
                del levels[warehouse]

    def _refusal(
        self, data_type: DataType, record: Record
    ) -> tuple[str, str] | None:
        """
        Why the shop refuses *record*, and the field at fault.
        """
        if self.reject is not None and (why := self.reject(record)):
            field = {Category: "parent", Article: "categories"}
            return why, field.get(type(record), "number")
        if (
            isinstance(record, Category)
            and record.parent is not None
            and record.parent not in self.held(DataType.CATEGORIES)
        ):
            return f"parent category {record.parent} does not exist", "parent"
        if isinstance(record, Article):
            known = self.held(DataType.CATEGORIES)
            for number in record.categories:
                if number not in known:
                    return f"category {number} does not exist", "categories"
        if isinstance(record, StockLevel) and not self._sellable(
            record.number
        ):
            return f"article {record.number} does not exist", "number"
        if isinstance(record, OrderStatus):
            placed = self._orders.get(record.number)
            if placed is None:
                return f"order {record.number} does not exist", "number"
            if (
                placed[0].state is OrderState.CANCELLED
                and record.state is not OrderState.CANCELLED
            ):
                # the shop cancelled it: never reopened unseen
                return f"order {record.number} is cancelled", "state"
        return None

    def _sellable(self, number: str) -> bool:
        """
        Whether an article or a variant of one is numbered *number*.
        """
        articles = self.held(DataType.ARTICLES)
        return number in articles or any(
            v.number == number
            for a in articles.values()
            if isinstance(a, Article)
            for v in a.variants
        )

    def _write(self, data_type: DataType, record: Record) -> Outcome:
        if data_type not in self.supported:
            return Outcome(
                number=record.number,
                error=f"{data_type.value} is not supported",
            )
        refused = self._refusal(data_type, record)
        if refused is not None:
            why, field = refused
            return Outcome(number=record.number, error=why, field=field)
        negative = None
        if isinstance(record, StockLevel):
            negative = negative_stock(
                record.number,
                record.quantity,
                platform="MemoryPlatform",
                option="MemoryPlatform",
                allowed=self.allow_backorders,
            )
            if negative is not None:
                # Like the real adapters: 0, and the record reported.
                record = attrs.evolve(record, quantity=0)
        self.calls["writes"] += 1
        if isinstance(record, Article):
            self._renew_variants(record)
        self.held(data_type)[record.number] = record
        if isinstance(record, StockLevel):
            levels = self.stock.setdefault(record.number, {})
            levels[record.warehouse] = record.quantity
        return reported(
            Outcome(
                number=record.number,
                platform_id=platform_id(data_type, record.number),
            ),
            negative,
        )

    def _renew_variants(self, article: Article) -> None:
        """
        Like a shop: a variant an article gains (or the article itself,
        made anew) starts without stock, and one it drops takes its stock
        along.
        """
        before = self.held(DataType.ARTICLES).get(article.number)
        old = set() if before is None else set(_sellables(before))
        new = set(_sellables(article))
        for number in old ^ new:
            self.stock.pop(number, None)
            self.held(DataType.STOCK).pop(number, None)

    async def fetch_orders(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order]]:
        self._ensure_open()
        self.calls["fetch_orders"] += 1
        rows = sorted(
            (
                order
                for number, (order, changed) in self._orders.items()
                if selected(selection, number, changed)
            ),
            key=lambda o: number_key(o.number),
        )
        for start in range(0, len(rows), batch_size):
            await anyio.sleep(self.latency)
            yield rows[start : start + batch_size]

    async def upload_media(self, media: StagedMedia) -> str:
        self._ensure_open()
        self.calls["upload_media"] += 1
        await anyio.sleep(self.latency)
        content = await anyio.to_thread.run_sync(media.read_bytes)
        media_id = hashlib.md5(  # noqa: S324 -- an id, not a secret
            f"media:{media.sha256}".encode()
        ).hexdigest()
        self.media[media_id] = content
        return media_id

    async def attach_media(
        self,
        data_type: DataType,
        target: Outcome,
        media: Sequence[MediaLink],
    ) -> None:
        self._ensure_open()
        self.calls["attach_media"] += 1
        ordered = sorted(media, key=lambda m: m.position)
        self.attachments[(data_type, target.number)] = [
            m.media_id for m in ordered
        ]

    async def check(self) -> list[str]:
        """
        Always usable while open (`ecomsync.typing.SupportsCheck`).
        """
        self.calls["check"] += 1
        return ["the memory platform is closed"] if self.closed else []

    def snapshot(self) -> dict[str, Any]:
        """
        Counts of what it holds, for quick assertions.
        """
        return {t.value: len(r) for t, r in self.records.items()}


def _sellables(record: Record) -> tuple[str, ...]:
    """
    The numbers a shop sells of an article: its variants', or its own.
    """
    if isinstance(record, Article) and record.variants:
        return tuple(v.number for v in record.variants)
    return (record.number,)
