"""
One `MediaStaging` shared by several synchronisers: its journal is the
store's it was opened with, so synchronisers with stores of their own
each need a staging of their own (they may share its directory).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ecomsync import (
    All,
    DataType,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)

from .conftest import small_catalogue
from .test_media_faults import assert_clean


pytestmark = pytest.mark.anyio

ARTICLES = SyncSpec(types={DataType.ARTICLES: All()})


def _erp() -> MemoryErp:
    return MemoryErp(
        small_catalogue(),
        media={f"img-{i}": f"image {i}".encode() for i in range(1, 7)},
    )


def _sync(store: SqliteStore, staging: MediaStaging) -> Synchronizer:
    return Synchronizer(
        erp=_erp(),
        platforms={"shop": MemoryPlatform()},
        store=store,
        staging=staging,
    )


class TestSharedStaging:
    async def test_same_store_shared(self, tmp_path: Path) -> None:
        """Synchronisers sharing a store share its staging too."""
        store = SqliteStore(tmp_path / "state.db")
        staging = MediaStaging(tmp_path / "staging")
        one, two = _sync(store, staging), _sync(store, staging)

        for sync in (one, two):
            run = await sync.execute(ARTICLES)
            assert (RunStatus.SUCCEEDED, ()) == (run.status, run.failures)

        await assert_clean(staging, store)
        for closing in (one, two, staging, store):
            await closing.aclose()

    async def test_own_stagings_share_a_directory(
        self, tmp_path: Path
    ) -> None:
        """Synchronisers with stores of their own and a staging each may
        share its directory: each run has its own locked directory in it,
        and neither's start removes the other's files."""
        first = SqliteStore(tmp_path / "first.db")
        second = SqliteStore(tmp_path / "second.db")
        a = MediaStaging(tmp_path / "staging")
        b = MediaStaging(tmp_path / "staging")
        one, two = _sync(first, a), _sync(second, b)

        await a.open(first)
        async with a.for_run("r1") as run:
            staged = await run.stage(b"x", filename="x", mime_type="a/b")
            # The other's run start sweeps only runs that died.
            assert RunStatus.SUCCEEDED == (await two.execute(ARTICLES)).status
            assert staged.path.read_bytes() == b"x"
        assert RunStatus.SUCCEEDED == (await one.execute(ARTICLES)).status

        await assert_clean(a, first)
        await assert_clean(b, second)
        for closing in (one, two, a, b, first, second):
            await closing.aclose()
