"""
Forgetting media ids the shop lost (`forget_media_ids`), on both
built-in stores.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ecomsync import PostgresStore, SqliteStore
from ecomsync._media_ids import ForgetsMediaIds


pytestmark = pytest.mark.anyio


async def _forgets(store: SqliteStore | PostgresStore) -> None:
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
