"""
On PostgreSQL, two processes' synchronisers importing the same orders at
once make one ERP order per shop order (the store's order lease).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ecomsync import DataType, RunStatus
from ecomsync.state._postgres import PostgresStore

from .._two_importers import SharedErp, import_at_once, importer, placed


pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


class TestTwoProcesses:
    async def test_same_orders_at_once_make_one_erp_order_each(
        self, postgres_dsn: str, tmp_path: Path
    ) -> None:
        """Two synchronisers on two PostgresStores of one database import
        the same new orders at once: one ERP order per shop order, both
        runs succeed."""
        erp, platform = SharedErp(), placed(3)

        async with (
            PostgresStore(postgres_dsn) as one,
            PostgresStore(postgres_dsn) as two,
            importer(erp, platform, one, tmp_path / "a") as a,
            importer(erp, platform, two, tmp_path / "b") as b,
        ):
            ended = await import_at_once(a, b)

        assert {1} == set(erp.per_order().values())
        assert 3 == len(erp.per_order())
        assert [RunStatus.SUCCEEDED] * 2 == [r.status for r in ended]
        created = DataType.ADDRESSES_AND_ORDERS
        assert 3 == sum(r.counts[created].created for r in ended)
