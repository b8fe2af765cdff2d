"""
An ERP that lives in memory: for tests, demos and host applications'
own test suites.  It keeps what a run imported where a test can look.
"""

from __future__ import annotations

import math
from collections.abc import (
    AsyncIterator,
    Callable,
    Container,
    Hashable,
    Iterable,
    Sequence,
)
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio
import attrs

from .._closing import AsyncResource
from .._contracts import Outcome
from .._model import (
    Address,
    Article,
    Category,
    Customer,
    MediaRef,
    Order,
    OrderState,
    OrderStatus,
    Record,
    StockLevel,
    number_key,
    own_statuses,
    parents_first,
)
from .._record_checks import problems
from .._spec import (
    ChangedSince,
    DataType,
    Only,
    Selection,
    aware,
    selected,
    without_single,
)
from ..exceptions import ConfigurationError, SyncError
from ._shop_customers import other_customer


__all__ = ["MemoryErp"]

_KINDS: dict[type[Any], DataType] = {
    Category: DataType.CATEGORIES,
    Article: DataType.ARTICLES,
    StockLevel: DataType.STOCK,
    OrderStatus: DataType.ORDER_STATUS,
}


def _now() -> datetime:
    return datetime.now(UTC)


def _wrong_shape(record: object) -> str:
    wanted = ", ".join(t.__name__ for t in _KINDS)
    hint = ""
    if isinstance(record, dict):
        hint = "; build records from rows first, e.g. Article(**row)"
    elif isinstance(record, Order):
        hint = "; orders come from a platform (MemoryPlatform.place_order)"
    # the number, never the record: an order's repr holds the customer's
    # name, address and e-mail (personal data in an exception)
    number = (
        record.get("number")
        if isinstance(record, dict)
        else getattr(record, "number", None)
    )
    named = f" {number!r:.80}" if isinstance(number, str) else ""
    return (
        f"MemoryErp takes records ({wanted}), "
        f"got {type(record).__name__}{named}{hint}"
    )


def _key(number: object) -> tuple[Any, ...]:
    return number_key(number) if isinstance(number, str) else ()


def _claims(record: Record) -> tuple[str, ...]:
    """
    The numbers *record* claims: its own, and its variants'.
    """
    if isinstance(record, Article):
        return (record.number, *(v.number for v in record.variants))
    return (record.number,)


class MemoryErp(AsyncResource):
    """
    An in-memory `ErpSource`.

    Records are kept per data type with the moment they last changed;
    `put` changes them.  Imported orders land in `orders` (by order
    number), their customers in `customers` (by customer number) and the
    ERP's state of each order in `order_states`.  An order imported again
    with the state ``CANCELLED`` cancels its ERP order unless that
    shipped (then it fails on ``state``); one edited in the shop fails on
    the field that differs (docs/concepts.md, "Orders that change in the
    shop").  A new order with a line naming no active article (an article
    without variants or a variant; not an article with variants) fails
    on that line's ``article_number``, as in `TrytonErp`.

    Two platforms' orders with one number are two ERP orders, and their
    customers with one number two customers (``Order.platform``, which the
    engine fills in): the first platform's keeps the bare number as its
    key, another platform's is kept under ``(platform, number)`` (in
    `orders`, `order_states`, `refuse_orders` and `customers`), its ERP
    order is ``SO-<platform>-<number>``.  An order kept before its
    platform was known is the first one to claim it.  Order status read
    (and counted) for one platform (``platform=``) holds the statuses
    that name it (``OrderStatus.platform``) and, for a number it has none
    of, those that name no platform.  A new order whose customer's
    ``Customer.platform_id`` is not that of the customer its number was
    kept for fails on ``customer.number``, as in `TrytonErp`.

    Like a real ERP it can hold two records with one number (a reused
    code, a typing error): every record given to the constructor is kept,
    and `add` adds one more; `put` replaces whatever has the record's
    number.  Stock levels are told apart by number *and* warehouse.
    `ChangedSince` reads, with each changed record, every record claiming
    one of its numbers (its own or a variant's): a change to one stock
    level reads every level of its article (an article's stock is one
    unit), and a duplicate added later is read with the record it
    duplicates (see docs/concepts.md, "Duplicates and other
    ambiguities").  `Only` selects an article by its number or by one of
    its variants' (an article is pushed whole), and stock by a level's
    number or by its article's (the levels of the article's variants),
    as `TrytonErp` does.

    Args:
        records: Initial categories, articles, stock levels and order
            statuses, all stamped with *clock*'s current time; two with
            one number are two records.
        media: File contents by `MediaRef.key`.
        clock: Where "now" comes from.
        latency: Seconds each read batch takes (to make runs observable);
            a finite number of 0 or more, else `ConfigurationError`.

    .. versionadded:: 26.1.0
    """

    def __init__(
        self,
        records: Iterable[Record] = (),
        *,
        media: dict[str, bytes] | None = None,
        clock: Callable[[], datetime] = _now,
        latency: float = 0.0,
    ) -> None:
        self._records: dict[
            DataType, dict[Hashable, list[tuple[Record, datetime]]]
        ] = {}
        self.media = dict(media or {})
        self.clock = clock
        # A negative latency was taken as none, NaN failed every read.
        if (
            isinstance(latency, bool)
            or not isinstance(latency, int | float)
            or not 0 <= latency < math.inf
        ):
            raise ConfigurationError(
                f"MemoryErp latency must be a number of seconds, 0 or "
                f"more, got {latency!r}"
            )
        self.latency = latency
        self.orders: dict[str | tuple[str, str], Order] = {}
        self.customers: dict[str | tuple[str, str], Customer] = {}
        #: The platform that holds each customer key (None: unknown yet).
        self._customer_platforms: dict[str | tuple[str, str], str | None] = {}
        #: When the order of each key's customer was placed.
        self._customer_placed: dict[str | tuple[str, str], datetime] = {}
        #: The platform's ids of each customer key's customer (of its new
        #: orders'), as `TrytonErp` keeps them (``Customer.platform_id``).
        self._customer_ids: dict[str | tuple[str, str], set[str]] = {}
        #: Sessions open right now, and the most ever open at once.
        self.open_sessions = 0
        self.max_open_sessions = 0
        #: Orders whose import the ERP refuses, with its message.
        self.refuse_orders: dict[str | tuple[str, str], str] = {}
        #: The ERP's state of each imported order, by order number.  It is
        #: ``OPEN`` once imported (``CANCELLED`` for an order the shop
        #: cancelled); set ``OrderState.SHIPPED`` to ship the order.
        self.order_states: dict[str | tuple[str, str], OrderState] = {}
        self._closed = False
        #: `_articles_sold`, until the records change
        self._sold: set[str] | None = None
        for record in records:
            self.add(record)

    def __repr__(self) -> str:
        sizes = ", ".join(
            f"{t.value}={sum(map(len, r.values()))}"
            for t, r in self._records.items()
        )
        return f"<MemoryErp {sizes}>"

    def _rows(
        self, record: Record
    ) -> tuple[dict[Hashable, list[tuple[Record, datetime]]], Hashable]:
        kind = _KINDS.get(type(record))
        if kind is None:
            raise TypeError(_wrong_shape(record))
        self._sold = None
        identity: Hashable = record.number
        if isinstance(record, StockLevel):
            identity = (record.number, record.warehouse)
        return self._records.setdefault(kind, {}), identity

    def put(
        self, record: Record, *, changed_at: datetime | None = None
    ) -> None:
        """
        Add or change *record*, stamped *changed_at* (default: now): it
        replaces every record with its number (and warehouse, for stock).
        """
        rows, identity = self._rows(record)
        rows[identity] = [(record, self._stamp(record, changed_at))]

    def add(
        self, record: Record, *, changed_at: datetime | None = None
    ) -> None:
        """
        Add *record* as one more ERP record, even if its number is taken.

        .. versionadded:: 26.1.0
        """
        rows, identity = self._rows(record)
        rows.setdefault(identity, []).append(
            (record, self._stamp(record, changed_at))
        )

    def _stamp(self, record: Record, changed_at: datetime | None) -> datetime:
        # A naive stamp would fail the first ChangedSince read instead.
        return aware(
            changed_at or self.clock(),
            f"MemoryErp: the change time of {record.number!r}",
        )

    def remove(self, data_type: DataType, number: str) -> None:
        """
        Remove every record of *data_type* numbered *number*.
        """
        rows = self._records.get(data_type, {})
        self._sold = None
        for identity in [
            i for i, entries in rows.items() if entries[0][0].number == number
        ]:
            del rows[identity]

    def get(self, data_type: DataType, number: str) -> Record | None:
        """
        The (first) record of *data_type* numbered *number*.
        """
        for entries in self._records.get(data_type, {}).values():
            if entries[0][0].number == number:
                return entries[0][0]
        return None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[_MemorySession]:
        # After aclose(), a session raises ResourceClosed.
        self._ensure_open()
        self.open_sessions += 1
        self.max_open_sessions = max(
            self.max_open_sessions, self.open_sessions
        )
        try:
            yield _MemorySession(self)
        finally:
            self.open_sessions -= 1

    def _select(
        self, data_type: DataType, selection: Selection
    ) -> list[Record]:
        rows = self._records.get(data_type, {})
        if isinstance(selection, Only):
            wanted = self._widened(data_type, selection).numbers
            found = sorted(
                (
                    record
                    for entries in rows.values()
                    for record, _ in entries
                    if not wanted.isdisjoint(_claims(record))
                ),
                key=lambda r: _key(r.number),
            )
        else:
            found = sorted(
                (
                    record
                    for entries in rows.values()
                    for record, changed in entries
                    if selected(selection, record.number, changed)
                ),
                key=lambda r: _key(r.number),
            )
        if isinstance(selection, ChangedSince):
            # A change reads every record claiming one of the changed
            # records' numbers: a duplicate added later fails with the
            # record the shop holds instead of overwriting it unseen; and
            # an article's stock is one unit (a change in one warehouse
            # reads every warehouse's level of the article).
            numbers = {n for r in found for n in _claims(r)}
            found = sorted(
                (
                    record
                    for entries in rows.values()
                    for record, _ in entries
                    if not numbers.isdisjoint(_claims(record))
                ),
                key=lambda r: _key(r.number),
            )
        if data_type is DataType.CATEGORIES:
            # Parents before children, whatever their numbers say; the
            # members of a cycle come last, for the engine to refuse.
            categories = [r for r in found if isinstance(r, Category)]
            order, invalid = parents_first(categories)
            return [categories[i] for i in [*order, *sorted(invalid)]]
        return found

    def _widened(self, data_type: DataType, selection: Only) -> Only:
        """
        *selection*, for stock also naming the variants of the articles
        it names (as `TrytonErp` reads an article's number).  A record is
        then selected by any number it claims: an article by its own or
        a variant's, being pushed whole, with its variants.
        """
        if data_type is not DataType.STOCK:
            return selection
        variants = {
            variant.number
            for entries in self._records.get(DataType.ARTICLES, {}).values()
            for article, _ in entries
            if isinstance(article, Article)
            and article.number in selection.numbers
            for variant in article.variants
        }
        return Only(selection.numbers | variants)

    def _order_key(self, order: Order) -> str | tuple[str, str]:
        """
        Where *order* is kept: under its number unless another
        platform's order holds that (see the class docstring).
        """
        own = (order.platform, order.number) if order.platform else None
        if own is not None and own in self.orders:
            return own
        kept = self.orders.get(order.number)
        if own is None or kept is None or kept.platform in (None, own[0]):
            return order.number
        return own

    def _customer_key(self, order: Order) -> str | tuple[str, str]:
        number, platform = order.customer.number, order.platform
        holder = self._customer_platforms.get(number, platform)
        if platform is not None and holder not in (None, platform):
            return (platform, number)
        return number

    def _keep_customer(self, order: Order) -> None:
        key, at = self._customer_key(order), order.ordered_at
        if at >= self._customer_placed.get(key, at):  # an older one: kept
            self.customers[key] = order.customer
            self._customer_placed[key] = at
        if key == order.customer.number and order.platform is not None:
            self._customer_platforms[key] = order.platform

    def _articles_sold(self) -> set[str]:
        """
        The numbers an order line may name: an active article's without
        variants, and its variants' (as `TrytonErp` finds a line's
        product by its code, active ones only).
        """
        if self._sold is None:
            self._sold = self._sold_now()
        return self._sold

    def _sold_now(self) -> set[str]:
        return {
            number
            for entries in self._records.get(DataType.ARTICLES, {}).values()
            for article, _ in entries
            if isinstance(article, Article) and article.active
            for number in (
                [v.number for v in article.variants]
                if article.variants
                else [article.number]
            )
        }

    def _unknown_article(self, order: Order) -> Outcome | None:
        """
        The failure of a new *order* with a line naming no article the
        ERP sells (a host's test passed where `TrytonErp` refuses it).
        """
        sold = self._articles_sold()
        for i, line in enumerate(order.lines):
            if line.article_number not in sold:
                return Outcome(
                    number=order.number,
                    error=(
                        f"order {order.number}, line {i + 1}: the ERP has "
                        f"no active article {line.article_number!r}"
                    ),
                    field=f"lines.{i}.article_number",
                )
        return None

    def _import(self, order: Order) -> Outcome:
        if not order.customer.number.strip():
            # as TrytonErp: the customer is found by its number, so every
            # such order would be booked on the first one's customer
            return Outcome(
                number=order.number,
                error=(
                    f"order {order.number}: the customer has no customer "
                    f"number, by which the ERP finds the customer"
                ),
                field="customer.number",
            )
        key = self._order_key(order)
        refused = self.refuse_orders.get(
            key, self.refuse_orders.get(order.number)
        )
        if refused is not None:
            return Outcome(number=order.number, error=refused)
        sale = f"SO-{order.number}"
        if isinstance(key, tuple):
            sale = f"SO-{order.platform}-{order.number}"
        kept = self.orders.get(key)
        if kept is None:
            unknown = self._unknown_article(order)
            if unknown is not None:
                return unknown
            ids = self._customer_ids.setdefault(
                self._customer_key(order), set()
            )
            other = other_customer(order, ids)
            if other is not None:
                return Outcome(
                    number=order.number, error=other, field="customer.number"
                )
            if order.customer.platform_id is not None:
                ids.add(order.customer.platform_id)
        cancelled = order.state is OrderState.CANCELLED
        self._keep_customer(order)
        if kept is None:
            self.orders[key] = order
            self.order_states[key] = (
                OrderState.CANCELLED if cancelled else OrderState.OPEN
            )
            return Outcome(number=order.number, platform_id=sale)
        if kept.platform is None and order.platform is not None:
            # kept before its platform was known: now it is that one's
            self.orders[key] = kept = attrs.evolve(
                kept, platform=order.platform
            )
        state = self.order_states.setdefault(key, OrderState.OPEN)
        if cancelled and state is not OrderState.CANCELLED:
            if state in (OrderState.SHIPPED, OrderState.COMPLETED):
                return Outcome(
                    number=order.number,
                    error=(
                        f"order {order.number} was cancelled in the shop "
                        f"after the ERP order {sale} {state.value}: the ERP "
                        f"cannot cancel it; take the goods back and cancel "
                        f"or credit {sale} by hand"
                    ),
                    field="state",
                )
            self.order_states[key] = OrderState.CANCELLED
        elif state is OrderState.CANCELLED and not cancelled:
            return Outcome(
                number=order.number,
                error=(
                    f"order {order.number} is {order.state.value} in the "
                    f"shop again, but the ERP order {sale} was cancelled "
                    f"for it: reopen {sale} by hand or cancel the order in "
                    f"the shop again"
                ),
                field="state",
            )
        elif not cancelled:
            field = _changed_field(kept, order)
            if field is not None:
                return Outcome(
                    number=order.number,
                    error=(
                        f"order {order.number} changed in the shop after "
                        f"it was imported ({field}); the ERP order {sale} "
                        f"still holds the order as imported: change {sale} "
                        f"by hand"
                    ),
                    field=field,
                )
        return Outcome(number=order.number, platform_id=sale)


def _changed_field(kept: Order, order: Order) -> str | None:
    """
    The first field (a dotted path) in which *order* differs from *kept*,
    the order as the ERP holds it.  Its state does not count, nor its
    customer (the customer's record, kept apart, follows the shop).
    """
    for name in ("billing", "shipping"):
        old, new = getattr(kept, name), getattr(order, name)
        for field in attrs.fields(Address):
            if getattr(old, field.name) != getattr(new, field.name):
                return f"{name}.{field.name}"
    if kept.currency != order.currency:
        return "currency"
    if len(kept.lines) != len(order.lines):
        return "lines"
    for i, (old_line, new_line) in enumerate(
        zip(kept.lines, order.lines, strict=True)
    ):
        for field in attrs.fields(type(old_line)):
            if getattr(old_line, field.name) != getattr(new_line, field.name):
                return f"lines.{i}.{field.name}"
    for name in ("shipping_total", "discount_total", "total"):
        if getattr(kept, name) != getattr(order, name):
            return name
    return None


@attrs.define
class _MemorySession:
    _erp: MemoryErp

    async def read(
        self,
        data_type: DataType,
        selection: Selection,
        *,
        batch_size: int,
        platform: str | None = None,
        exclude: Container[str] | None = None,
    ) -> AsyncIterator[Sequence[Record]]:
        rows = self._select(data_type, selection, platform)
        if exclude is not None and data_type is DataType.STOCK:
            rows = without_single(rows, exclude)
        for start in range(0, len(rows), batch_size):
            await anyio.sleep(self._erp.latency)
            yield rows[start : start + batch_size]

    async def count(
        self,
        data_type: DataType,
        selection: Selection,
        *,
        platform: str | None = None,
    ) -> int | None:
        return len(self._select(data_type, selection, platform))

    def _select(
        self, data_type: DataType, selection: Selection, platform: str | None
    ) -> list[Record]:
        rows = self._erp._select(data_type, selection)
        if platform is not None and data_type is DataType.ORDER_STATUS:
            # a number's statuses are weighed together: rows holds them all
            rows = own_statuses(rows, platform)
        return rows

    async def read_media(self, ref: MediaRef) -> bytes:
        try:
            return self._erp.media[ref.key]
        except KeyError:
            raise SyncError(f"the ERP has no file {ref.key!r}") from None

    async def import_orders(self, orders: Sequence[Order]) -> list[Outcome]:
        await anyio.sleep(self._erp.latency)
        outcomes = []
        for order in orders:
            bad = problems(order)
            if bad:
                outcomes.append(
                    Outcome(
                        number=order.number,
                        error=bad[0].reason,
                        field=bad[0].field,
                    )
                )
            else:
                outcomes.append(self._erp._import(order))
        return outcomes
