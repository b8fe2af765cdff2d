"""
Two "processes" importing the same shop orders into one ERP that finds,
then creates (as Tryton does): each with its own synchroniser, ERP client
and store handle on one shared state store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import attrs

from ecomsync import (
    All,
    DataType,
    LocalLicensePool,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    Outcome,
    RunRecord,
    Synchronizer,
    SyncSpec,
)
from ecomsync._model import Order
from ecomsync.testing import shop_orders
from ecomsync.typing import StateStore


ORDERS = SyncSpec(types={DataType.ADDRESSES_AND_ORDERS: All()})


@attrs.define
class SharedErp:
    """
    The ERP both processes talk to: sales by order number, one row per
    sale created.  Finding and creating are two calls, *gap* seconds
    apart, as with an ERP reached over RPC.
    """

    gap: float = 0.2
    sales: list[str] = attrs.field(factory=list)
    #: An error every import raises (the ERP went away), or None.
    down: Exception | None = None

    def per_order(self) -> Counter[str]:
        return Counter(self.sales)


@attrs.define
class _Session:
    erp: SharedErp
    inner: object

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def import_orders(self, orders: Sequence[Order]) -> list[Outcome]:
        if self.erp.down is not None:
            raise self.erp.down
        found = {o.number for o in orders if o.number in self.erp.sales}
        await anyio.sleep(self.erp.gap)
        for order in orders:
            if order.number not in found:
                self.erp.sales.append(order.number)
        return [
            Outcome(number=o.number, platform_id=f"SO-{o.number}")
            for o in orders
        ]


@attrs.define
class ErpClient:
    """
    One process's client of the `SharedErp` (reads go to a MemoryErp).
    """

    erp: SharedErp
    memory: MemoryErp = attrs.field(factory=MemoryErp)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[_Session]:
        async with self.memory.session() as inner:
            yield _Session(self.erp, inner)


def placed(count: int) -> MemoryPlatform:
    """
    A shop with *count* new orders.
    """
    platform = MemoryPlatform()
    for order in shop_orders(count, articles=6):
        platform.place_order(order)
    return platform


def importer(
    erp: SharedErp, platform: MemoryPlatform, store: StateStore, tmp: Path
) -> Synchronizer:
    """
    One process's synchroniser on *store* (its own handle).
    """
    return Synchronizer(
        erp=ErpClient(erp),  # type: ignore[arg-type]
        platforms={"shop": platform},
        store=store,
        licenses=LocalLicensePool(1),
        staging=MediaStaging(tmp),
    )


async def import_at_once(*syncs: Synchronizer) -> list[RunRecord]:
    """
    Import the orders with every synchroniser at the same moment.
    """
    ended: list[RunRecord] = []

    async def one(sync: Synchronizer) -> None:
        ended.append(await sync.execute(ORDERS))

    async with anyio.create_task_group() as tg:
        for sync in syncs:
            tg.start_soon(one, sync)
    return ended
