"""
PostgresLicensePool: licences shared by processes through one database.
What every pool does is in `test_licence_contract.py`, what the pools
shared between processes do in `test_shared_licensing.py`; here what is
the database pool's own.
"""

from __future__ import annotations

import anyio
import psycopg
import pytest

from ecomsync.exceptions import LicenseError, NoFreeLicense
from ecomsync.licensing import PostgresLicensePool


def cut(dsn: str, pool: str) -> None:
    """End the connections of *pool*'s leases, as a database restart or
    an administrator does."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (f"ecomsync-licence:{pool}",),
        )


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

    @pytest.mark.anyio
    @pytest.mark.postgres
    async def test_cut_connection_takes_the_licence_back(
        self, postgres_dsn: str
    ) -> None:
        """A lease whose connection was cut (its lock gone with it) takes
        its licence back, so no other holder gets one of a full pool (it
        was free until the block ended: two runs on one licence)."""
        pool = PostgresLicensePool(
            postgres_dsn, size=1, name="cut", check_interval=0.1
        )
        async with pool.lease("first", timeout=1):
            cut(postgres_dsn, "cut")
            await anyio.sleep(1)  # ten checks
            assert ("first",) == await pool.holders()
            with pytest.raises(NoFreeLicense):
                async with pool.lease("second", timeout=0.5):
                    pass

    @pytest.mark.anyio
    @pytest.mark.postgres
    async def test_licence_taken_meanwhile_stops_the_holder(
        self, postgres_dsn: str
    ) -> None:
        """A holder whose licence another one took while its connection
        was cut is stopped with LicenseError naming it."""
        pool = PostgresLicensePool(
            postgres_dsn, size=1, name="cut", check_interval=2
        )
        other = PostgresLicensePool(postgres_dsn, size=1, name="cut")
        went_on = False

        async def hold() -> None:
            nonlocal went_on
            async with pool.lease("first", timeout=1):
                cut(postgres_dsn, "cut")
                async with other.lease("second", timeout=1):
                    await anyio.sleep(30)
                went_on = True

        with pytest.raises(LicenseError, match="first lost licence 1 of 1"):
            await hold()
        assert not went_on
        assert () == await other.holders()

    def test_repr_hides_password(self) -> None:
        """The DSN's password is not in the repr."""
        pool = PostgresLicensePool("postgresql://u:s3cret@h/db", size=1)

        assert "s3cret" not in repr(pool)
