"""
Messy merchant media through a whole run: one file under two names,
content changed under the same name, a file larger than the memory
budget.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    MediaRef,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)

from ._media_cuts import assert_clean


pytestmark = pytest.mark.anyio

ARTICLES = SyncSpec(types={DataType.ARTICLES: All()})


def _article(number: str, *refs: MediaRef) -> Article:
    return Article(
        number=number, name=number, price=Decimal("1.00"), media=refs
    )


def _ref(key: str, filename: str, version: str = "") -> MediaRef:
    return MediaRef(
        key=key, filename=filename, mime_type="image/jpeg", version=version
    )


def _sync(
    erp: MemoryErp, store: SqliteStore, staging: MediaStaging
) -> tuple[Synchronizer, MemoryPlatform]:
    platform = MemoryPlatform()
    sync = Synchronizer(
        erp=erp, platforms={"shop": platform}, store=store, staging=staging
    )
    return sync, platform


class TestMessyMedia:
    async def test_one_file_two_names(
        self, store: SqliteStore, tmp_path: Path
    ) -> None:
        """Two articles holding the same picture under different names
        (and one holding it twice) share one upload and one media id."""
        erp = MemoryErp(
            [
                _article("A-1", _ref("k1", "front.jpg")),
                _article(
                    "A-2", _ref("k2", "Vorne.JPG"), _ref("k3", "copy.jpg")
                ),
            ],
            media={"k1": b"pic", "k2": b"pic", "k3": b"pic"},
        )
        sync, platform = _sync(
            erp, store, MediaStaging(tmp_path / "s", memory_bytes=0)
        )

        run = await sync.execute(ARTICLES)

        assert () == run.failures
        assert 1 == platform.calls["upload_media"]
        (mid,) = platform.media
        assert [mid] == platform.attachments[(DataType.ARTICLES, "A-1")]
        assert [mid, mid] == platform.attachments[(DataType.ARTICLES, "A-2")]
        await assert_clean(sync.staging, store)
        await sync.aclose()

    async def test_content_changed_same_name(
        self, store: SqliteStore, tmp_path: Path
    ) -> None:
        """A picture replaced in the ERP under the same name (its version
        changed) is uploaded and linked anew; the old content is not."""
        erp = MemoryErp(
            [_article("A-1", _ref("k1", "a.jpg", "v1"))],
            media={"k1": b"old"},
        )
        sync, platform = _sync(
            erp, store, MediaStaging(tmp_path / "s", memory_bytes=0)
        )
        await sync.execute(ARTICLES)

        erp.media["k1"] = b"new"
        erp.put(_article("A-1", _ref("k1", "a.jpg", "v2")))
        run = await sync.execute(ARTICLES)

        assert () == run.failures
        (mid,) = platform.attachments[(DataType.ARTICLES, "A-1")]
        assert b"new" == platform.media[mid]
        await assert_clean(sync.staging, store)
        await sync.aclose()

    @pytest.mark.parametrize("size", [300, 5000])
    async def test_larger_than_the_memory_budget(
        self, store: SqliteStore, tmp_path: Path, size: int
    ) -> None:
        """A file larger than the memory budget is staged on disk within
        *max_bytes*; one larger than *max_bytes* fails its record alone,
        naming the budget; the small ones stay in memory."""
        erp = MemoryErp(
            [
                _article("A-1", _ref("k1", "small.jpg")),
                _article("A-2", _ref("k2", "huge.jpg")),
            ],
            media={"k1": b"s", "k2": b"h" * size},
        )
        staging = MediaStaging(
            tmp_path / "s",
            max_bytes=1000,
            memory_bytes=100,
            memory_file_bytes=100,
        )
        sync, platform = _sync(erp, store, staging)

        run = await sync.execute(ARTICLES)

        if size <= 1000:
            assert () == run.failures
            assert 2 == len(platform.attachments)
            assert size == staging.peak_bytes  # the small one in memory
        else:
            (failure,) = run.failures
            assert ("A-2", "media.0") == (failure.number, failure.field)
            assert "max_bytes=1000" in failure.message
            assert [(DataType.ARTICLES, "A-1")] == list(platform.attachments)
        await assert_clean(staging, store)
        await sync.aclose()
