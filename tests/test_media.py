"""
Media staging: a directory of its own, journal before write, hash names,
dead runs removed on open, run-scoped cleanup, byte budget, small files in
memory, grouped journal writes, no second upload of known content.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import attrs
import pytest

from ecomsync import (
    All,
    ConfigurationError,
    DataType,
    MediaStaging,
    MediaStagingError,
    MediaUploaded,
    MemoryErp,
    MemoryPlatform,
    SqliteStore,
    StagedMedia,
    StateStoreError,
    Synchronizer,
    SyncSpec,
    _staging_run,
)
from ecomsync import _staging_fs as fs
from ecomsync import media as media_module
from ecomsync._contracts import PendingMedia
from ecomsync._staging_fs import MARKER
from ecomsync.media import RunStaging
from ecomsync.testing import capture_events

from ._backends import both_backends
from .conftest import T0


pytestmark = pytest.mark.anyio


_anyio_backend = both_backends


@pytest.fixture(name="staging")
async def _staging(tmp_path: Path, store: SqliteStore) -> MediaStaging:
    staging = MediaStaging(tmp_path / "staging", max_bytes=100, memory_bytes=0)
    await staging.open(store)
    return staging


def files(root: Path) -> list[str]:
    """
    Every file and directory under *root* but the marker, relative.
    """
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.name != MARKER
    )


def dead_run(root: Path, **content: bytes) -> Path:
    """
    A run directory as a run that died leaves it: its lock free.
    """
    run = fs.new_run_dir(root)
    os.close(run.fd)
    for name, data in content.items():
        (run.path / name).write_bytes(data)
    return run.path


SHA_CAT = hashlib.sha256(b"cat").hexdigest()


class TestDirectory:
    async def test_creates_and_marks(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A missing directory is created and marked as ecomsync's."""
        root = tmp_path / "a" / "b"

        await MediaStaging(root, memory_bytes=0).open(store)

        assert [MARKER] == [p.name for p in root.iterdir()]

    async def test_adopts_empty(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """An existing empty directory (mkdtemp) is adopted and marked."""
        await MediaStaging(tmp_path, memory_bytes=0).open(store)

        assert (tmp_path / MARKER).is_file()

    async def test_adopts_ours_without_marker(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A directory holding nothing but run directories and locks of
        ecomsync's, its marker deleted (systemd-tmpfiles ages out a file
        in /tmp that nobody writes), is marked again and its dead runs
        swept (it was refused as foreign: no process could stage until
        an operator emptied it)."""
        root = tmp_path / "staging"
        await MediaStaging(root, memory_bytes=0).open(store)
        dead = dead_run(root, **{SHA_CAT: b"cat"})
        (root / MARKER).unlink()

        removed = await MediaStaging(root, memory_bytes=0).open(store)

        assert (root / MARKER).is_file()
        assert [f"{dead.name}/{SHA_CAT}"] == removed
        assert [] == files(root)

    @pytest.mark.parametrize("what", ["file", "hidden", "directory"])
    async def test_refuses_foreign(
        self, tmp_path: Path, store: SqliteStore, what: str
    ) -> None:
        """A non-empty directory ecomsync did not create (".",
        "/var/tmp") is refused with an error naming it, and nothing in it
        is touched, not even files named like staged ones."""
        root = tmp_path / "var-tmp"
        root.mkdir()
        name = {"file": SHA_CAT, "hidden": ".x", "directory": "run-0"}[what]
        if what == "directory":
            (root / name).mkdir()
        else:
            (root / name).write_bytes(b"precious")

        with pytest.raises(MediaStagingError, match="refusing") as exc:
            await MediaStaging(root, memory_bytes=0).open(store)

        assert str(root) in str(exc.value)
        assert [name] == [p.name for p in root.iterdir()]

    async def test_cwd_refused(
        self,
        tmp_path: Path,
        store: SqliteStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """MediaStaging(".") in a directory with files is refused."""
        (tmp_path / "notes.txt").write_text("mine")
        monkeypatch.chdir(tmp_path)

        with pytest.raises(MediaStagingError, match="refusing"):
            await MediaStaging(".", memory_bytes=0).open(store)

        assert ["notes.txt"] == [p.name for p in tmp_path.iterdir()]

    async def test_not_a_directory(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A file where the directory should be is a MediaStagingError."""
        (tmp_path / "f").write_bytes(b"")

        with pytest.raises(MediaStagingError, match="not a directory"):
            await MediaStaging(tmp_path / "f", memory_bytes=0).open(store)

    async def test_unusable_directory(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A directory that cannot be made is a MediaStagingError."""
        blocker = tmp_path / "file"
        blocker.write_bytes(b"")

        with pytest.raises(MediaStagingError, match="cannot use"):
            await MediaStaging(blocker / "sub", memory_bytes=0).open(store)

    async def test_open_removes_dead_runs(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """Opening removes what a run that died left: its files, temp
        files, directory, lock and journal entries; an entry of another
        host or directory stays."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        root = (tmp_path / "staging").resolve()
        tmp = f".{SHA_CAT}.{'0' * 16}.tmp"
        run = dead_run(root, **{SHA_CAT: b"cat", tmp: b"ca"})
        orphan = dead_run(root, **{"b" * 64: b"x"})
        (root / f"{orphan.name}.lock").unlink()
        # Died between locking and making its directory.
        (root / f"run-{'f' * 32}.lock").write_bytes(b"")
        for sha, meta in [
            ("a" * 64, {"directory": str(run), "host": _staging_run.HOST}),
            ("b" * 64, {"directory": str(run), "host": "elsewhere"}),
            (
                "c" * 64,
                {"directory": "/other/run-1", "host": _staging_run.HOST},
            ),
            ("d" * 64, {}),
        ]:
            await store.add_pending(
                PendingMedia(sha256=sha, size=1, registered_at=T0, meta=meta)
            )

        removed = await staging.open(store)

        assert {
            f"{run.name}/{SHA_CAT}",
            f"{run.name}/{tmp}",
            f"{orphan.name}/{'b' * 64}",
        } == set(removed)
        assert [] == files(root)
        assert ["b" * 64, "c" * 64, "d" * 64] == sorted(
            p.sha256 for p in await store.list_pending()
        )

    async def test_run_start_removes_dead_runs(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A run that died while this process kept going (another process
        sharing the directory) is removed when the next run starts; an
        entry whose run directory is gone goes too."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        root = (tmp_path / "staging").resolve()
        run = dead_run(root, **{SHA_CAT: b"cat"})
        for sha, where in [("a" * 64, run), ("b" * 64, root / "run-gone")]:
            await store.add_pending(
                PendingMedia(
                    sha256=sha,
                    size=1,
                    registered_at=T0,
                    meta={"directory": str(where), "host": _staging_run.HOST},
                )
            )

        async with staging.for_run("r1"):
            assert [] == files(root)
            assert [] == await store.list_pending()

    async def test_store_fails_at_run_end(
        self,
        tmp_path: Path,
        store: SqliteStore,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """When the store fails while a run ends, its files and budget are
        still released (a warning says so), and the entries go at the
        next recovery."""
        batched = BatchingStore(store)
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(batched)

        async with staging.for_run("r1") as run:
            await run.stage(b"cat", filename="a", mime_type="x/y")
            await run.stage(b"dog", filename="b", mime_type="x/y")
            batched.fail = True

        assert [] == files(staging.directory)
        assert 0 == staging.used_bytes
        assert "journal entries left for recovery" in caplog.text
        assert 2 == len(await store.list_pending())
        batched.fail = False
        await staging.open(batched)
        assert [] == await store.list_pending()

    async def test_directory_gone(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A staging directory removed under a running process is made
        and marked again when the next run starts (a temporary-files
        cleaner deleted it; see tests/test_staging_faults.py)."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        (tmp_path / "staging" / MARKER).unlink()
        (tmp_path / "staging").rmdir()

        async with staging.for_run("r1") as run:
            staged = await run.stage(b"cat", filename="c", mime_type="x")
            assert b"cat" == staged.path.read_bytes()
        assert (tmp_path / "staging" / MARKER).is_file()
        await staging.aclose()

    async def test_open_keeps_foreign_files(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """Files ecomsync did not write stay, even in its own directory
        and in a dead run's directory (which then stays too)."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        root = tmp_path / "staging"
        (root / "notes.txt").write_text("mine")
        run = dead_run(root, **{"photo.jpg": b"mine", SHA_CAT: b"cat"})
        (run / "link").symlink_to(root / "notes.txt")

        removed = await staging.open(store)

        assert [f"{run.name}/{SHA_CAT}"] == removed
        assert sorted(
            [
                "notes.txt",
                run.name,
                f"{run.name}/link",
                f"{run.name}/photo.jpg",
            ]
        ) == files(root)

    @pytest.mark.parametrize("lock", [True, False])
    async def test_run_directory_symlink_not_followed(
        self, tmp_path: Path, store: SqliteStore, lock: bool
    ) -> None:
        """A symlink named like a dead run's directory (with or without
        its free lock) is not followed: the files named like staged ones
        where it points stay (they were deleted)."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        root = tmp_path / "staging"
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / SHA_CAT).write_bytes(b"precious")
        run = f"run-{'a' * 32}"
        (root / run).symlink_to(elsewhere)
        if lock:
            (root / f"{run}.lock").write_bytes(b"")

        removed = await staging.open(store)

        assert [] == removed
        assert b"precious" == (elsewhere / SHA_CAT).read_bytes()

    async def test_file_named_like_a_run_does_not_stop_the_sweep(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A file (not a directory) named like a run's directory beside a
        free lock stays, and the dead runs after it are swept all the
        same (the sweep stopped there at every run: 'Not a directory')."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        root = tmp_path / "staging"
        odd = f"run-{'0' * 32}"
        (root / odd).write_bytes(b"not ours")
        (root / f"{odd}.lock").write_bytes(b"")
        dead = dead_run(root, **{SHA_CAT: b"cat"})

        removed = await staging.open(store)

        assert [f"{dead.name}/{SHA_CAT}"] == removed
        assert b"not ours" == (root / odd).read_bytes()

    async def test_open_keeps_live_runs(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A second MediaStaging on the same directory (another process)
        leaves the files and entries of the first one's live run alone."""
        first = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await first.open(store)
        async with first.for_run("r1") as run:
            staged = await run.stage(b"theirs", filename="a", mime_type="x/y")

            await MediaStaging(tmp_path / "staging", memory_bytes=0).open(
                store
            )

            assert staged.path.exists()
            assert [staged.sha256] == [
                p.sha256 for p in await store.list_pending()
            ]

    async def test_default_directory(self) -> None:
        """The default directory is per user under the temp directory."""
        directory = MediaStaging().directory

        assert Path(tempfile.gettempdir()) == directory.parent
        assert directory.name.startswith("ecomsync-staging")


async def waits_for_release(
    run: RunStaging, first: StagedMedia, content: bytes
) -> None:
    """
    Staging *content* in *run* waits until *first* is released, then
    goes on.
    """
    staged = anyio.Event()

    async def second() -> None:
        await run.stage(content, filename="b", mime_type="x/y")
        staged.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        assert not staged.is_set()
        await run.release(first)
        await staged.wait()


class TestSettings:
    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("max_bytes", -1),
            ("max_bytes", 0),
            ("max_bytes", 1.5),
            ("max_bytes", "100"),
            ("memory_bytes", -1),
            ("memory_bytes", True),
            ("memory_file_bytes", -1),
        ],
    )
    def test_size_out_of_range_refused(
        self, tmp_path: Path, setting: str, value: Any
    ) -> None:
        """A size that is not a whole number of bytes in its range is a
        ConfigurationError naming it when the staging is made
        (max_bytes=-1 was taken and failed every file later)."""
        with pytest.raises(ConfigurationError, match=f"{setting} must be"):
            MediaStaging(tmp_path, **{setting: value})

    def test_defaults_taken(self, tmp_path: Path) -> None:
        """The documented defaults pass: 256 MiB on disk, 64 MiB in
        memory, files up to 1 MiB kept in memory."""
        staging = MediaStaging(tmp_path)

        assert (256 * 2**20, 64 * 2**20, 2**20) == (
            staging.max_bytes,
            staging.memory_bytes,
            staging.memory_file_bytes,
        )


class TestStaging:
    async def test_registered_before_written(
        self, staging: MediaStaging, store: SqliteStore
    ) -> None:
        """A staged file is a registered pending transfer, named by hash,
        never by the name it came with, in its run's directory."""
        async with staging.for_run("r1") as run:
            staged = await run.stage(
                b"cat", filename="../../etc/passwd", mime_type="image/jpeg"
            )

            (pending,) = await store.list_pending()
            assert staged.sha256 == pending.sha256
            assert "../../etc/passwd" == pending.meta["filename"]
            assert "r1" == pending.meta["run_id"]
            assert str(staged.path.parent) == pending.meta["directory"]
            assert SHA_CAT == staged.path.name
            assert b"cat" == staged.path.read_bytes()
            assert 3 == run.held_bytes

    async def test_release_deletes(
        self, staging: MediaStaging, store: SqliteStore
    ) -> None:
        """Releasing deletes the file and closes its journal entry."""
        async with staging.for_run("r1") as run:
            staged = await run.stage(b"cat", filename="a", mime_type="x/y")

            await run.release(staged)
            await run.release(staged)

            assert not staged.path.exists()
            assert [] == await store.list_pending()
            assert 0 == staging.used_bytes

    async def test_same_content_shared(self, staging: MediaStaging) -> None:
        """The same content staged twice is one file until both release."""
        async with staging.for_run("r1") as run:
            one = await run.stage(b"cat", filename="a", mime_type="x/y")
            two = await run.stage(b"cat", filename="b", mime_type="x/y")

            await run.release(one)
            assert two.path.exists()
            await run.release(two)
            assert not two.path.exists()

    async def test_concurrent_same_content(
        self, staging: MediaStaging, store: SqliteStore
    ) -> None:
        """The same content staged by two tasks at once is written once."""
        got: list[StagedMedia] = []

        async def one(run: RunStaging) -> None:
            got.append(await run.stage(b"cat", filename="a", mime_type="x/y"))

        async with staging.for_run("r1") as run:
            async with anyio.create_task_group() as tg:
                tg.start_soon(one, run)
                tg.start_soon(one, run)
            assert got[0] is got[1]
            assert 3 == staging.used_bytes
            assert 1 == len(await store.list_pending())

    async def test_same_content_while_waiting_for_budget(
        self, staging: MediaStaging, store: SqliteStore
    ) -> None:
        """The same content staged by two tasks that both waited for budget
        is still one file."""
        got: list[StagedMedia] = []

        async def one(run: RunStaging) -> None:
            got.append(
                await run.stage(b"c" * 60, filename="a", mime_type="x/y")
            )

        async with staging.for_run("r1") as run:
            first = await run.stage(b"f" * 60, filename="a", mime_type="x")
            async with anyio.create_task_group() as tg:
                tg.start_soon(one, run)
                tg.start_soon(one, run)
                await anyio.wait_all_tasks_blocked()
                await run.release(first)
            assert got[0] is got[1]
            assert 60 == staging.used_bytes
            assert 1 == len(await store.list_pending())

    async def test_same_content_while_deleted(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """Content staged again while its last copy is being deleted waits
        for the deletion and is then staged anew, on disk."""
        batched = BatchingStore(store)
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(batched)

        async with staging.for_run("r1") as run:
            old = await run.stage(b"cat", filename="a", mime_type="x/y")
            batched.remove_gate = anyio.Event()
            async with anyio.create_task_group() as tg:
                tg.start_soon(run.release, old)
                await batched.removing.wait()
                new: list[StagedMedia] = []

                async def again() -> None:
                    new.append(
                        await run.stage(b"cat", filename="a", mime_type="x")
                    )

                tg.start_soon(again)
                await anyio.wait_all_tasks_blocked()
                assert [] == new
                batched.remove_gate.set()

            assert new[0] is not old
            assert b"cat" == new[0].path.read_bytes()
            assert [new[0].sha256] == [
                p.sha256 for p in await store.list_pending()
            ]

    async def test_hash_given(self, staging: MediaStaging) -> None:
        """A hash the caller computed already is used, not recomputed."""
        async with staging.for_run("r1") as run:
            staged = await run.stage(
                b"cat", filename="a", mime_type="x/y", sha256="e" * 64
            )

            assert "e" * 64 == staged.path.name

    async def test_no_read_back(self, staging: MediaStaging) -> None:
        """Platforms get the bytes from memory, not read back from disk."""
        async with staging.for_run("r1") as run:
            staged = await run.stage(b"cat", filename="a", mime_type="x/y")
            staged.path.write_bytes(b"changed on disk")

            assert b"cat" == staged.read_bytes()
            assert b"cat" == await staged.aread()

    async def test_read_from_disk(self, staging: MediaStaging) -> None:
        """A StagedMedia without content in memory is read from its path."""
        async with staging.for_run("r1") as run:
            staged = await run.stage(b"cat", filename="a", mime_type="x/y")
            on_disk = attrs.evolve(staged, content=None)

            assert b"cat" == on_disk.read_bytes() == await on_disk.aread()

    async def test_run_end_removes_everything(
        self, staging: MediaStaging, store: SqliteStore
    ) -> None:
        """Leaving a run's block deletes every file, entry and byte it
        still holds, its directory and its lock."""

        async def fail() -> RunStaging:
            async with staging.for_run("r1") as run:
                await run.stage(b"a" * 40, filename="a", mime_type="x/y")
                await run.stage(b"b" * 40, filename="b", mime_type="x/y")
                raise RuntimeError
            return run  # pragma: no cover

        with pytest.raises(RuntimeError):
            await fail()

        assert [] == files(staging.directory)
        assert [] == await store.list_pending()
        assert 0 == staging.used_bytes

    async def test_stage_after_end(self, staging: MediaStaging) -> None:
        """A run's staging cannot be used after its block ended."""
        async with staging.for_run("r1") as run:
            pass

        with pytest.raises(MediaStagingError, match="ended"):
            await run.stage(b"cat", filename="a", mime_type="x/y")

    async def test_budget_waits(self, staging: MediaStaging) -> None:
        """Staging waits for uploads to free space instead of exceeding
        the byte budget."""
        async with staging.for_run("r1") as run:
            first = await run.stage(b"a" * 60, filename="a", mime_type="x/y")
            await waits_for_release(run, first, b"b" * 60)

        assert staging.peak_bytes <= 100

    async def test_budget_freed_by_other_run(
        self, staging: MediaStaging
    ) -> None:
        """A run waiting for budget goes on when another run ends."""
        async with staging.for_run("r2") as waiting:
            async with staging.for_run("r1") as run:
                await run.stage(b"a" * 60, filename="a", mime_type="x/y")
                with anyio.move_on_after(0.05):
                    await waiting.stage(
                        b"b" * 60, filename="b", mime_type="x/y"
                    )
                assert 0 == waiting.held_bytes
            with anyio.fail_after(5):
                await waiting.stage(b"b" * 60, filename="b", mime_type="x/y")

    async def test_oversized_refused(
        self, staging: MediaStaging, store: SqliteStore
    ) -> None:
        """A file larger than the whole budget is refused, naming it and
        the budget, instead of overrunning the directory."""
        async with staging.for_run("r1") as run:
            with pytest.raises(MediaStagingError, match="max_bytes=100"):
                await run.stage(b"x" * 500, filename="big", mime_type="x/y")

            assert 0 == staging.used_bytes
            assert [] == await store.list_pending()

    async def test_disk_smaller_than_the_budget(
        self, staging: MediaStaging, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """On a disk with less room than max_bytes, staging waits for
        room on the disk (what is staged plus the free space when the run
        started, less a twentieth) instead of failing files with ENOSPC;
        a file larger than that room is refused naming it."""

        def usage(path: object) -> SimpleNamespace:
            return SimpleNamespace(total=1000, used=960, free=40)

        monkeypatch.setattr(shutil, "disk_usage", usage)

        async with staging.for_run("r1") as run:
            first = await run.stage(b"a" * 30, filename="a", mime_type="x/y")
            with pytest.raises(MediaStagingError, match=r"disk \(38 bytes\)"):
                await run.stage(b"x" * 39, filename="big", mime_type="x/y")
            await waits_for_release(run, first, b"b" * 30)

        assert staging.peak_bytes <= 38

    async def test_disk_not_measured(
        self, staging: MediaStaging, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A file system whose room cannot be read (disk_usage fails)
        leaves the budget at max_bytes: files fill it as before."""

        def usage(path: object) -> SimpleNamespace:
            raise PermissionError("statvfs refused")

        monkeypatch.setattr(shutil, "disk_usage", usage)

        async with staging.for_run("r1") as run:
            staged = await run.stage(b"a" * 100, filename="a", mime_type="x/y")
            assert 100 == staging.used_bytes
            await run.release(staged)

    async def test_not_opened(self, tmp_path: Path) -> None:
        """Staging before open() is a MediaStagingError."""
        with pytest.raises(MediaStagingError):
            await MediaStaging(tmp_path, memory_bytes=0).stage(
                b"", filename="a", mime_type="b"
            )
        with pytest.raises(MediaStagingError):
            async with MediaStaging(tmp_path, memory_bytes=0).for_run("r1"):
                pass  # pragma: no cover

    async def test_unscoped(
        self, staging: MediaStaging, store: SqliteStore
    ) -> None:
        """stage()/release() outside a run work like a run's, and aclose()
        deletes what was not released."""
        one = await staging.stage(b"cat", filename="a", mime_type="x/y")
        two = await staging.stage(b"dog", filename="b", mime_type="x/y")
        await staging.release(one)

        assert not one.path.exists()
        assert two.path.exists()
        await staging.aclose()
        await staging.aclose()
        await staging.release(two)
        assert [] == files(staging.directory)
        assert [] == await store.list_pending()
        assert 0 == staging.used_bytes


class TestRunDirectory:
    async def test_cannot_make(
        self,
        staging: MediaStaging,
        store: SqliteStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A run directory that cannot be made fails the file with a
        MediaStagingError, leaving no lock, entry or byte behind."""
        monkeypatch.setattr(fs.secrets, "token_hex", lambda n: "0" * 2 * n)
        (staging.directory / f"run-{'0' * 32}").write_bytes(b"in the way")

        async with staging.for_run("r1") as run:
            with pytest.raises(MediaStagingError, match="cannot stage"):
                await run.stage(b"cat", filename="a", mime_type="x/y")

        assert [f"run-{'0' * 32}"] == files(staging.directory)
        assert [] == await store.list_pending()
        assert 0 == staging.used_bytes

    async def test_ended_while_staging(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A file still being staged when its run's block is left fails,
        and leaves nothing behind."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        batched = BatchingStore(store)
        await staging.open(batched)
        errors: list[MediaStagingError] = []

        async def late(run: RunStaging) -> None:
            try:
                await run.stage(b"cat", filename="a", mime_type="x/y")
            except MediaStagingError as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            async with staging.for_run("r1") as run:
                await run.stage(b"dog", filename="b", mime_type="x/y")
                batched.gate = anyio.Event()
                tg.start_soon(late, run)
                # The late file waits for its journal entry.
                await batched.waiting.wait()
            batched.gate.set()

        assert 1 == len(errors)
        assert [] == files(staging.directory)
        assert [] == await store.list_pending()
        assert 0 == staging.used_bytes

    def test_retire_all(self, tmp_path: Path) -> None:
        """Taking staged files away renames each to its spare name or
        deletes it, and reports which are gone and which became spares;
        one that cannot be deleted is kept (and keeps its journal
        entry)."""
        for name in ("kept", "file"):
            (tmp_path / name).write_bytes(b"data")
        (tmp_path / "dir").mkdir()
        spare = str(tmp_path / f".{'1' * 16}.spare")
        files: list[tuple[str, str | None]] = [
            (str(tmp_path / "kept"), spare),
            (str(tmp_path / "file"), None),
            (str(tmp_path / "missing"), str(tmp_path / f".{'2' * 16}.spare")),
            (str(tmp_path / "dir"), None),
        ]

        gone = fs.retire_all(files)

        assert {
            str(tmp_path / "kept"): spare,
            str(tmp_path / "file"): None,
            str(tmp_path / "missing"): None,
        } == gone
        assert [f".{'1' * 16}.spare", "dir"] == sorted(
            p.name for p in tmp_path.iterdir()
        )
        assert b"data" == Path(spare).read_bytes()

    async def test_repr(self, staging: MediaStaging) -> None:
        """The repr names the directory and the budget in use."""
        assert repr(staging).endswith("staging' 0/100 bytes>")


def on_disk(root: Path) -> int:
    """
    The bytes of the files under *root* (the marker left out).
    """
    return sum(
        p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and p.name != MARKER and not p.name.endswith(".lock")
    )


class TestSpares:
    async def test_written_over(self, staging: MediaStaging) -> None:
        """A released file is kept as a spare (its bytes counted in the
        budget, not as staged) and the next file no smaller is written
        over it: same inode, exactly the new content, no spare left."""
        async with staging.for_run("r1") as run:
            first = await run.stage(b"a" * 30, filename="a", mime_type="x")
            inode = first.path.stat().st_ino
            await run.release(first)

            assert not first.path.exists()
            (spare,) = [
                p for p in first.path.parent.iterdir() if p.suffix == ".spare"
            ]
            assert (0, 30) == (staging.used_bytes, on_disk(staging.directory))

            second = await run.stage(b"b" * 40, filename="b", mime_type="x")

            assert inode == second.path.stat().st_ino
            assert b"b" * 40 == second.path.read_bytes()
            assert not spare.exists()
            assert [second.path.name] == [
                p.name for p in second.path.parent.iterdir()
            ]
        assert [] == files(staging.directory)
        assert 0 == staging.used_bytes

    async def test_larger_spare_not_used(self, staging: MediaStaging) -> None:
        """A spare larger than the new file stays a spare: the new file
        is a new one, holding exactly its content."""
        async with staging.for_run("r1") as run:
            first = await run.stage(b"a" * 30, filename="a", mime_type="x")
            await run.release(first)

            second = await run.stage(b"b" * 20, filename="b", mime_type="x")

            assert b"b" * 20 == second.path.read_bytes()
            assert 50 == on_disk(staging.directory)

    async def test_budget_counts_spares(self, staging: MediaStaging) -> None:
        """Spares count in the byte budget: a file that does not fit
        beside them has them deleted first, so the directory never holds
        more than max_bytes."""
        async with staging.for_run("r1") as run:
            for size in (60, 30):
                staged = await run.stage(
                    bytes([size]) * size, filename="a", mime_type="x"
                )
                await run.release(staged)
            assert 90 == on_disk(staging.directory)

            # 35 bytes over the spare of 30: 60 + 35 on disk.
            await run.stage(b"c" * 35, filename="c", mime_type="x")
            assert 95 == on_disk(staging.directory)
            # 20 bytes: no spare is that small, and 95 + 20 > 100.
            await run.stage(b"d" * 20, filename="d", mime_type="x")

            assert 55 == on_disk(staging.directory) == staging.used_bytes
        assert staging.peak_bytes <= 100

    async def test_other_runs_spare(self, staging: MediaStaging) -> None:
        """A run writes over another run's spare, moved into its own
        directory; the other run's end leaves that file alone."""
        async with staging.for_run("r2") as second:
            async with staging.for_run("r1") as first:
                staged = await first.stage(
                    b"a" * 30, filename="a", mime_type="x"
                )
                await first.release(staged)

                mine = await second.stage(
                    b"b" * 30, filename="b", mime_type="x"
                )

                assert staged.path.parent != mine.path.parent
                assert [] == list(staged.path.parent.iterdir())
            assert b"b" * 30 == mine.path.read_bytes()
            assert 30 == staging.used_bytes
        assert [] == files(staging.directory)

    async def test_run_end_forgets_its_spares(
        self, staging: MediaStaging
    ) -> None:
        """A run's spares go with its directory when it ends; another run
        staging afterwards makes a new file."""
        async with staging.for_run("r1") as run:
            staged = await run.stage(b"a" * 30, filename="a", mime_type="x")
            await run.release(staged)
        assert [] == files(staging.directory)

        async with staging.for_run("r2") as run:
            await run.stage(b"b" * 30, filename="b", mime_type="x")
            assert 30 == on_disk(staging.directory)
        assert 0 == staging.used_bytes

    def test_spare_gone_written_new(self, tmp_path: Path) -> None:
        """A spare that is gone (its run ended meanwhile) is replaced by a
        new file; the writer takes the spare it used out of the list."""
        taken = [str(tmp_path / "elsewhere" / f".{'1' * 16}.spare")]

        fs.write_file(tmp_path, SHA_CAT, b"cat", taken)

        assert [] == taken
        assert [SHA_CAT] == [p.name for p in tmp_path.iterdir()]
        assert b"cat" == (tmp_path / SHA_CAT).read_bytes()

    async def test_spare_kept_when_not_written(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A file that fails before it is written (its journal entry
        refused) gives the spare it took back, with its bytes, and the run
        ends clean."""
        batched = BatchingStore(store)
        staging = MediaStaging(
            tmp_path / "staging", max_bytes=100, memory_bytes=0
        )
        await staging.open(batched)
        async with staging.for_run("r1") as run:
            staged = await run.stage(b"a" * 30, filename="a", mime_type="x")
            await run.release(staged)
            batched.fail = True

            with pytest.raises(StateStoreError):
                await run.stage(b"b" * 30, filename="b", mime_type="x")

            assert (0, 30) == (staging.used_bytes, on_disk(staging.directory))
            batched.fail = False
            again = await run.stage(b"b" * 30, filename="b", mime_type="x")
            assert (30, 30) == (staging.used_bytes, on_disk(staging.directory))
            await run.release(again)
        assert [] == files(staging.directory)
        assert [] == await store.list_pending()

    async def test_spare_of_ended_run_not_kept(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A spare taken from a run that ends before the file is written
        is not given back (it went with its run's directory), and its
        bytes are not counted any more."""
        batched = BatchingStore(store)
        staging = MediaStaging(
            tmp_path / "staging", max_bytes=100, memory_bytes=0
        )
        await staging.open(batched)
        errors: list[StateStoreError] = []

        async def refused(run: RunStaging) -> None:
            try:
                await run.stage(b"b" * 30, filename="b", mime_type="x")
            except StateStoreError as exc:
                errors.append(exc)

        async with staging.for_run("r2") as second:
            async with anyio.create_task_group() as tg:
                async with staging.for_run("r1") as first:
                    staged = await first.stage(
                        b"a" * 30, filename="a", mime_type="x"
                    )
                    await first.release(staged)
                    batched.gate = anyio.Event()
                    batched.fail = True
                    tg.start_soon(refused, second)
                    await batched.waiting.wait()
                batched.gate.set()
            batched.gate = None
            batched.fail = False

            assert 1 == len(errors)
            with anyio.fail_after(5):
                await second.stage(b"c" * 100, filename="c", mime_type="x")
            assert 100 == on_disk(staging.directory)
        assert [] == files(staging.directory)

    async def test_spares_capped(
        self, staging: MediaStaging, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Beyond MAX_SPARES, released files are deleted."""
        monkeypatch.setattr(_staging_run, "MAX_SPARES", 1)
        monkeypatch.setattr(media_module, "MAX_SPARES", 1)
        async with staging.for_run("r1") as run:
            staged = [
                await run.stage(bytes([i]) * 10, filename="a", mime_type="x")
                for i in range(3)
            ]
            for one in staged:
                await run.release(one)

            assert 10 == on_disk(staging.directory)

    async def test_large_files_and_spare_bytes_capped(
        self, staging: MediaStaging, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A released file above MAX_SPARE_FILE_BYTES, or one the spares'
        MAX_SPARE_BYTES has no room for, is deleted, not kept."""
        monkeypatch.setattr(media_module, "MAX_SPARE_FILE_BYTES", 20)
        monkeypatch.setattr(media_module, "MAX_SPARE_BYTES", 25)
        async with staging.for_run("r1") as run:
            large = await run.stage(b"L" * 21, filename="l", mime_type="x")
            await run.release(large)

            assert 0 == on_disk(staging.directory)

            staged = [
                await run.stage(bytes([i]) * 15, filename="s", mime_type="x")
                for i in range(2)
            ]
            for one in staged:
                await run.release(one)

            assert 15 == on_disk(staging.directory)

    async def test_dead_runs_spares_removed(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """Opening removes the spares of a run that died."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        spare = f".{'0' * 16}.spare"
        run = dead_run(staging.directory.resolve(), **{spare: b"old"})

        removed = await staging.open(store)

        assert [f"{run.name}/{spare}"] == removed
        assert [] == files(staging.directory)


class TestMemory:
    @pytest.fixture(name="staging")
    async def _staging(
        self, tmp_path: Path, store: SqliteStore
    ) -> MediaStaging:
        staging = MediaStaging(
            tmp_path / "staging",
            max_bytes=100,
            memory_bytes=10,
            memory_file_bytes=6,
        )
        await staging.open(store)
        return staging

    async def test_small_in_memory(
        self, staging: MediaStaging, store: SqliteStore
    ) -> None:
        """A small file within the memory budget touches neither the disk
        nor the journal."""
        async with staging.for_run("r1") as run:
            staged = await run.stage(b"cat", filename="a", mime_type="x/y")

            assert b"cat" == staged.read_bytes()
            assert not staged.path.exists()
            assert [] == await store.list_pending()
            assert (0, 3) == (staging.used_bytes, staging.memory_used_bytes)
            await run.release(staged)
            assert 0 == staging.memory_used_bytes

    @pytest.mark.parametrize(
        ("first", "second"), [(b"big file", b""), (b"12345", b"678901")]
    )
    async def test_else_on_disk(
        self, staging: MediaStaging, first: bytes, second: bytes
    ) -> None:
        """A file too large for memory, or one past the memory budget, is
        staged on disk."""
        async with staging.for_run("r1") as run:
            staged = [
                await run.stage(c, filename="a", mime_type="x/y")
                for c in (first, second)
                if c
            ]

            assert staged[-1].path.exists()
            assert len(staged[-1].read_bytes()) == staging.used_bytes
        assert 0 == staging.memory_used_bytes

    async def test_small_files_in_memory_by_default(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """With the defaults a small file is neither written nor
        journalled; a file over 1 MiB is staged on disk as before."""
        staging = MediaStaging(tmp_path / "staging")
        await staging.open(store)
        big = b"x" * (2**20 + 1)
        async with staging.for_run("r1") as run:
            small = await run.stage(b"cat", filename="a", mime_type="x/y")
            large = await run.stage(big, filename="b", mime_type="x/y")

            assert not small.path.exists()
            assert big == large.path.read_bytes()
            pending = await store.list_pending()
            assert [large.sha256] == [p.sha256 for p in pending]
            assert (len(big), 3) == (
                staging.used_bytes,
                staging.memory_used_bytes,
            )
        assert (0, 0) == (staging.used_bytes, staging.memory_used_bytes)

    async def test_run_in_memory(
        self,
        erp: MemoryErp,
        platform: MemoryPlatform,
        store: SqliteStore,
        tmp_path: Path,
    ) -> None:
        """A run with in-memory staging uploads every file without
        writing or journalling any, and leaves nothing behind."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=2**20)
        sync = Synchronizer(
            erp=erp, platforms={"shop": platform}, store=store, staging=staging
        )

        run = await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))

        assert () == run.failures
        assert {f"image {i}".encode() for i in range(1, 7)} == set(
            platform.media.values()
        )
        assert [] == files(staging.directory)
        assert 0 == staging.memory_used_bytes == staging.peak_bytes


class TestGroupCommit:
    async def test_one_transaction_per_group(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """Files staged and released together are journalled in one store
        call each way when the store offers the batch methods."""
        batched = BatchingStore(store)
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(batched)
        contents = [f"file {i}".encode() for i in range(8)]

        async with staging.for_run("r1") as run:
            got: list[StagedMedia] = []

            async def one(content: bytes) -> None:
                got.append(
                    await run.stage(content, filename="a", mime_type="x/y")
                )

            async with anyio.create_task_group() as tg:
                for content in contents:
                    tg.start_soon(one, content)
            assert 8 == len(await store.list_pending())
            async with anyio.create_task_group() as tg:
                for staged in got:
                    tg.start_soon(run.release, staged)

        assert 8 == sum(batched.added) == sum(batched.removed)
        assert len(batched.added) <= 2
        assert len(batched.removed) <= 2
        assert [] == await store.list_pending()

    async def test_failure_reaches_everyone(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A journal write that fails fails every file of its group, and
        none of them is left anywhere."""
        batched = BatchingStore(store, fail=True)
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(batched)
        errors: list[BaseException] = []

        async def one(run: RunStaging, content: bytes) -> None:
            try:
                await run.stage(content, filename="a", mime_type="x/y")
            except StateStoreError as exc:
                errors.append(exc)

        async with staging.for_run("r1") as run:
            async with anyio.create_task_group() as tg:
                for i in range(4):
                    tg.start_soon(one, run, f"f{i}".encode())

            assert 4 == len(errors)
            assert 0 == staging.used_bytes
        assert [] == files(staging.directory)


class BatchingStore:
    """
    A store with the optional batch journal methods, counting calls.
    """

    def __init__(self, store: SqliteStore, *, fail: bool = False) -> None:
        self._store = store
        self.fail = fail
        self.added: list[int] = []
        self.removed: list[int] = []
        self.gate: anyio.Event | None = None
        self.waiting = anyio.Event()
        self.remove_gate: anyio.Event | None = None
        self.removing = anyio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def add_pending_many(self, items: list[PendingMedia]) -> None:
        if self.gate is not None:
            self.waiting.set()
            await self.gate.wait()
        await anyio.sleep(0.01)
        if self.fail:
            raise StateStoreError("the store is full")
        self.added.append(len(items))
        await self._store.add_pending_many(items)

    async def remove_pending_many(self, keys: list[tuple[str, str]]) -> None:
        if self.remove_gate is not None:
            self.removing.set()
            await self.remove_gate.wait()
        await anyio.sleep(0.01)
        if self.fail:
            raise StateStoreError("the store is read-only")
        self.removed.append(len(keys))
        await self._store.remove_pending_many(keys)


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
