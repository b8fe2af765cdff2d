"""
The engine over a platform: stock the ERP has negative (oversold, or open
orders holding more than is on hand) leaves the shop selling nothing, not
its last figure, and is reported until the ERP is positive again.
`PlatformEngineContract` runs it for every platform with an engine
contract; another platform subclasses `NegativeStockContract` with
``engine`` and ``emu`` fixtures and the `stock` hook.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from ecomsync import DataType, MemoryErp, RunRecord, StockLevel, Synchronizer

from ._push import PUSH
from ._restock_contract import shirt


class NegativeStockContract:
    """
    Negative stock without backorders, on one platform.
    """

    pytestmark = pytest.mark.anyio

    def stock(self, emu: Any, number: str) -> list[int]:
        """
        The quantities the shop holds for *number*, one per level.
        """
        raise NotImplementedError

    async def _run(
        self, engine: Synchronizer, emu: Any, **figures: int
    ) -> tuple[RunRecord, dict[str, list[int]], dict[str, Any]]:
        """
        A push; what the shop holds for A-1, SHIRT-S and SHIRT-M after
        it; the stock ledger by number.
        """
        run = await engine.execute(PUSH)
        held = {n: self.stock(emu, n) for n in ("A-1", "SHIRT-S", "SHIRT-M")}
        ledger = await engine.store.list_failures("shop", DataType.STOCK)
        return run, held, {f.number: f for f in ledger}

    async def test_negative_stock_sells_nothing(
        self, engine: Synchronizer, emu: Any, erp: MemoryErp
    ) -> None:
        """An article and a variant the ERP has negative read 0 in the shop
        (not their last figure) and fail on quantity, in the run and the
        ledger, while they stay negative; back to positive (even to the
        figure the shop had before) the shop gets it and the failure
        goes."""
        erp.put(shirt("S", "M"))
        erp.put(StockLevel(number="SHIRT-S", quantity=5))
        erp.put(StockLevel(number="SHIRT-M", quantity=4))
        run, held, ledger = await self._run(engine, emu)
        assert [] == list(run.failures)
        assert {"A-1": [10], "SHIRT-S": [5], "SHIRT-M": [4]} == held

        erp.put(StockLevel(number="A-1", quantity=-2))
        erp.put(StockLevel(number="SHIRT-M", quantity=-3))
        # The article changes too: where its stock goes with it (the
        # Shopware fold), the negative level must not ride along unseen.
        erp.put(attrs.evolve(shirt("S", "M"), name="Shirt, new"))
        run, held, ledger = await self._run(engine, emu)

        assert {"A-1": [0], "SHIRT-S": [5], "SHIRT-M": [0]} == held
        failed = {f.number: f for f in run.failures}
        assert {"A-1", "SHIRT-M"} == set(failed) == set(ledger)
        assert "quantity" == failed["A-1"].field == ledger["A-1"].field
        assert failed["A-1"].message.startswith(
            "quantity -2 of 'A-1' is negative: its stock in "
        )
        assert "was set to 0" in failed["A-1"].message
        assert "allow_backorders=True" in failed["A-1"].message
        assert "quantity -3 of 'SHIRT-M'" in failed["SHIRT-M"].message

        erp.put(StockLevel(number="A-1", quantity=-1))
        run, held, ledger = await self._run(engine, emu)

        assert {"A-1": [0], "SHIRT-S": [5], "SHIRT-M": [0]} == held
        assert {"A-1", "SHIRT-M"} == {f.number for f in run.failures}
        assert {"A-1", "SHIRT-M"} == set(ledger)

        erp.put(StockLevel(number="A-1", quantity=10))
        erp.put(StockLevel(number="SHIRT-M", quantity=3))
        erp.put(attrs.evolve(shirt("S", "M"), name="Shirt, newer"))
        run, held, ledger = await self._run(engine, emu)

        assert [] == list(run.failures)
        assert {} == ledger
        assert {"A-1": [10], "SHIRT-S": [5], "SHIRT-M": [3]} == held
