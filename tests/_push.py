"""
The spec most tests push (every category, article and stock level), the
engine that pushes it to one shop, and an in-process Shopware 6 shop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from ecomsync import (
    All,
    DataType,
    ErpSource,
    MediaStaging,
    Platform,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing.shopware6 import ShopwareEmulator


#: The data types a push writes, in the order the engine runs them.
PUSH_TYPES = (DataType.CATEGORIES, DataType.ARTICLES, DataType.STOCK)
#: All of them, everything selected.
PUSH = SyncSpec(types={t: All() for t in PUSH_TYPES})


@asynccontextmanager
async def pushing(
    platform: Platform,
    erp: ErpSource,
    tmp_path: Path,
    *,
    staging: MediaStaging | None = None,
) -> AsyncIterator[Synchronizer]:
    """
    An engine from *erp* to *platform* (named ``"shop"``), its state and
    media staging under *tmp_path*; the platform and the store are closed
    on the way out.
    """
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        staging=staging or MediaStaging(tmp_path / "staging"),
    )
    try:
        yield sync
    finally:
        await platform.aclose()
        await sync.store.aclose()


def shopware6(emu: ShopwareEmulator, secret: str) -> Shopware6:
    """The Shopware 6 client of *emu*, talking to it in process."""
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        secret,
        transport=httpx.ASGITransport(app=emu.app),
    )
