"""
Media in a run: uploaded, attached and cleaned up; known content not
uploaded twice; a missing or empty file fails its record.
"""

from __future__ import annotations

import pytest

from ecomsync import (
    All,
    DataType,
    MediaUploaded,
    MemoryErp,
    MemoryPlatform,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync.testing import capture_events

from ._backends import both_backends
from ._media import (
    files,
)


pytestmark = pytest.mark.anyio


_anyio_backend = both_backends


class TestRunMedia:
    async def test_uploaded_and_clean(
        self, sync: Synchronizer, platform: MemoryPlatform, store: SqliteStore
    ) -> None:
        """A run uploads each article's media, attaches it, and leaves the
        staging directory and journal empty."""
        async with capture_events(
            sync, SyncSpec(types={DataType.ARTICLES: All()})
        ) as run:
            uploaded = run.of(MediaUploaded)

        assert 6 == len(uploaded)
        assert 6 == platform.calls["upload_media"]
        assert 6 == len(platform.attachments)
        assert [] == files(sync.staging.directory)
        assert [] == await store.list_pending()

    async def test_known_content_not_uploaded(
        self, erp: MemoryErp, platform: MemoryPlatform, sync: Synchronizer
    ) -> None:
        """Content the platform already has is linked, not uploaded."""
        for i in range(1, 7):
            erp.media[f"img-{i}"] = b"the same picture"

        async with capture_events(
            sync, SyncSpec(types={DataType.ARTICLES: All()})
        ) as run:
            reused = [e.reused for e in run.of(MediaUploaded)]

        assert 1 == platform.calls["upload_media"]
        assert 5 == sum(reused)
        ids = {tuple(a) for a in platform.attachments.values()}
        assert 1 == len(ids)

    async def test_missing_file_fails_record(
        self, erp: MemoryErp, sync: Synchronizer, store: SqliteStore
    ) -> None:
        """A file the ERP cannot deliver fails its record alone, and the
        record is retried later (not linked)."""
        del erp.media["img-2"]

        run = await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))

        (failure,) = run.failures
        assert ("A-2", "media.0") == (failure.number, failure.field)
        assert "img-2" in failure.message
        assert "A-2" not in await store.get_links(
            "shop", DataType.ARTICLES, ["A-2"]
        )

    async def test_empty_file_fails_record(
        self,
        erp: MemoryErp,
        sync: Synchronizer,
        store: SqliteStore,
        platform: MemoryPlatform,
    ) -> None:
        """A 0-byte file from the ERP (a broken upload there) fails its
        record on its field, naming the file, with nothing uploaded (the
        shop showed a broken image); the other records land."""
        erp.media["img-2"] = b""

        run = await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))

        (failure,) = run.failures
        assert ("A-2", "media.0") == (failure.number, failure.field)
        assert "img-2" in failure.message
        assert "empty" in failure.message
        assert b"" not in platform.media.values()
        assert 5 == platform.calls["upload_media"]
        assert "A-2" not in await store.get_links(
            "shop", DataType.ARTICLES, ["A-2"]
        )

    async def test_plan_fails_empty_file_as_run_does(
        self, erp: MemoryErp, sync: Synchronizer
    ) -> None:
        """A plan (dry run) reports the record of a 0-byte file as one that
        would fail on its field, with no write or upload planned for it,
        as the run then does."""
        erp.media["img-2"] = b""
        spec = SyncSpec(types={DataType.ARTICLES: All()})

        plan = await sync.plan(spec)

        (refusal,) = plan.types[DataType.ARTICLES].invalid
        assert ("A-2", "media.0") == (refusal.number, refusal.field)
        assert "empty" in refusal.reason
        assert "A-2" not in plan.types[DataType.ARTICLES].create
        run = await sync.execute(spec)
        assert [(f.number, f.field) for f in run.failures] == [
            (refusal.number, refusal.field)
        ]
