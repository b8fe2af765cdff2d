"""
PostgresLicensePool: licences shared by processes through one database.
What every pool does is in `test_licence_contract.py`, what the pools
shared between processes do in `test_shared_licensing.py`; here what is
the database pool's own.
"""

from __future__ import annotations

import pytest

from ecomsync.licensing import PostgresLicensePool


class TestDatabase:
    @pytest.mark.anyio
    @pytest.mark.postgres
    async def test_pools_are_separate(self, postgres_dsn: str) -> None:
        """Pools with different names do not share licences."""
        erp_a = PostgresLicensePool(postgres_dsn, size=1, name="erp-a")
        erp_b = PostgresLicensePool(postgres_dsn, size=1, name="erp-b")
        async with erp_a.lease("x", timeout=1), erp_b.lease("y", timeout=1):
            assert ("x",) == await erp_a.holders()
            assert ("y",) == await erp_b.holders()

    def test_repr_hides_password(self) -> None:
        """The DSN's password is not in the repr."""
        pool = PostgresLicensePool("postgresql://u:s3cret@h/db", size=1)

        assert "s3cret" not in repr(pool)
