"""
Negative ERP stock through the engine into `MemoryPlatform`: without
backorders the shop sells nothing and the level is reported
(`NegativeStockContract`); with them the negative figure lands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ecomsync import MemoryErp, RunStatus, StockLevel, Synchronizer
from ecomsync.platforms.memory import MemoryPlatform

from .._negative_stock_contract import NegativeStockContract
from .._push import PUSH, pushing


pytestmark = pytest.mark.anyio


class TestWithoutBackorders(NegativeStockContract):
    """
    The memory shop is set to 0 for a negative level, and it is reported.
    """

    @pytest.fixture(name="emu")
    def _emu(self) -> MemoryPlatform:
        return MemoryPlatform()

    @pytest.fixture(name="engine")
    async def _engine(
        self, emu: MemoryPlatform, erp: MemoryErp, tmp_path: Path
    ) -> AsyncIterator[Synchronizer]:
        async with pushing(emu, erp, tmp_path) as sync:
            yield sync

    def stock(self, emu: MemoryPlatform, number: str) -> list[int]:
        return list(emu.stock.get(number, {}).values())


class TestWithBackorders:
    async def test_negative_figure_lands(
        self, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """With allow_backorders=True a negative level is written as the
        ERP has it, and nothing fails."""
        shop = MemoryPlatform(allow_backorders=True)
        erp.put(StockLevel(number="A-1", quantity=-2))
        async with pushing(shop, erp, tmp_path) as sync:
            run = await sync.execute(PUSH)
            ledger = await sync.store.list_failures("shop")

        assert RunStatus.SUCCEEDED == run.status
        assert [] == list(run.failures) == ledger
        assert {None: -2} == shop.stock["A-1"]
