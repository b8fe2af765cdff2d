"""
The staging directory under faults of its file system: gone while the
process lives (a temporary-files cleaner, an operator), read-only.
Records with media fail on their own, naming the field and the cause;
the rest of the run goes on, and the next run works again.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from ecomsync import (
    All,
    DataType,
    MediaStaging,
    MediaStagingError,
    MemoryPlatform,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync import _staging_fs as fs
from ecomsync._staging_fs import MARKER

from ._backends import both_backends
from .test_media_faults import assert_clean


pytestmark = pytest.mark.anyio

_anyio_backend = both_backends

ARTICLES = SyncSpec(types={DataType.ARTICLES: All()})


class TestDirectoryGone:
    async def test_next_runs_claim_it_again(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        platform: MemoryPlatform,
        tmp_path: Path,
    ) -> None:
        """The staging directory deleted between runs of a long-lived
        synchroniser is made and marked again by the next run, which
        stages and uploads its media (every later run failed, even one
        without media, until the process restarted)."""
        directory = tmp_path / "staging"
        first = await sync.execute(
            SyncSpec(types={DataType.CATEGORIES: All()})
        )
        assert RunStatus.SUCCEEDED == first.status
        shutil.rmtree(directory)

        stock = await sync.execute(SyncSpec(types={DataType.STOCK: All()}))
        articles = await sync.execute(ARTICLES)

        assert RunStatus.SUCCEEDED == stock.status
        assert (RunStatus.SUCCEEDED, ()) == (
            articles.status,
            articles.failures,
        )
        assert 6 == len(platform.attachments)
        assert (directory / MARKER).is_file()
        await assert_clean(sync.staging, store)


class TestReadOnly:
    async def test_records_with_media_fail_alone(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        platform: MemoryPlatform,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """On a read-only file system (no run directory can be made) each
        record with media fails on its own, naming its field and the
        cause; the stock still moves, nothing is held, and once the file
        system is writable again the next run gets the records through."""
        await sync.staging.open(store)

        def read_only(root: Path) -> object:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(root))

        monkeypatch.setattr(fs, "new_run_dir", read_only)
        run = await sync.execute(
            SyncSpec(types={DataType.ARTICLES: All(), DataType.STOCK: All()})
        )

        assert 6 == len(run.failures)
        assert {"media.0"} == {f.field for f in run.failures}
        assert all("Read-only file system" in f.message for f in run.failures)
        assert 6 == run.counts[DataType.STOCK].done
        await assert_clean(sync.staging, store)

        monkeypatch.undo()
        again = await sync.execute(ARTICLES)
        assert () == again.failures
        assert 6 == len(platform.attachments)
        await assert_clean(sync.staging, store)

    @pytest.mark.parametrize("how", ["parent gone", "other file system"])
    async def test_not_made_where_its_file_system_was(
        self, tmp_path: Path, store: SqliteStore, how: str
    ) -> None:
        """A staging directory gone with the file system it was on (its
        parent gone, or on another file system now: unmounted) is not made
        again beneath it; the run fails naming the directory."""
        directory = tmp_path / "mnt" / "staging"
        staging = MediaStaging(directory)
        await staging.open(store)
        if how == "parent gone":
            shutil.rmtree(tmp_path / "mnt")
        else:
            shutil.rmtree(directory)
            staging._device = -1  # as if /mnt were on another file system

        with pytest.raises(MediaStagingError, match="is gone, and so is"):
            async with staging.for_run("r1"):
                pass  # pragma: no cover

        assert not directory.exists()
        await staging.aclose()
