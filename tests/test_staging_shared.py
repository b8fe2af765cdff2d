"""
One `MediaStaging` shared by several synchronisers: each run journals
into its own synchroniser's store, so synchronisers with stores of their
own may share one staging (and its byte budget).
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
    StagedMedia,
    Synchronizer,
    SyncSpec,
)

from ._media_cuts import assert_clean
from .conftest import small_catalogue


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
    async def test_each_run_journals_into_its_own_store(
        self, tmp_path: Path
    ) -> None:
        """Synchronisers with stores of their own sharing one staging:
        each run's journal entries go to its own synchroniser's store (the
        staging was bound to the store opened last, so the first
        synchroniser's entries went to the other's store, where its
        recovery never looked)."""
        first = SqliteStore(tmp_path / "first.db")
        second = SqliteStore(tmp_path / "second.db")
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        seen: list[tuple[int, int]] = []

        class Probe(MemoryPlatform):
            async def upload_media(self, media: StagedMedia) -> str:
                seen.append(
                    (
                        len(await first.list_pending()),
                        len(await second.list_pending()),
                    )
                )
                return await super().upload_media(media)

        one = Synchronizer(
            erp=_erp(),
            platforms={"shop": Probe()},
            store=first,
            staging=staging,
        )
        two = _sync(second, staging)
        stock = SyncSpec(types={DataType.STOCK: All()})
        await one.execute(stock)  # opens the staging with the first
        await two.execute(stock)  # and with the second

        run = await one.execute(ARTICLES)

        assert (RunStatus.SUCCEEDED, ()) == (run.status, run.failures)
        assert 6 == len(seen)
        assert all(mine > 0 and theirs == 0 for mine, theirs in seen)
        await assert_clean(staging, first)
        assert [] == await second.list_pending()
        for closing in (one, two, staging, first, second):
            await closing.aclose()

    async def test_same_store_shared(self, tmp_path: Path) -> None:
        """Synchronisers sharing a store share its staging too."""
        store = SqliteStore(tmp_path / "state.db")
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
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
        a = MediaStaging(tmp_path / "staging", memory_bytes=0)
        b = MediaStaging(tmp_path / "staging", memory_bytes=0)
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

    async def test_run_store_that_is_falsy(self, tmp_path: Path) -> None:
        """The store given to for_run is the run's even when it is falsy
        (a store that defines __len__): it was taken for none given."""

        class Sized(SqliteStore):
            def __len__(self) -> int:
                return 0

        bound = SqliteStore(tmp_path / "bound.db")
        own = Sized(tmp_path / "own.db")
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(bound)

        async with staging.for_run("r1", store=own) as run:
            await run.stage(b"x", filename="x", mime_type="a/b")
            assert (1, 0) == (
                len(await own.list_pending()),
                len(await bound.list_pending()),
            )

        await assert_clean(staging, own)
        for closing in (staging, bound, own):
            await closing.aclose()
