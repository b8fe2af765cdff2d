"""
A level that went to the shop with its article (the fold, Shopware 6)
and whose record the store lost is sent again even when the ERP's stock
went back to the quantity last in sync.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from ecomsync import (
    Article,
    DataType,
    MemoryErp,
    SqliteStore,
    StockLevel,
    Synchronizer,
)
from ecomsync.exceptions import StateStoreError
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._push import PUSH, shopware6
from ._fold import catalogue, shop_stock


pytestmark = pytest.mark.anyio

SECRET = "fold-secret"


@attrs.define
class _DiesAtStock:
    """
    A store whose process dies (once, when armed) as it records the stock
    that landed with the articles.
    """

    inner: SqliteStore
    armed: bool = False

    async def put_links(
        self, name: str, data_type: DataType, links: Any
    ) -> None:
        landed = any(link.checksum for link in links.values())
        if self.armed and data_type is DataType.STOCK and landed:
            self.armed = False
            raise StateStoreError("the process died here")
        await self.inner.put_links(name, data_type, links)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_folded_level_lost_then_undone_is_sent_again(
    tmp_path: Any,
) -> None:
    """The shop took A-1's new stock (6) with its article, the store died
    before recording it, and the ERP went back to 10 before the next run:
    that run sends 10 (it skipped the level as unchanged, the shop kept 6
    while the ERP had 10)."""
    emu = ShopwareEmulator(client_id="SWIAUNDO", client_secret=SECRET)
    erp = MemoryErp(catalogue(2))
    store = _DiesAtStock(SqliteStore(tmp_path / "state.db"))
    platform = shopware6(emu, SECRET)
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=store,  # type: ignore[arg-type]
    )
    await sync.execute(PUSH)
    article = erp.get(DataType.ARTICLES, "A-1")
    assert isinstance(article, Article)
    erp.put(attrs.evolve(article, name="Artikel 1, neu"))
    erp.put(StockLevel(number="A-1", quantity=6))
    store.armed = True
    with pytest.raises(StateStoreError, match="died"):
        await sync.execute(PUSH)
    assert 6 == shop_stock(emu)["A-1"]

    erp.put(StockLevel(number="A-1", quantity=10))
    await sync.execute(PUSH)
    await sync.aclose()
    await platform.aclose()
    await store.inner.aclose()

    assert 10 == shop_stock(emu)["A-1"]
