"""
The state store contract, run against every store the library ships.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ecomsync.state import SqliteStore
from ecomsync.state._postgres import PostgresStore
from ecomsync.testing._store_contract import StateStoreContract

from .._backends import both_backends


pytestmark = pytest.mark.anyio


_anyio_backend = both_backends


class TestSqliteFile(StateStoreContract):
    """SqliteStore in a file, with a second handle on the same file."""

    @pytest.fixture(name="store")
    async def _store(self, tmp_path: Path) -> AsyncIterator[SqliteStore]:
        store = SqliteStore(tmp_path / "state.db")
        yield store
        await store.aclose()

    @pytest.fixture(name="other_store")
    async def _other_store(self, tmp_path: Path) -> AsyncIterator[SqliteStore]:
        store = SqliteStore(tmp_path / "state.db")
        yield store
        await store.aclose()


class TestSqliteMemory(StateStoreContract):
    """SqliteStore in memory."""

    @pytest.fixture(name="store")
    async def _store(self) -> AsyncIterator[SqliteStore]:
        store = SqliteStore(":memory:")
        yield store
        await store.aclose()


@pytest.mark.postgres
class TestPostgres(StateStoreContract):
    """PostgresStore, with a second store on the same database."""

    @pytest.fixture(name="anyio_backend")
    def _anyio_backend(self) -> str:
        return "asyncio"  # psycopg's async driver needs asyncio

    @pytest.fixture(name="store")
    async def _store(self, postgres_dsn: str) -> AsyncIterator[PostgresStore]:
        store = PostgresStore(postgres_dsn)
        yield store
        await store.aclose()

    @pytest.fixture(name="other_store")
    async def _other_store(
        self, postgres_dsn: str
    ) -> AsyncIterator[PostgresStore]:
        store = PostgresStore(postgres_dsn)
        yield store
        await store.aclose()
