"""
The Vendure adapter's order reads page by the last order read, without
a server: an order leaving or joining the read's filter between two
pages neither hides another order nor repeats one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import anyio
import anyio.lowlevel
import pytest

from ecomsync import All, ChangedSince
from ecomsync._spec import Selection
from ecomsync.platforms.vendure._client import GraphQL
from ecomsync.platforms.vendure._orders import Orders


pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _order(
    oid: int, placed: datetime, updated: datetime | None = None
) -> dict[str, Any]:
    def iso(moment: datetime) -> str:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # PostgreSQL keeps microseconds (kept in "_placed"); the API answers
    # milliseconds
    return {
        "_placed": placed,
        "id": str(oid),
        "code": f"V{oid:04d}",
        "state": "PaymentSettled",
        "active": False,
        "orderPlacedAt": iso(placed),
        "updatedAt": iso(updated or placed),
        "currencyCode": "EUR",
        "totalWithTax": 1000,
        "lines": [],
    }


class FakeShop:
    """
    The part of Vendure's ``orders(options:)`` the adapter asks for:
    filters (``eq``, ``isNull``, ``after``, ``in``, ``notIn``, ANDed),
    the sort by its keys in order, ``skip``/``take``, ``totalItems``.
    *between(n)* runs after the n-th page is answered.
    """

    def __init__(
        self,
        orders: list[dict[str, Any]],
        between: Callable[[int, list[dict[str, Any]]], None],
    ) -> None:
        self.orders = orders
        self.between = between
        self.pages = 0

    @staticmethod
    def _holds(order: dict[str, Any], field: str, ops: dict[str, Any]) -> bool:
        value = order.get(field)
        stored = order["_placed"] if field == "orderPlacedAt" else None
        for op, arg in ops.items():
            if op == "eq" and value != arg:
                return False
            if op == "isNull" and (value is None) != arg:
                return False
            if op == "after" and not (
                value is not None and (stored or _when(value)) > _when(arg)
            ):
                return False
            if op == "in" and value not in arg:
                return False
            if op == "notIn" and value in arg:
                return False
        return True

    async def query(
        self,
        document: str,
        variables: dict[str, Any],
        *,
        channel: str | None = None,
    ) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()  # a server is awaited
        options = variables["options"]
        rows = [
            o
            for o in self.orders
            if all(
                self._holds(o, f, ops) for f, ops in options["filter"].items()
            )
        ]
        for key in reversed(list(options.get("sort", {}))):
            rows.sort(
                key=lambda o, k=key: (
                    int(o[k])
                    if k == "id"
                    else o["_placed"]
                    if k == "orderPlacedAt"
                    else _when(o[k])
                )
            )
        skip = options.get("skip", 0)
        items = rows[skip : skip + options["take"]]
        self.pages += 1
        self.between(self.pages, self.orders)
        return {"orders": {"totalItems": len(rows), "items": items}}


async def _read(shop: FakeShop, selection: Selection, size: int) -> list[str]:
    async def precision() -> int:
        return 2

    orders = Orders(gql=cast(GraphQL, shop), precision=precision)
    return [
        o.number
        async for batch in orders.fetch(selection, size)
        for o in batch
    ]


def _ten() -> list[dict[str, Any]]:
    return [_order(i, T0 + timedelta(minutes=i)) for i in range(1, 11)]


async def test_an_order_leaving_the_filter_hides_no_other() -> None:
    """An order read on page 1 and gone before page 2 skips none after it."""

    def gone(page: int, orders: list[dict[str, Any]]) -> None:
        if page == 1:
            orders[:] = [o for o in orders if o["id"] != "2"]

    numbers = await _read(FakeShop(_ten(), gone), All(), 3)
    assert numbers == [f"V{i:04d}" for i in range(1, 11)]


async def test_an_order_joining_before_the_last_read_repeats_none() -> None:
    """An old order changed during a ChangedSince read repeats no other."""
    since = T0 + timedelta(days=1)
    orders = [
        _order(i, T0 + timedelta(minutes=i), since + timedelta(minutes=i))
        for i in range(1, 11)
    ]
    orders.insert(0, _order(0, T0 - timedelta(days=3)))

    def touched(page: int, rows: list[dict[str, Any]]) -> None:
        if page == 1:
            rows[0]["updatedAt"] = rows[-1]["updatedAt"]

    numbers = await _read(FakeShop(orders, touched), ChangedSince(since), 4)
    # the old order joined before the orders read: the next ChangedSince
    # read (it changed after this one began) has it
    assert numbers == [f"V{i:04d}" for i in range(1, 11)]


async def test_orders_placed_in_one_millisecond_are_all_read_once() -> None:
    """Pages ending inside a run of equal placement times lose none."""
    orders = [_order(i, T0) for i in range(1, 8)]
    orders += [_order(i, T0 + timedelta(milliseconds=1)) for i in (8, 9)]
    shop = FakeShop(orders, lambda page, rows: None)
    numbers = await _read(shop, All(), 2)
    assert numbers == [f"V{i:04d}" for i in range(1, 10)]
    # one request a page, the last one short
    assert shop.pages == 5


async def test_orders_placed_microseconds_apart_are_read_once_each() -> None:
    """Pages ending inside one millisecond (microseconds apart) repeat
    no order and lose none."""
    orders = [
        _order(i, T0 + timedelta(microseconds=10 * (9 - i)))
        for i in range(1, 8)
    ]
    orders += [
        _order(i, T0 + timedelta(milliseconds=1, microseconds=5))
        for i in (8, 9)
    ]
    orders.append(_order(10, T0 - timedelta(microseconds=1)))
    shop = FakeShop(orders, lambda page, rows: None)
    with anyio.fail_after(10):  # before: the read paged on for ever
        numbers = await _read(shop, All(), 2)
    assert numbers == [f"V{i:04d}" for i in (10, 7, 6, 5, 4, 3, 2, 1, 8, 9)]
    # one request a page
    assert shop.pages == 5


async def test_a_full_last_page_asks_no_more() -> None:
    """A read whose orders fill its pages exactly ends with the last one."""
    shop = FakeShop(_ten()[:6], lambda page, rows: None)
    numbers = await _read(shop, All(), 3)
    assert len(numbers) == 6
    assert shop.pages == 2
