"""
`MemoryPlatform` passes the platform contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from ecomsync import Article, Category, DataType, Order, StockLevel
from ecomsync._contracts import Outgoing
from ecomsync.platforms.memory import MemoryPlatform
from ecomsync.testing._platform_contract import PlatformContract


class TestMemoryPlatformContract(PlatformContract):
    """
    The in-memory platform honours every clause of the contract.
    """

    @pytest.fixture(name="platform")
    async def _platform(self) -> AsyncIterator[MemoryPlatform]:
        platform = MemoryPlatform()
        yield platform
        await platform.aclose()

    async def place_order(
        self, platform: Any, order: Order, *, changed_at: datetime
    ) -> None:
        platform.place_order(order, changed_at=changed_at)

    async def read_back(
        self, platform: Any, data_type: DataType, number: str
    ) -> dict[str, Any] | None:
        record = platform.held(data_type).get(number)
        if record is None:
            return None
        if data_type is DataType.CATEGORIES:
            return {"name": record.name, "parent": record.parent}
        if data_type is DataType.ARTICLES:
            media = platform.attachments.get((data_type, number), [])
            return {
                "name": record.name,
                "price": record.price,
                "categories": set(record.categories),
                "variants": {v.number for v in record.variants},
                "media": list(media),
                "cover": media[0] if media else None,
            }
        if data_type is DataType.STOCK:
            return {"quantity": record.quantity}
        return {
            "state": record.state,
            "tracking_numbers": set(record.tracking_numbers),
        }

    async def count(self, platform: Any, data_type: DataType) -> int:
        return len(platform.held(data_type))

    async def media_count(self, platform: Any) -> int:
        return len(platform.media)


@pytest.mark.anyio
class TestNegativeStock:
    @pytest.mark.parametrize("backorders", [False, True])
    async def test_policy(self, backorders: bool) -> None:
        """Negative stock is written as 0 and reported on 'quantity'
        unless the shop allows backorders; then it is written as the ERP
        has it."""
        platform = MemoryPlatform(allow_backorders=backorders)
        article = Article(number="A", name="A", price=1)
        await platform.push(DataType.ARTICLES, [Outgoing(record=article)])
        await platform.push(
            DataType.STOCK,
            [Outgoing(record=StockLevel(number="A", quantity=5))],
        )

        (outcome,) = await platform.push(
            DataType.STOCK,
            [Outgoing(record=StockLevel(number="A", quantity=-3))],
        )

        assert backorders == outcome.ok
        assert {None: -3 if backorders else 0} == platform.stock["A"]
        if not backorders:
            assert "quantity" == outcome.field
            assert (
                "quantity -3 of 'A' is negative: its stock in MemoryPlatform "
                "was set to 0, so the shop does not sell it; "
                "MemoryPlatform(allow_backorders=True) writes negative stock"
            ) == outcome.error


@pytest.mark.anyio
class TestCategoryOrder:
    async def test_parents_first_and_cycles(self) -> None:
        """A push writes parents before children whatever their order; a
        cycle's members fail on 'parent', naming the cycle."""
        platform = MemoryPlatform()
        pushed = [
            Category(number="B", name="B", parent="A"),
            Category(number="A", name="A"),
            Category(number="X", name="X", parent="Y"),
            Category(number="Y", name="Y", parent="X"),
        ]

        outcomes = await platform.push(
            DataType.CATEGORIES, [Outgoing(record=c) for c in pushed]
        )

        assert [True, True, False, False] == [o.ok for o in outcomes]
        assert ["B", "A", "X", "Y"] == [o.number for o in outcomes]
        assert "X → Y → X" in (outcomes[2].error or "")
        assert "parent" == outcomes[3].field
