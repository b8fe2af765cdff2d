"""
The platform contract's order tests: `fetch_orders` by each selection,
paged without loss, and a fetched order whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from ..._model import Order
from ..._record_checks import problems
from ..._spec import All, ChangedSince, NumberRange, Only, Selection
from ._base import ContractBase
from ._records import NOW, make_order


class OrderFetchTests(ContractBase):
    """
    How a platform hands out its orders.
    """

    async def _shop(self, platform: Any) -> None:
        old = NOW - timedelta(days=3)
        new = NOW - timedelta(hours=1)
        for number, moment in (
            ("998", old),
            ("999", old),
            ("1000", old),
            ("1001", new),
            ("1002", new),
        ):
            await self.place_order(
                platform, make_order(number), changed_at=moment
            )

    @staticmethod
    def _numbers(batches: Sequence[Sequence[Order]]) -> list[str]:
        return [o.number for batch in batches for o in batch]

    @pytest.mark.parametrize(
        ("selection", "expected"),
        [
            (All(), {"998", "999", "1000", "1001", "1002"}),
            (NumberRange("999", "1001"), {"999", "1000", "1001"}),
            (Only({"998", "1002"}), {"998", "1002"}),
            (
                ChangedSince(NOW - timedelta(days=1)),
                {"1001", "1002"},
            ),
        ],
        ids=["all", "number-range", "only", "changed-since"],
    )
    async def test_fetch_orders_by_selection(
        self, platform: Any, selection: Selection, expected: set[str]
    ) -> None:
        """
        Each selection mode yields exactly its orders, once each.
        """
        await self._shop(platform)
        numbers = self._numbers(await self._fetch(platform, selection))

        assert len(numbers) == len(set(numbers))
        assert expected == set(numbers)

    async def test_fetch_orders_pages_without_loss(
        self, platform: Any
    ) -> None:
        """
        Small batches cover every order once, none larger than asked.
        """
        await self._shop(platform)
        batches = await self._fetch(platform, All(), batch_size=2)
        numbers = self._numbers(batches)

        assert all(0 < len(b) <= 2 for b in batches)
        assert sorted(numbers) == sorted(set(numbers))
        assert len(numbers) == 5

    async def test_fetched_order_carries_customer_lines_addresses(
        self, platform: Any
    ) -> None:
        """
        A fetched order has its customer, addresses, lines and total, and
        its money adds up (lines at their gross unit price).
        """
        placed = make_order("4711")
        await self.place_order(platform, placed, changed_at=NOW)
        batches = await self._fetch(platform, Only({"4711"}))
        (order,) = [o for batch in batches for o in batch]

        assert order.number == "4711"
        assert placed.customer.email == order.customer.email
        assert placed.billing.city == order.billing.city
        assert placed.shipping.street == order.shipping.street
        assert [
            (line.article_number, line.quantity) for line in order.lines
        ] == [("K-1", 2)]
        assert placed.total == order.total
        assert [line.unit_price for line in placed.lines] == [
            line.unit_price for line in order.lines
        ]
        assert (Decimal(0), Decimal(0)) == (
            order.shipping_total,
            order.discount_total,
        )
        assert [] == problems(order)
