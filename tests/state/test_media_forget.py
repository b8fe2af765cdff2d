"""
Forgetting media ids the shop lost (`forget_media_ids`), on both
built-in stores and a partitioned run's view of PostgreSQL.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ecomsync import PostgresStore, SqliteStore, StateStore
from ecomsync._media_ids import ForgetsMediaIds
from ecomsync.state._pg_partitions import PostgresPartitionBoard

from . import _pg_shop
from ._workers import submit


pytestmark = pytest.mark.anyio


async def _forgets(store: StateStore) -> None:
    assert isinstance(store, ForgetsMediaIds)
    shop = f"shop-{uuid.uuid4().hex}"  # a shared database stays clean
    await store.put_media_ids(shop, {"aa": "m1", "bb": "m2", "cc": "m3"})
    await store.put_media_id("other", "aa", "m1")

    await store.forget_media_ids(shop, {"aa": "m1", "bb": "stale", "dd": "x"})

    assert {"bb": "m2", "cc": "m3"} == await store.get_media_ids(
        shop, ["aa", "bb", "cc", "dd"]
    )
    assert "m1" == await store.get_media_id("other", "aa")
    await store.forget_media_ids(shop, {})


class TestForgetMediaIds:
    """A forgotten id is gone for its platform only, and only if the
    store still holds that very id for the content."""

    async def test_sqlite(self, tmp_path: Path) -> None:
        """SqliteStore forgets exactly the given hash and id pairs."""
        store = SqliteStore(tmp_path / "state.db")
        try:
            await _forgets(store)
        finally:
            await store.aclose()

    @pytest.mark.postgres
    async def test_postgres(self, postgres_dsn: str) -> None:
        """PostgresStore forgets exactly the given hash and id pairs."""
        store = PostgresStore(postgres_dsn)
        try:
            await _forgets(store)
        finally:
            await store.aclose()

    @pytest.mark.postgres
    async def test_partition_view(self, postgres_dsn: str) -> None:
        """The store a partitioned run's worker writes through (the
        claim's view) forgets them too, else a Shopware image deleted in
        the shop is never uploaded again."""
        _pg_shop.create_tables(postgres_dsn)
        store = PostgresStore(postgres_dsn)
        try:
            await submit(store)
            board = PostgresPartitionBoard(store)
            claim = await board.claim("w", stale_after=60)
            assert claim is not None
            await _forgets(board.view(claim))
        finally:
            await store.aclose()
