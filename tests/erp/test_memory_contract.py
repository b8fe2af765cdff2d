"""
`MemoryErp` against the ERP contract suite.
"""

from __future__ import annotations

import pytest

from ecomsync import DataType
from ecomsync.erp.memory import MemoryErp
from ecomsync.testing._erp_contract import ErpSourceContract
from ecomsync.typing import ErpSource


@pytest.fixture(name="source")
def _source() -> MemoryErp:
    seed = ErpSourceContract.seed
    return MemoryErp(seed.records(), media=dict(seed.media))


class TestMemoryErpContract(ErpSourceContract):
    """
    The standard ERP behaviour, in memory.
    """

    async def touch(
        self, source: ErpSource, data_type: DataType, number: str
    ) -> None:
        assert isinstance(source, MemoryErp)
        record = source.get(data_type, number)
        assert record is not None
        source.put(record)

    async def imported_count(
        self, source: ErpSource, order_number: str
    ) -> int:
        assert isinstance(source, MemoryErp)
        return int(order_number in source.orders)


class TestMemoryErpShape:
    @pytest.mark.parametrize(
        ("given", "hint"),
        [
            ({"number": "A-1", "name": "Hammer"}, "Article(**row)"),
            ("A-1", "got str"),
        ],
    )
    def test_wrong_shape_says_what_it_wants(
        self, given: object, hint: str
    ) -> None:
        """Something that is not a record is refused with a message that
        lists the record types it takes (no bare KeyError)."""
        with pytest.raises(TypeError) as info:
            MemoryErp([given])  # type: ignore[list-item]

        assert "Category, Article, StockLevel, OrderStatus" in str(info.value)
        assert hint in str(info.value)

    def test_orders_go_to_a_platform(self) -> None:
        """An order handed to the ERP says where orders come from."""
        from ecomsync.testing import shop_orders

        order = next(iter(shop_orders(1)))

        with pytest.raises(TypeError, match="place_order"):
            MemoryErp([order])

    @pytest.mark.anyio
    async def test_cycle_members_come_last(self) -> None:
        """Categories on a cycle are still read (for the engine to refuse
        by name), after every category that can be ordered."""
        from ecomsync import All, Category

        erp = MemoryErp(
            [
                Category(number="A", name="A", parent="B"),
                Category(number="B", name="B", parent="A"),
                Category(number="C", name="C", parent="D"),
                Category(number="D", name="D"),
            ]
        )
        async with erp.session() as session:
            read = [
                c.number
                async for batch in session.read(
                    DataType.CATEGORIES, All(), batch_size=10
                )
                for c in batch
            ]

        assert ["D", "C", "A", "B"] == read
