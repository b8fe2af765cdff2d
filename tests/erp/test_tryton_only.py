"""
`Only` through the engine on a live Tryton holding the traps of merchant
data: a variant's number syncs its article, an article's number its
variants' stock, and a number Tryton does not know fails naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecomsync import (
    DataType,
    MemoryPlatform,
    Only,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)

from .conftest import make_erp


pytestmark = [pytest.mark.anyio, pytest.mark.tryton]


async def test_variant_numbers_and_unknown_ones(
    traps_server: dict[str, Any], tmp_path: Path
) -> None:
    """Only(["SHIRT-M", "SOCK-RED", ...]) syncs articles SHIRT and SOCK
    whole, stock Only(["SHIRT", "SOCK", ...]) their variants' levels, and
    "NOPE-1" fails once per type, on number, naming it; nothing else
    fails."""
    platform = MemoryPlatform()
    store = SqliteStore(tmp_path / "state.db")
    sync = Synchronizer(
        erp=make_erp(traps_server), platforms={"shop": platform}, store=store
    )
    try:
        summary = await sync.execute(
            SyncSpec(
                types={
                    DataType.ARTICLES: Only(["SHIRT-M", "SOCK-RED", "NOPE-1"]),
                    DataType.STOCK: Only(["SHIRT", "SOCK", "NOPE-1"]),
                }
            )
        )
    finally:
        await store.aclose()

    assert {"SHIRT", "SOCK"} == set(platform.held(DataType.ARTICLES))
    assert {"SHIRT-M", "SHIRT-S", "SOCK-BLUE", "SOCK-RED"} == set(
        platform.held(DataType.STOCK)
    )
    assert [
        (DataType.ARTICLES, "NOPE-1", "number"),
        (DataType.STOCK, "NOPE-1", "number"),
    ] == [(f.data_type, f.number, f.field) for f in summary.failures]
