"""
Reading orders: paged by a stable sort, each page the rows after the
last one read, with customers, addresses, lines, deliveries and
transactions, and an order whose number another
order of the shop holds too refused (`Refusal`), and so an order whose
customer number another customer of the read holds too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import attrs

from ..._contracts import Refusal
from ..._model import Order
from ..._spec import All, ChangedSince, NumberRange, Only, Selection
from ._client import MAX_LIMIT, AdminApi
from ._order_mapping import (
    ORDER_ASSOCIATIONS,
    ORDER_INCLUDES,
    order_from,
    parse_time,
    range_prefilter,
    shopware_time,
)


#: Counts the orders an order-number look-up finds (`OrderReader._holders`).
_HOLDERS: dict[str, str] = {
    "name": "ecomsync-holders",
    "type": "count",
    "field": "id",
}


@attrs.frozen
class OrderReader:
    """
    The order read of one `Shopware6`.
    """

    api: AdminApi

    async def fetch(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order | Refusal]]:
        """
        Yield the selected orders with customer, addresses, line items,
        deliveries and transactions, paged by a stable sort; an order
        whose number another order of the shop holds too, as a
        `Refusal` (`_handed`), and so an order whose customer number
        another customer of the read holds (`_Customers`).
        """
        refused: set[str] = set()
        customers = _Customers()
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
                async for rows in self._fetch_only(numbers, limit):
                    handed = await self._handed(rows, refused)
                    yield customers.refusals(handed, rows)
                return
            filters.append(
                {"type": "equalsAny", "field": "orderNumber", "value": numbers}
            )
        elif not isinstance(selection, All):  # pragma: no cover
            raise TypeError(f"unknown selection {selection!r}")
        async for rows in self._pages(filters, limit):
            chosen = [r for r in rows if exact(str(r.get("orderNumber")))]
            if chosen:
                handed = await self._handed(chosen, refused)
                yield customers.refusals(handed, chosen)

    async def _handed(
        self, rows: list[dict[str, Any]], refused: set[str]
    ) -> list[Order | Refusal]:
        """
        *rows* as orders, but a `Refusal` on ``number`` for each number
        another order of the shop holds too (once per read, in *refused*):
        Shopware does not keep order numbers unique (a number range
        reset, orders imported from another system), and the ERP imports
        an order by its number, so the second order would be taken for
        an edit of the first (or, alike, for the first itself).  Each
        page's numbers are looked up by ``orderNumber equalsAny``, which
        the column's index answers (counting the whole shop's numbers
        instead, b46f0de, cost seconds of the shop's database per page
        at a million orders).
        """
        numbers = list(dict.fromkeys(str(r.get("orderNumber")) for r in rows))
        held: dict[str, set[str]] = {}
        for start in range(0, len(numbers), MAX_LIMIT):
            for row in await self._holders(numbers[start : start + MAX_LIMIT]):
                held.setdefault(str(row.get("orderNumber")), set()).add(
                    str(row.get("id"))
                )
        handed: list[Order | Refusal] = []
        for row in rows:
            number = str(row.get("orderNumber"))
            ids = held.get(number, set()) | {str(row.get("id"))}
            if len(ids) < 2:
                handed.append(order_from(row))
            elif number not in refused:
                refused.add(number)
                handed.append(
                    Refusal(
                        number=number,
                        field="number",
                        reason=(
                            f"order number {number} is held by {len(ids)} "
                            f"Shopware orders ({', '.join(sorted(ids))}): "
                            f"not imported, the ERP knows an order by its "
                            f"number and could not tell them apart; give "
                            f"each its own number in Shopware (and the sales "
                            f"channels number ranges that do not overlap)"
                        ),
                    )
                )
        return handed

    async def _holders(self, numbers: list[str]) -> list[dict[str, Any]]:
        """
        Every order holding one of *numbers* (ids and numbers), paged by
        `MAX_LIMIT` until the count the first page gives is read: a full
        page of orders whose numbers no other order holds costs one
        request, not a second, empty page (without the count, until a
        page comes back short).
        """
        found: list[dict[str, Any]] = []
        total: int | None = None
        page = 1
        while True:
            criteria: dict[str, Any] = {
                "filter": [
                    {
                        "type": "equalsAny",
                        "field": "orderNumber",
                        "value": numbers,
                    }
                ],
                "includes": {"order": ["id", "orderNumber"]},
                "sort": [{"field": "id", "order": "ASC"}],
                "limit": MAX_LIMIT,
                "page": page,
            }
            if page == 1:
                criteria["aggregations"] = [_HOLDERS]
            rows, aggregations = await self.api.listing("order", criteria)
            found += rows
            if page == 1:
                counted = aggregations.get(_HOLDERS["name"])
                count = (counted or {}).get("count")
                total = count if type(count) is int else None
            if len(rows) < MAX_LIMIT or (
                total is not None and len(found) >= total
            ):
                return found
            page += 1

    async def _fetch_only(
        self, numbers: list[str], limit: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        for start in range(0, len(numbers), MAX_LIMIT):
            part = numbers[start : start + MAX_LIMIT]
            flt = [
                {"type": "equalsAny", "field": "orderNumber", "value": part}
            ]
            async for batch in self._pages(flt, limit):
                yield batch

    async def _pages(
        self, filters: list[dict[str, Any]], limit: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """
        The pages of order rows matching *filters*, in the order of
        (``createdAt``, ``orderNumber``, ``id``), one after another up to
        the first short one, each next page asked as the rows after the
        last one read (`_after`), not by its number: an order deleted in
        the shop meanwhile would move a later row onto a page already
        read (by number, that order skipped; the next ChangedSince read
        starts later, so never imported), and an old order edited
        meanwhile joins before the rows read, not into the next page (the
        next read has it: it changed after this one began).
        """
        after: _Cursor | None = None
        while True:
            keyset = filters if after is None else [*filters, _after(after)]
            rows = await self._page(keyset, limit)
            if rows:
                yield rows
            if len(rows) < limit:
                return
            key = _key(rows[-1])
            ids = [str(r.get("id")) for r in rows if _key(r) == key]
            if after is not None and _key_of(after) == key:
                ids = [*after.ids, *ids]
            created, number = _created(rows[-1]), _number(rows[-1])
            after = _Cursor(created, number, ids)

    async def _page(
        self, filters: list[dict[str, Any]], limit: int
    ) -> list[dict[str, Any]]:
        """
        The first *limit* orders matching *filters*, by (``createdAt``,
        ``orderNumber``, ``id``).
        """
        criteria: dict[str, Any] = {
            "limit": limit,
            "page": 1,
            "sort": [
                {"field": "createdAt", "order": "ASC"},
                {"field": "orderNumber", "order": "ASC"},
                {"field": "id", "order": "ASC"},
            ],
            "associations": ORDER_ASSOCIATIONS,
            "includes": ORDER_INCLUDES,
        }
        if filters:
            criteria["filter"] = filters
        body = (
            await self.api.call(
                "POST", "/api/search/order", json=criteria, idempotent=True
            )
        ).json()
        data = body.get("data") if isinstance(body, dict) else None
        return [row for row in data or [] if isinstance(row, dict)]


def _created(row: Mapping[str, Any]) -> str:
    """
    Order *row*'s ``createdAt`` as Shopware stores it (``DATETIME(3)``,
    UTC ``Y-m-d H:i:s.v``), to compare it with in a filter.
    """
    return shopware_time(parse_time(row.get("createdAt")))


@attrs.frozen
class _Cursor:
    """
    The last order row a page read: its ``createdAt`` (`_created`), its
    order number (``None`` without one) and the ids read at both.
    """

    created: str
    number: str | None
    ids: list[str]


def _number(row: Mapping[str, Any]) -> str | None:
    """
    Order *row*'s number, ``None`` without one (``order_number`` is
    nullable: an order written through the API may have none).
    """
    number = row.get("orderNumber")
    return None if number is None else str(number)


def _key(row: Mapping[str, Any]) -> tuple[str, str | None]:
    """
    Where order *row* sorts: its ``createdAt`` and its number roughly as
    ``utf8mb4_unicode_ci`` compares it (case and trailing spaces
    ignored), so that rows the shop takes for equal numbers are all
    among the ids `_after` leaves out (a row it takes for equal but this
    does not is read twice, never skipped).
    """
    number = _number(row)
    folded = None if number is None else number.casefold().rstrip(" ")
    return _created(row), folded


def _key_of(cursor: _Cursor) -> tuple[str, str | None]:
    """
    `_key` of the row *cursor* was taken from.
    """
    return _key({"createdAt": cursor.created, "orderNumber": cursor.number})


def _after(cursor: _Cursor) -> dict[str, Any]:
    """
    The orders after those read in (``createdAt``, ``orderNumber``,
    ``id``) order: created later; or at the same moment with a later
    number; or with the same moment and number but not one of the ids
    read at both.  A keyset on ``createdAt`` and ``id`` alone (7b97204)
    had to leave out every id read at one moment, and orders imported
    in bulk share a millisecond: at 30,000 of them the last page's
    request was about 1 MB (nginx's default ``client_max_body_size``:
    413, the read failed).  The ids left out now are those of orders
    sharing a moment and a number, which the read refuses anyway
    (`OrderReader._handed`): one, in a sane shop.

    Not a ``range`` on ``id``: Shopware's DAL compares a range's
    parameter with the column as given (SqlQueryParser::parseRangeFilter)
    and an id column holds bytes, not the hex an id is written in
    (``equalsAny`` converts).  Not the ``autoIncrement`` column either:
    OrderDefinition declares it without ``ApiAware``, so the Admin API
    refuses it in a criteria (ApiCriteriaValidator: ApiProtectionException)
    and leaves it out of rows.  Ranges on ``createdAt`` (``DATETIME(3)``)
    and ``orderNumber`` (``VARCHAR``, compared under the column's
    collation, as the sort is) compare exactly with values in the form
    Shopware stores.  MySQL sorts a ``NULL`` number first.
    """
    moment = {
        "type": "range",
        "field": "createdAt",
        "parameters": {"gte": cursor.created, "lte": cursor.created},
    }
    without = {"type": "equals", "field": "orderNumber", "value": None}
    later_number: dict[str, Any] = (
        {"type": "not", "operator": "and", "queries": [without]}
        if cursor.number is None
        else {
            "type": "range",
            "field": "orderNumber",
            "parameters": {"gt": cursor.number},
        }
    )
    same_number: dict[str, Any] = (
        without
        if cursor.number is None
        else {"type": "equals", "field": "orderNumber", "value": cursor.number}
    )
    return {
        "type": "multi",
        "operator": "or",
        "queries": [
            {
                "type": "range",
                "field": "createdAt",
                "parameters": {"gt": cursor.created},
            },
            {
                "type": "multi",
                "operator": "and",
                "queries": [moment, later_number],
            },
            {
                "type": "multi",
                "operator": "and",
                "queries": [
                    moment,
                    same_number,
                    {
                        "type": "not",
                        "operator": "and",
                        "queries": [
                            {
                                "type": "equalsAny",
                                "field": "id",
                                "value": cursor.ids,
                            }
                        ],
                    },
                ],
            },
        ],
    }


#: Customer numbers a read remembers the first customer of (the oldest
#: forgotten beyond): about 9 MB at 8-character numbers and Shopware's
#: 32-hex ids (tracemalloc), whatever the read's size.
REMEMBERED_CUSTOMERS = 50_000


@attrs.define
class _Customers:
    """
    The customers of one read's orders by customer number: each number's
    first customer id (the latest `REMEMBERED_CUSTOMERS` numbers), and
    every id of a number two customers hold.
    """

    first: dict[str, str] = attrs.Factory(dict)
    shared: dict[str, set[str]] = attrs.Factory(dict)

    def note(self, number: str, customer_id: str) -> None:
        """
        Remember that *customer_id* holds *number*.
        """
        if number in self.shared:
            self.shared[number].add(customer_id)
            return
        held = self.first.get(number)
        if held is None:
            if len(self.first) >= REMEMBERED_CUSTOMERS:
                del self.first[next(iter(self.first))]
            self.first[number] = customer_id
        elif held != customer_id:
            self.shared[number] = {held, customer_id}

    def refusals(
        self, handed: list[Order | Refusal], rows: list[dict[str, Any]]
    ) -> list[Order | Refusal]:
        """
        *handed*, but a `Refusal` on ``customer.number`` for each order
        whose customer number two Shopware customers of the read hold:
        Shopware keeps no customer number unique (no unique index on
        ``customer.customer_number``; a number typed in the
        administration or imported is taken as given), and the ERP finds
        an order's customer by its number, so one customer's order would
        be booked onto the other's customer (invoices, addresses).  Both
        customers' orders on one page fail; of two pages, the later
        one's (the earlier is handed on).  Costs no request: the ids come
        with the orders.
        """
        keys = {str(r.get("orderNumber")): _customer_key(r) for r in rows}
        for key in keys.values():
            if key is not None:
                self.note(*key)
        out: list[Order | Refusal] = []
        for item in handed:
            key = keys.get(item.number) if isinstance(item, Order) else None
            ids = self.shared.get(key[0]) if key is not None else None
            if key is None or ids is None:
                out.append(item)
                continue
            out.append(
                Refusal(
                    number=item.number,
                    field="customer.number",
                    reason=(
                        f"customer number {key[0]} is held by {len(ids)} "
                        f"Shopware customers ({', '.join(sorted(ids))}): "
                        f"order not imported, the ERP finds a customer by "
                        f"its number and would book it onto the other "
                        f"customer; give each customer its own number in "
                        f"Shopware"
                    ),
                )
            )
        return out


def _customer_key(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """
    The customer number and customer id of order *row*'s customer, or
    ``None`` without either (the customer deleted since).
    """
    customer = row.get("orderCustomer")
    if not isinstance(customer, dict):
        return None
    number = customer.get("customerNumber")
    customer_id = customer.get("customerId")
    if not number or not customer_id:
        return None
    return str(number), str(customer_id)
