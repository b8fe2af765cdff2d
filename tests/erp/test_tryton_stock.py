"""
Stock per warehouse from a live Tryton with two warehouses
(``stock_per_warehouse=True``), through the engine: an article's levels
land whole, a change in one warehouse leaves every level exact, and a
refused level is retried until the article is complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from ecomsync import (
    All,
    DataType,
    MemoryPlatform,
    RecordFailed,
    RecordSynced,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync._model import Record
from ecomsync.testing import capture_events
from ecomsync.testing._tryton_seed import (
    TRAP_STOCK_PER_WAREHOUSE,
    set_stock,
    storage_location,
)

from .conftest import make_erp, tryton_with_traps


pytestmark = [pytest.mark.anyio, pytest.mark.tryton, pytest.mark.slow]

STOCK = DataType.STOCK


@pytest.fixture(name="warehouses_server", scope="module")
def _warehouses_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """
    A Tryton of this module's own holding the traps (two warehouses,
    stock held by open sales), which the tests change.
    """
    with tryton_with_traps(tmp_path_factory.mktemp("tryton-stock")) as info:
        yield info


def _per_warehouse() -> dict[str, dict[str | None, int]]:
    found: dict[str, dict[str | None, int]] = {}
    for (number, warehouse), quantity in TRAP_STOCK_PER_WAREHOUSE.items():
        found.setdefault(number, {})[warehouse] = quantity
    return found


def _refuse_wh2(record: Record) -> str | None:
    if isinstance(record, StockLevel) and record.warehouse == "WH2":
        return "location WH2 is closed"
    return None


class TestStockPerWarehouse:
    async def test_levels_land_whole(
        self, warehouses_server: dict[str, Any], tmp_path: Path
    ) -> None:
        """Every warehouse's level lands; a change in WH2 alone updates
        that article with both levels exact; a refused WH2 level fails
        its article by name while WH lands, and the next scheduled run
        completes it."""
        products = warehouses_server["products"]
        platform = MemoryPlatform()
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(
            erp=make_erp(warehouses_server, stock_per_warehouse=True),
            platforms={"shop": platform},
            store=store,
        )
        admin = make_erp(warehouses_server)
        only_stock = SyncSpec(types={STOCK: All()})

        async def scheduled() -> Any:
            async with capture_events(
                sync, only_stock, trigger=Trigger.SCHEDULED
            ) as run:
                pass
            return run

        try:
            await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
            with anyio.fail_after(120):
                first = await scheduled()
            landed = {n: dict(w) for n, w in platform.stock.items()}

            async with admin.session() as session:
                wh2 = await storage_location(session.rpc, "WH2")
                wh = await storage_location(session.rpc)
                await set_stock(session.rpc, wh2, {products["SHIRT-S"]: 9})
            one = await scheduled()

            platform.reject = _refuse_wh2
            async with admin.session() as session:
                await set_stock(session.rpc, wh, {products["Z-1"]: 6})
                await set_stock(session.rpc, wh2, {products["Z-1"]: 3})
            refused = await scheduled()
            partly = dict(platform.stock["Z-1"])
            ledger = await store.list_failures("shop", STOCK)

            platform.reject = None
            healed = await scheduled()
            left = await store.list_failures("shop", STOCK)
        finally:
            await store.aclose()

        assert not first.of(RecordFailed), first.of(RecordFailed)
        assert _per_warehouse() == landed
        assert len(landed) == first.summary.counts[STOCK].created

        assert ["SHIRT-S"] == [e.number for e in one.of(RecordSynced)]
        assert {"WH": 7, "WH2": 9} == platform.stock["SHIRT-S"]

        (failed,) = refused.of(RecordFailed)
        assert "Z-1" == failed.number
        assert "stock in 'WH2': location WH2 is closed" in failed.message
        assert {"WH": 6, "WH2": 0} == partly
        assert ["Z-1"] == [f.number for f in ledger]

        assert ["Z-1"] == [e.number for e in healed.of(RecordSynced)]
        assert {"WH": 6, "WH2": 3} == platform.stock["Z-1"]
        assert [] == left
        expected = _per_warehouse()
        expected["SHIRT-S"]["WH2"] = 9
        expected["Z-1"] = {"WH": 6, "WH2": 3}
        assert expected == platform.stock
