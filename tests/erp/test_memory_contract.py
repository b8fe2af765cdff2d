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
