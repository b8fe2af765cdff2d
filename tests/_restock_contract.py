"""
The engine over a platform: a shop variant made anew by an article push
(the ERP dropped the variant and gave it back, or moved it to another
article) gets the ERP's stock in that run, though the stock did not
change.  `PlatformEngineContract` runs it for every platform with an
engine contract; a platform without one subclasses `RestockContract`
with an ``engine`` fixture and the `stock` hook.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    MemoryErp,
    RunStatus,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Variant,
)

from ._push import PUSH


def shirt(*sizes: str, number: str = "SHIRT") -> Article:
    """
    An article with a variant per size (numbered ``SHIRT-<size>``).
    """
    return Article(
        number=number,
        name=f"Shirt {number}",
        price=Decimal("19.90"),
        categories=("C-1",),
        variants=[
            Variant(number=f"SHIRT-{s}", options=(("Size", s),)) for s in sizes
        ],
    )


class RestockContract:
    """
    Re-created variants get their stock, on one platform.
    """

    pytestmark = pytest.mark.anyio

    #: Whether the platform fails an article whose variants it holds
    #: while the ERP has none any more (Shopware 6 lists no product that
    #: has variants, inactive ones too), though it writes the article.
    fails_without_variants = False

    def stock(self, emu: Any, number: str) -> list[int]:
        """
        The quantities the shop holds for *number*, one per level.
        """
        raise NotImplementedError

    async def _push(self, engine: Synchronizer) -> None:
        run = await engine.execute(PUSH)
        assert RunStatus.SUCCEEDED == run.status, run.failures

    async def _push_without_variants(self, engine: Synchronizer) -> None:
        """`_push` of a ``SHIRT`` whose variants the ERP dropped."""
        if not self.fails_without_variants:
            await self._push(engine)
            return
        run = await engine.execute(PUSH)
        assert [("SHIRT", "variants")] == [
            (f.number, f.field) for f in run.failures
        ]

    async def test_regained_variants_get_their_stock(
        self, engine: Synchronizer, emu: Any, erp: MemoryErp
    ) -> None:
        """Variants the ERP dropped and gave back (same numbers, same
        stock) show the ERP's stock after the run that makes them again."""
        erp.put(shirt("S", "M"))
        erp.put(StockLevel(number="SHIRT-S", quantity=5))
        erp.put(StockLevel(number="SHIRT-M", quantity=7))
        await self._push(engine)
        erp.remove(DataType.STOCK, "SHIRT-S")
        erp.remove(DataType.STOCK, "SHIRT-M")
        erp.put(shirt())
        await self._push_without_variants(engine)
        erp.put(shirt("S", "M"))
        erp.put(StockLevel(number="SHIRT-S", quantity=5))
        erp.put(StockLevel(number="SHIRT-M", quantity=7))

        await self._push(engine)

        assert [5] == self.stock(emu, "SHIRT-S")
        assert [7] == self.stock(emu, "SHIRT-M")
        assert [] == await engine.store.list_failures("shop")

    async def test_a_moved_variant_gets_its_stock(
        self, engine: Synchronizer, emu: Any, erp: MemoryErp
    ) -> None:
        """A variant the ERP moved to another article (its stock
        unchanged) shows the ERP's stock after the run that moves it."""
        erp.put(shirt("S", "M"))
        erp.put(shirt("L", number="SHIRT-B"))
        for size, quantity in (("S", 5), ("M", 7), ("L", 2)):
            erp.put(StockLevel(number=f"SHIRT-{size}", quantity=quantity))
        await self._push(engine)
        erp.put(shirt("M"))
        erp.put(shirt("L", "S", number="SHIRT-B"))

        await engine.execute(SyncSpec(types={DataType.ARTICLES: All()}))
        # SHIRT-B may fail to take SHIRT-S while SHIRT holds it (the
        # shops refuse a second holder); the variants kept are not sent.
        ledger = await engine.store.list_failures("shop", DataType.STOCK)
        assert {f.number for f in ledger} <= {"SHIRT-S"}
        await self._push(engine)

        assert [5] == self.stock(emu, "SHIRT-S")
        assert [7] == self.stock(emu, "SHIRT-M")
        assert [2] == self.stock(emu, "SHIRT-L")

    async def test_a_changed_article_keeps_its_variants_stock(
        self, engine: Synchronizer, emu: Any, erp: MemoryErp
    ) -> None:
        """An article that changed but kept its variants leaves their
        stock as it is: nothing ledgered, the shop's stock unchanged."""
        erp.put(shirt("S", "M"))
        erp.put(StockLevel(number="SHIRT-S", quantity=5))
        erp.put(StockLevel(number="SHIRT-M", quantity=7))
        await self._push(engine)
        erp.put(attrs.evolve(shirt("S", "M"), name="Shirt, new"))

        run = await engine.execute(SyncSpec(types={DataType.ARTICLES: All()}))

        assert 1 == run.counts[DataType.ARTICLES].updated
        assert [] == await engine.store.list_failures("shop")
        assert [5] == self.stock(emu, "SHIRT-S")
        assert [7] == self.stock(emu, "SHIRT-M")
