"""
Media staging: journal before write, durable writes, hash names, purge on
open, byte budget, no second upload of known content.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from ecomsync import (
    All,
    DataType,
    MediaStaging,
    MediaStagingError,
    MediaUploaded,
    MemoryErp,
    MemoryPlatform,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync._contracts import PendingMedia
from ecomsync.testing import capture_events

from .conftest import T0


pytestmark = pytest.mark.anyio


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    """The engine uses anyio only: prove it on both backends."""
    return str(request.param)


@pytest.fixture(name="staging")
async def _staging(tmp_path: Path, store: SqliteStore) -> MediaStaging:
    staging = MediaStaging(tmp_path / "staging", max_bytes=100)
    await staging.open(store)
    return staging


class TestStaging:
    async def test_registered_before_written(
        self, staging: MediaStaging, store: SqliteStore
    ) -> None:
        """A staged file is a registered pending transfer, named by hash,
        never by the name it came with."""
        staged = await staging.stage(
            b"cat", filename="../../etc/passwd", mime_type="image/jpeg"
        )

        (pending,) = await store.list_pending()
        assert staged.sha256 == pending.sha256
        assert "../../etc/passwd" == pending.meta["filename"]
        assert staging.directory / staged.sha256 == staged.path
        assert [staged.sha256] == [p.name for p in staging.directory.iterdir()]
        assert b"cat" == staged.read_bytes()

    async def test_release_deletes(
        self, staging: MediaStaging, store: SqliteStore
    ) -> None:
        """Releasing deletes the file and closes its journal entry."""
        staged = await staging.stage(b"cat", filename="a", mime_type="x/y")

        await staging.release(staged)
        await staging.release(staged)

        assert [] == list(staging.directory.iterdir())
        assert [] == await store.list_pending()
        assert 0 == staging.used_bytes

    async def test_same_content_shared(self, staging: MediaStaging) -> None:
        """The same content staged twice is one file until both release."""
        one = await staging.stage(b"cat", filename="a", mime_type="x/y")
        two = await staging.stage(b"cat", filename="b", mime_type="x/y")

        await staging.release(one)
        assert two.path.exists()
        await staging.release(two)
        assert not two.path.exists()

    async def test_open_purges(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """Opening deletes unregistered files, temp files and stale
        transfers left by a crash."""
        directory = tmp_path / "staging"
        directory.mkdir()
        (directory / "stray.jpg").write_bytes(b"x")
        (directory / ".abc.tmp").write_bytes(b"half")
        (directory / "abc").write_bytes(b"staged")
        await store.add_pending(
            PendingMedia(sha256="abc", size=6, registered_at=T0)
        )

        removed = await MediaStaging(directory).open(store)

        assert {"stray.jpg", ".abc.tmp", "abc"} == set(removed)
        assert [] == list(directory.iterdir())
        assert [] == await store.list_pending()

    async def test_open_keeps_others_entries(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """Opening a directory leaves the journal entries of another
        directory sharing the store alone."""
        other = MediaStaging(tmp_path / "other")
        await other.open(store)
        staged = await other.stage(b"theirs", filename="a", mime_type="x/y")

        await MediaStaging(tmp_path / "mine").open(store)

        assert [staged.sha256] == [
            p.sha256 for p in await store.list_pending()
        ]
        assert staged.path.exists()

    async def test_budget_waits(self, staging: MediaStaging) -> None:
        """Staging waits for uploads to free space instead of exceeding
        the byte budget."""
        first = await staging.stage(b"a" * 60, filename="a", mime_type="x/y")
        staged_second = anyio.Event()

        async def second() -> None:
            await staging.stage(b"b" * 60, filename="b", mime_type="x/y")
            staged_second.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(second)
            await anyio.sleep(0.1)
            assert not staged_second.is_set()
            await staging.release(first)
            await staged_second.wait()

        assert staging.peak_bytes <= 100

    async def test_oversized_alone(self, staging: MediaStaging) -> None:
        """A file larger than the budget still moves when nothing else is
        staged."""
        big = await staging.stage(b"x" * 500, filename="a", mime_type="x/y")

        assert 500 == staging.used_bytes
        await staging.release(big)

    async def test_not_opened(self, tmp_path: Path) -> None:
        """Staging before open() is a MediaStagingError."""
        with pytest.raises(MediaStagingError):
            await MediaStaging(tmp_path).stage(
                b"", filename="a", mime_type="b"
            )

    async def test_unusable_directory(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A directory that cannot be made is a MediaStagingError."""
        blocker = tmp_path / "file"
        blocker.write_bytes(b"")

        with pytest.raises(MediaStagingError):
            await MediaStaging(blocker / "sub").open(store)


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
        assert [] == list(sync.staging.directory.iterdir())
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
