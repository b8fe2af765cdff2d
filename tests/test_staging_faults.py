"""
The staging directory under faults of its file system: gone while the
process lives (a temporary-files cleaner, an operator), read-only.
Records with media fail on their own, naming the field and the cause;
the rest of the run goes on, and the next run works again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from ecomsync import (
    All,
    DataType,
    MediaRef,
    MediaStaging,
    MediaStagingError,
    MediaUploaded,
    MemoryErp,
    MemoryPlatform,
    RunStatus,
    SqliteStore,
    StateStoreError,
    Synchronizer,
    SyncSpec,
)
from ecomsync import _staging_fs as fs
from ecomsync._contracts import PendingMedia
from ecomsync._fingerprint import content_hash
from ecomsync._staging_fs import MARKER
from ecomsync.erp.memory import _MemorySession
from ecomsync.testing import capture_events

from ._backends import both_backends
from ._media import SHA_CAT, dead_run, files
from ._media_cuts import assert_clean


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

    @pytest.mark.parametrize("what", ["staging directory", "run directory"])
    async def test_gone_during_a_run_made_again(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        platform: MemoryPlatform,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        what: str,
    ) -> None:
        """The staging directory (or the run's own) deleted while a run
        stages (a temporary-files cleaner, an operator's rm -rf): the run
        makes it again and stages the rest of its media there; every
        record lands with its own bytes (the rest of the run's media
        failed with 'No such file or directory')."""
        directory = tmp_path / "staging"
        real = _MemorySession.read_media

        async def read_media(self: Any, ref: MediaRef) -> bytes:
            if ref.key == "img-4":
                for _ in range(5000):  # once another file is staged
                    if list(directory.glob("run-*/[0-9a-f]*")):
                        break
                    await anyio.sleep(0.001)
                gone = [directory]
                if what == "run directory":
                    gone = list(directory.glob("run-*[!k]"))
                assert [] != gone
                for path in gone:
                    shutil.rmtree(path)
            return await real(self, ref)

        monkeypatch.setattr(_MemorySession, "read_media", read_media)
        run = await sync.execute(ARTICLES)

        assert (RunStatus.SUCCEEDED, ()) == (run.status, run.failures)
        assert 6 == len(platform.attachments)
        for (_, number), (media_id,) in platform.attachments.items():
            assert f"image {number[2:]}".encode() == platform.media[media_id]
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
        staging = MediaStaging(directory, memory_bytes=0)
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


class FullStore(SqliteStore):
    """
    A SqliteStore whose journal steps fail as a full disk fails SQLite's
    journal: those registering files (*adds*, from the second on), or
    those closing entries once their files are taken away (*closes*).
    """

    fail: str = ""
    steps: int = 0

    async def update_pending(
        self,
        closing: Callable[[], Sequence[tuple[str, str]]] | None,
        adding: Sequence[PendingMedia] = (),
    ) -> None:
        self.steps += 1
        full = (self.fail == "adds" and adding and self.steps > 1) or (
            self.fail == "closes" and closing is not None
        )
        if not full:
            await super().update_pending(closing, adding)
            return
        if closing is not None:
            await anyio.to_thread.run_sync(closing)
        raise StateStoreError(
            f"state store {self.path!r}: database or disk is full"
        )


class TestStoreFull:
    @pytest.mark.parametrize("fail", ["adds", "closes"])
    async def test_run_fails_then_heals(
        self,
        erp: MemoryErp,
        platform: MemoryPlatform,
        tmp_path: Path,
        fail: str,
    ) -> None:
        """The disk full under the state store's journal while files are
        staged or released: the run fails with the store's error (as any
        store failure ends a run), no staged file or byte of budget is
        left; the next run closes the entries left, uploads what is
        missing and no remembered content again."""
        store = FullStore(tmp_path / "state.db")
        store.fail = fail
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            staging=MediaStaging(tmp_path / "staging", memory_bytes=0),
        )
        with pytest.raises(StateStoreError, match="disk is full"):
            await sync.execute(ARTICLES)
        assert [] == files(tmp_path / "staging")
        assert 0 == sync.staging.used_bytes
        shas = [content_hash(f"image {i}".encode()) for i in range(1, 7)]
        remembered = [await store.get_media_id("shop", h) for h in shas]

        store.fail = ""
        async with capture_events(sync, ARTICLES) as again:
            uploaded = again.of(MediaUploaded)

        assert again.summary is not None
        assert () == again.summary.failures
        assert 6 == len(platform.attachments)
        assert {h for h, m in zip(shas, remembered, strict=True) if m} == {
            e.sha256 for e in uploaded if e.reused
        }
        assert 6 == len({e.sha256 for e in uploaded})
        await assert_clean(sync.staging, store)
        await sync.aclose()
        await store.aclose()


def _locks_held() -> list[str]:
    """This process's open handles on staging run locks."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.endswith(".lock") and "/run-" in target:
                found.append(target)
    return found


def _failing_unlink(tmp_path: Path) -> Callable[..., None]:
    """
    os.unlink, but nothing under the staging directory can be deleted
    (EROFS): its file system was remounted read-only after an error.
    """
    real = os.unlink
    staging = str(tmp_path / "staging")

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if os.fspath(path).startswith(staging):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        real(path, *args, **kwargs)

    return unlink


class TestReadOnlyAtTheEnd:
    async def test_sweep_fails_the_run_goes_on(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A dead run's files that cannot be removed (the staging file
        system read-only) do not fail a run: it warns and goes on, and
        the first run once the file system is writable again removes
        them (every run failed at its start, even a stock-only one)."""
        await sync.staging.open(store)
        dead_run(tmp_path / "staging", **{SHA_CAT: b"cat"})
        monkeypatch.setattr(os, "unlink", _failing_unlink(tmp_path))

        run = await sync.execute(SyncSpec(types={DataType.STOCK: All()}))

        assert RunStatus.SUCCEEDED == run.status
        monkeypatch.undo()
        again = await sync.execute(SyncSpec(types={DataType.STOCK: All()}))
        assert RunStatus.SUCCEEDED == again.status
        await assert_clean(sync.staging, store)

    async def test_run_ends_and_the_next_one_sweeps(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        platform: MemoryPlatform,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The staging file system turned read-only (remounted after an
        error) while a run ends: the run, whose records all landed, ends
        succeeded, warning that files are left; its run lock is let go,
        so the first run after the file system is writable again sweeps
        them (the run failed with a bare OSError, and the lock's handle
        stayed open: the run's files stayed until the process ended)."""
        monkeypatch.setattr(os, "unlink", _failing_unlink(tmp_path))
        run = await sync.execute(ARTICLES)

        assert (RunStatus.SUCCEEDED, ()) == (run.status, run.failures)
        assert 6 == len(platform.attachments)
        assert [] == _locks_held()
        assert 0 == sync.staging.used_bytes

        monkeypatch.undo()
        again = await sync.execute(SyncSpec(types={DataType.STOCK: All()}))

        assert RunStatus.SUCCEEDED == again.status
        await assert_clean(sync.staging, store)
