"""
Reading orders: paged by a stable sort, with customers, addresses,
lines, deliveries and transactions, and an order whose number another
order of the shop holds too refused (`Refusal`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from typing import Any

import attrs

from ..._anyio_util import concurrently
from ..._contracts import Refusal
from ..._model import Order
from ..._spec import All, ChangedSince, NumberRange, Only, Selection
from ._client import MAX_LIMIT, AdminApi
from ._order_mapping import (
    ORDER_ASSOCIATIONS,
    ORDER_INCLUDES,
    order_from,
    range_prefilter,
    shopware_time,
)


#: Counts the orders an order-number look-up finds (`OrderReader._holders`).
_HOLDERS: dict[str, str] = {
    "name": "ecomsync-holders",
    "type": "count",
    "field": "id",
}


#: Pages of orders read at once once the first page told the total.
PAGES_AHEAD = 4


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
        `Refusal` (`_handed`).
        """
        refused: set[str] = set()
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
                    yield await self._handed(rows, refused)
                return
            filters.append(
                {"type": "equalsAny", "field": "orderNumber", "value": numbers}
            )
        elif not isinstance(selection, All):  # pragma: no cover
            raise TypeError(f"unknown selection {selection!r}")
        async for rows in self._pages(filters, limit):
            chosen = [r for r in rows if exact(str(r.get("orderNumber")))]
            if chosen:
                yield await self._handed(chosen, refused)

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
        The pages of order rows matching *filters*, in sort order, up to the
        first short one (as one after another would read them).  The first
        page asks for the total; the pages it implies, up to the one that
        comes back short, are then read `PAGES_AHEAD` at a time (the shop
        works on them together), the rest one by one.
        """
        rows, total = await self._page(filters, limit, 1, count=True)
        if rows:
            yield rows
        if len(rows) < limit:
            return
        page = 2
        # the page that comes back short by the count (possibly empty)
        last = total // limit + 1 if total is not None else page
        while page <= last:
            window = range(page, min(last, page + PAGES_AHEAD - 1) + 1)
            found = await self._window(filters, limit, window)
            for rows in found:
                if rows:
                    yield rows
            if any(len(rows) < limit for rows in found):
                return
            page = window[-1] + 1
        while True:  # more orders than counted (placed meanwhile)
            rows, _ = await self._page(filters, limit, page)
            if rows:
                yield rows
            if len(rows) < limit:
                return
            page += 1

    async def _window(
        self, filters: list[dict[str, Any]], limit: int, pages: range
    ) -> list[list[dict[str, Any]]]:
        """
        *pages* read at once, in their order; the first failure cancels
        the others and is raised as itself.
        """
        found: dict[int, list[dict[str, Any]]] = {}

        async def one(page: int) -> None:
            found[page], _ = await self._page(filters, limit, page)

        await concurrently(*(partial(one, page) for page in pages))
        return [found[page] for page in pages]

    async def _page(
        self,
        filters: list[dict[str, Any]],
        limit: int,
        page: int,
        *,
        count: bool = False,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """
        One page of orders, and with *count* the shop's total of matching
        orders (``None`` if it gives none).  Only a read's first page
        counts (to read ahead): an exact total is a ``COUNT`` over every
        matching order, about a second at a million orders.
        """
        criteria: dict[str, Any] = {
            "limit": limit,
            "page": page,
            "sort": [
                {"field": "createdAt", "order": "ASC"},
                {"field": "id", "order": "ASC"},
            ],
            "associations": ORDER_ASSOCIATIONS,
            "includes": ORDER_INCLUDES,
        }
        if filters:
            criteria["filter"] = filters
        if count:
            criteria["total-count-mode"] = 1  # exact
        body = (
            await self.api.call(
                "POST", "/api/search/order", json=criteria, idempotent=True
            )
        ).json()
        data = body.get("data") if isinstance(body, dict) else None
        total = body.get("total") if isinstance(body, dict) else None
        rows = [row for row in data or [] if isinstance(row, dict)]
        return rows, total if type(total) is int and count else None
