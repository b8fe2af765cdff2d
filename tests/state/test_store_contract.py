"""
The state store contract, run against every store the library ships.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ecomsync.state import SqliteStore
from ecomsync.state._postgres import PostgresStore
from ecomsync.testing._store_contract import StateStoreContract

from .._backends import both_backends


pytestmark = pytest.mark.anyio


_anyio_backend = both_backends


class MediaIdsInBatches:
    """
    What both SQL stores add to the contract: media ids read and written
    many at once (`get_media_ids` / `put_media_ids`, used by the engine
    when a store has them).
    """

    async def test_media_ids_many_at_once(self, store: Any) -> None:
        """Media ids are written and read many in one transaction each,
        past SQLite's IN-list chunk, per platform; a later write of a hash
        wins and unknown hashes are left out."""
        shas = [f"{i:064x}" for i in range(1_200)]
        await store.put_media_ids("shop", {h: f"m{h[-4:]}" for h in shas})
        await store.put_media_ids("shop", {shas[0]: "newer"})
        await store.put_media_ids("other", {shas[1]: "elsewhere"})
        await store.put_media_ids("shop", {})

        found = await store.get_media_ids("shop", [*shas, "unknown", shas[0]])

        assert len(shas) == len(found)
        assert "newer" == found[shas[0]]
        assert f"m{shas[1][-4:]}" == found[shas[1]]
        assert {} == await store.get_media_ids("shop", [])
        assert "elsewhere" == await store.get_media_id("other", shas[1])


class TestSqliteFile(StateStoreContract, MediaIdsInBatches):
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


class TestSqliteMemory(StateStoreContract, MediaIdsInBatches):
    """SqliteStore in memory."""

    @pytest.fixture(name="store")
    async def _store(self) -> AsyncIterator[SqliteStore]:
        store = SqliteStore(":memory:")
        yield store
        await store.aclose()


@pytest.mark.postgres
class TestPostgres(StateStoreContract, MediaIdsInBatches):
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
