"""
The licence pool contract, run against every pool the library ships.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ecomsync.licensing import (
    FileLicensePool,
    LocalLicensePool,
    PostgresLicensePool,
)
from ecomsync.testing import LicensePoolContract
from ecomsync.typing import LicensePool

from .._backends import both_backends


PoolFactory = Callable[[int], LicensePool]


_anyio_backend = both_backends


class TestLocal(LicensePoolContract):
    """LocalLicensePool: the licences of one process."""

    @pytest.fixture(name="pool_factory")
    def _pool_factory(self) -> PoolFactory:
        return LocalLicensePool


class TestFile(LicensePoolContract):
    """FileLicensePool: a fresh directory per pool."""

    @pytest.fixture(name="pool_factory")
    def _pool_factory(self, tmp_path: Path) -> PoolFactory:
        made = iter(range(1_000))
        return lambda size: FileLicensePool(
            tmp_path / f"pool-{next(made)}",
            size=size,
            poll_interval=0.01,
            max_poll_interval=0.02,
        )


@pytest.mark.postgres
class TestPostgres(LicensePoolContract):
    """PostgresLicensePool: a fresh database per test, a pool name per
    pool."""

    @pytest.fixture(name="anyio_backend")
    def _anyio_backend(self) -> str:
        return "asyncio"  # psycopg's async driver needs asyncio

    @pytest.fixture(name="pool_factory")
    def _pool_factory(self, postgres_dsn: str) -> PoolFactory:
        made = iter(range(1_000))
        return lambda size: PostgresLicensePool(
            postgres_dsn, size=size, name=f"pool-{next(made)}"
        )
