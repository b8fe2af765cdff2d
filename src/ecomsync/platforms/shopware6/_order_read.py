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
from ._keyset import ORDERS, Cursor, read_all
from ._order_mapping import (
    ORDER_ASSOCIATIONS,
    ORDER_INCLUDES,
    order_from,
    range_prefilter,
    shopware_time,
)


#: The terms aggregation of `_look_up`: how many orders hold each number.
_NUMBERS = "ecomsync-numbers"


def _look_up(numbers: list[str]) -> dict[str, Any]:
    """
    An aggregation of how many orders of the shop hold each of *numbers*
    (a ``terms`` on ``orderNumber`` inside a ``filter`` aggregation on
    them), for an order page's search to carry.  Shopware computes an
    aggregation over the criteria's ``filter`` and never its
    ``post-filter`` (EntityAggregator::fetchAggregation resets them), and
    a ``filter`` aggregation adds its own (parseFilterAggregation): with
    the page's filter as ``post-filter`` the aggregation sees every order
    of the shop holding one of *numbers*, found by the column's index,
    not the page's.  A ``filter`` aggregation answers under its inner
    aggregation's name (JsonType::createListingResponse).
    """
    return {
        "name": "ecomsync-numbers-of",
        "type": "filter",
        "filter": [
            {"type": "equalsAny", "field": "orderNumber", "value": numbers}
        ],
        "aggregation": {
            "name": _NUMBERS,
            "type": "terms",
            "field": "orderNumber",
        },
    }


def _text(row: Mapping[str, Any]) -> str:
    """
    Order *row*'s number as the read compares it (``"None"`` without).
    """
    return str(row.get("orderNumber"))


def _numbers(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """
    The numbers of *rows* (`_text`), each once, in their order.
    """
    return list(dict.fromkeys(_text(r) for r in rows))


@attrs.define
class _Waiting:
    """
    The order rows of the page read last, waiting for the look-up of
    their numbers, which the next page's search carries (`_look_up`),
    and the numbers of the read refused already.
    """

    rows: list[dict[str, Any]] = attrs.Factory(list)
    #: How many orders hold each number of `rows`, as the search carrying
    #: their look-up answered (``None`` until one did).
    held: dict[str, int] | None = None
    refused: set[str] = attrs.Factory(set)

    def numbers(self) -> list[str]:
        """
        The numbers of `rows` to look up: those not refused already.
        """
        return [n for n in _numbers(self.rows) if n not in self.refused]

    def answer(self, aggregations: Mapping[str, Any]) -> None:
        """
        Note the counts of a search that carried `rows`' look-up; a
        search whose answer has none leaves `held` ``None`` (the numbers
        are looked up on their own then).
        """
        result = aggregations.get(_NUMBERS)
        buckets = result.get("buckets") if isinstance(result, dict) else None
        if not isinstance(buckets, list):
            return
        held: dict[str, int] = {}
        for bucket in buckets:
            if isinstance(bucket, dict) and type(bucket.get("count")) is int:
                held[str(bucket.get("key"))] = bucket["count"]
        self.held = held

    def take(self) -> tuple[list[dict[str, Any]], dict[str, int] | None]:
        """
        `rows` and `held`, no longer waiting.
        """
        taken = self.rows, self.held
        self.rows, self.held = [], None
        return taken


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
        another customer of the read holds (`_Customers`).  Each page is
        yielded once the next page's search has looked up its numbers
        (`_look_up`): a read sends no request of its own for them but
        after its last page.
        """
        waiting = _Waiting()
        customers = _Customers()
        limit = max(1, min(batch_size, MAX_LIMIT))
        filters: list[dict[str, Any]] = []
        exact: Callable[[str], bool] = lambda _: True  # noqa: E731
        pages: AsyncIterator[list[dict[str, Any]]] | None = None
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
                pages = self._fetch_only(numbers, limit, waiting)
            else:
                filters.append(
                    {
                        "type": "equalsAny",
                        "field": "orderNumber",
                        "value": numbers,
                    }
                )
        elif not isinstance(selection, All):  # pragma: no cover
            raise TypeError(f"unknown selection {selection!r}")
        if pages is None:
            pages = self._pages(filters, limit, waiting)
        while True:
            # A page that fails raises at once: the page before it waits
            # for this page's look-up and is not handed on.  Looking its
            # numbers up on their own first cost a down shop a second
            # round of retries before the read failed, for nothing: the
            # run fails, and the next reads it again from the watermark.
            try:
                rows = await anext(pages)
            except StopAsyncIteration:
                break
            ready, held = waiting.take()
            if ready:
                handed = await self._handed(ready, held, waiting.refused)
                yield customers.refusals(handed, ready)
            waiting.rows = [r for r in rows if exact(_text(r))]
        rest = await self._rest(waiting, customers)
        if rest:
            yield rest

    async def _rest(
        self, waiting: _Waiting, customers: _Customers
    ) -> list[Order | Refusal]:
        """
        The rows *waiting* handed on, their numbers looked up on their
        own (no page is read after them to carry it).
        """
        ready, _ = waiting.take()
        if not ready:
            return []
        handed = await self._handed(ready, None, waiting.refused)
        return customers.refusals(handed, ready)

    async def _handed(
        self,
        rows: list[dict[str, Any]],
        held: dict[str, int] | None,
        refused: set[str],
    ) -> list[Order | Refusal]:
        """
        *rows* as orders, but a `Refusal` on ``number`` for each number
        another order of the shop holds too (once per read, in *refused*;
        a row of a number refused already is left out): Shopware does
        not keep order numbers unique (a number range reset, orders
        imported from another system), and the ERP imports an order by
        its number, so the second order would be taken for an edit of
        the first (or, alike, for the first itself).  *held* is how many
        orders hold each number, as the next page's search counted them
        (`_look_up`); a number it does not count once (held twice, or
        not as written: the column's collation folds case) and every
        number without *held* are looked up by ``orderNumber
        equalsAny``, which the column's index answers (counting the
        whole shop's numbers instead, b46f0de, cost seconds of the
        shop's database per page at a million orders), and refused
        naming every order holding it.
        """
        numbers = [
            n
            for n in _numbers(rows)
            if n not in refused and (held is None or held.get(n) != 1)
        ]
        holders: dict[str, set[str]] = {}
        for start in range(0, len(numbers), MAX_LIMIT):
            for row in await self._holders(numbers[start : start + MAX_LIMIT]):
                holders.setdefault(str(row.get("orderNumber")), set()).add(
                    str(row.get("id"))
                )
        handed: list[Order | Refusal] = []
        for row in rows:
            number = str(row.get("orderNumber"))
            if number in refused:
                continue
            ids = holders.get(number, set()) | {str(row.get("id"))}
            if len(ids) < 2:
                handed.append(order_from(row))
                continue
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
        key (`read_all`: by page number, an order deleted meanwhile hid
        another holder, and a number two orders hold passed as one
        order's); a full page of orders whose numbers no other order
        holds costs one request, not a second, empty page.
        """
        return await read_all(
            self.api,
            "order",
            {
                "filter": [
                    {
                        "type": "equalsAny",
                        "field": "orderNumber",
                        "value": numbers,
                    }
                ],
                "includes": {"order": ["id", "orderNumber"]},
            },
            ORDERS,
        )

    async def _fetch_only(
        self, numbers: list[str], limit: int, waiting: _Waiting
    ) -> AsyncIterator[list[dict[str, Any]]]:
        for start in range(0, len(numbers), MAX_LIMIT):
            part = numbers[start : start + MAX_LIMIT]
            flt = [
                {"type": "equalsAny", "field": "orderNumber", "value": part}
            ]
            async for batch in self._pages(flt, limit, waiting):
                yield batch

    async def _pages(
        self, filters: list[dict[str, Any]], limit: int, waiting: _Waiting
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """
        The pages of order rows matching *filters*, in the order of
        (``createdAt``, ``orderNumber``, ``id``), one after another up to
        the first short one, each next page asked as the rows after the
        last one read (`ORDERS.after`), not by its number: an order deleted in
        the shop meanwhile would move a later row onto a page already
        read (by number, that order skipped; the next ChangedSince read
        starts later, so never imported), and an old order edited
        meanwhile joins before the rows read, not into the next page (the
        next read has it: it changed after this one began).  Each search
        carries the look-up of the rows *waiting* (`_look_up`); an empty
        page is yielded too, for its answer to it.
        """
        after: Cursor | None = None
        while True:
            keyset = (
                filters if after is None else [*filters, ORDERS.after(after)]
            )
            rows = await self._page(keyset, limit, waiting)
            yield rows
            if len(rows) < limit:
                return
            after = ORDERS.next(rows, after)

    async def _page(
        self, filters: list[dict[str, Any]], limit: int, waiting: _Waiting
    ) -> list[dict[str, Any]]:
        """
        The first *limit* orders matching *filters*, by (``createdAt``,
        ``orderNumber``, ``id``), the search carrying the look-up of the
        numbers *waiting* (its answer noted there).  Shopware searches by
        ``filter`` and ``post-filter`` alike (CriteriaQueryBuilder::build
        joins them), so the rows are the same either way.
        """
        criteria: dict[str, Any] = {
            "limit": limit,
            "page": 1,
            "sort": ORDERS.sort(),
            "associations": ORDER_ASSOCIATIONS,
            "includes": ORDER_INCLUDES,
        }
        numbers = waiting.numbers()
        if numbers:
            criteria["aggregations"] = [_look_up(numbers)]
        if filters:
            criteria["post-filter" if numbers else "filter"] = filters
        body = (
            await self.api.call(
                "POST", "/api/search/order", json=criteria, idempotent=True
            )
        ).json()
        if not isinstance(body, dict):
            return []
        if numbers and isinstance(body.get("aggregations"), dict):
            waiting.answer(body["aggregations"])
        data = body.get("data")
        return [row for row in data or [] if isinstance(row, dict)]


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
