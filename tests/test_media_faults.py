"""
Media staging under disk faults: a full or failing disk, a process killed
while it stages.  After each: no file, no journal entry, no byte of
budget left, and the next run works.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from ecomsync import (
    All,
    DataType,
    MediaStaging,
    MediaStagingError,
    MemoryPlatform,
    SqliteStore,
    Synchronizer,
    SyncSpec,
    media,
)
from ecomsync import _staging_fs as fs

from ._backends import both_backends
from ._media import files
from ._media_cuts import SPEC, assert_clean


pytestmark = pytest.mark.anyio

_anyio_backend = both_backends


# -- disk faults -----------------------------------------------------------


def failing(
    code: int, *, when: Callable[[bytes], bool] = lambda _: True
) -> Callable[..., Any]:
    """
    A stand-in for os.write: for a file whose first write *when* picks, it
    writes half, then fails with *code*.
    """
    real = os.write
    bad: set[int] = set()

    def write(fd: int, data: memoryview) -> int:
        if fd not in bad:
            if not when(bytes(data)):
                return real(fd, data)
            bad.add(fd)
            return real(fd, data[: len(data) // 2])
        bad.discard(fd)
        raise OSError(code, os.strerror(code))

    return write


def failing_fsync(code: int) -> Callable[[int], None]:
    """
    A stand-in for os.fsync that fails with *code*.
    """

    def fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    return fsync


@pytest.fixture(name="staging")
async def _staging(tmp_path: Path, store: SqliteStore) -> MediaStaging:
    staging = MediaStaging(tmp_path / "staging", max_bytes=100, memory_bytes=0)
    await staging.open(store)
    return staging


class TestDiskFaults:
    @pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
    @pytest.mark.parametrize("site", ["_write", "_fsync"])
    async def test_write_fails_cleanly(
        self,
        staging: MediaStaging,
        store: SqliteStore,
        monkeypatch: pytest.MonkeyPatch,
        code: int,
        site: str,
    ) -> None:
        """A full disk or an I/O error while writing raises a
        MediaStagingError naming the file and the cause, and leaves no
        temp file, journal entry or counted byte."""
        fault = failing(code) if site == "_write" else failing_fsync(code)
        monkeypatch.setattr(fs, site, fault)

        async with staging.for_run("r1") as run:
            with pytest.raises(MediaStagingError) as exc:
                await run.stage(b"cat", filename="cat.jpg", mime_type="x/y")

            assert "cat.jpg" in str(exc.value)
            assert os.strerror(code) in str(exc.value)
            assert [] == [f for f in files(staging.directory) if "/" in f]
            assert [] == await store.list_pending()
            assert 0 == staging.used_bytes == run.held_bytes

            monkeypatch.undo()
            staged = await run.stage(b"cat", filename="cat.jpg", mime_type="x")
            assert b"cat" == staged.path.read_bytes()
        await assert_clean(staging, store)

    def test_one_file_of_a_hop_fails_alone(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Files written in one worker-thread hop fail one by one: the
        file hitting ENOSPC gets its error and leaves nothing, the others
        are written."""
        monkeypatch.setattr(
            fs, "_write", failing(errno.ENOSPC, when=lambda d: d == b"bad")
        )
        writes = [
            fs.Write(tmp_path, name, content, [])
            for name, content in [
                ("a", b"good 1"),
                ("b", b"bad"),
                ("c", b"ok"),
            ]
        ]

        fs.write_all(writes)

        assert [None, errno.ENOSPC, None] == [
            w.error and w.error.errno for w in writes
        ]
        assert ["a", "c"] == sorted(p.name for p in tmp_path.iterdir())
        with pytest.raises(OSError, match="No space left"):
            writes[1].check()

    def test_one_fsync_of_a_hop_fails_alone(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A file of a hop whose fsync fails (EIO) gets its error and
        leaves nothing; the others are fsynced and renamed."""
        real = fs._fsync
        calls: list[int] = []

        def fsync(fd: int) -> None:
            calls.append(fd)
            if len(calls) == 2:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            real(fd)

        monkeypatch.setattr(fs, "_fsync", fsync)
        writes = [
            fs.Write(tmp_path, name, name.encode(), []) for name in "abc"
        ]

        fs.write_all(writes)

        assert [None, errno.EIO, None] == [
            w.error and w.error.errno for w in writes
        ]
        assert ["a", "c"] == sorted(p.name for p in tmp_path.iterdir())

    def test_hop_writes_all_then_fsyncs_each_before_rename(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A hop writes every file before the first fsync (one journal
        commit for the group), and renames none before every file of the
        hop is fsynced."""
        seen: list[str] = []
        real_write, real_fsync = fs._write, fs._fsync

        def write(fd: int, data: memoryview) -> int:
            seen.append("write " + bytes(data).decode())
            return real_write(fd, data)

        def fsync(fd: int) -> None:
            named = sorted(
                p.name for p in tmp_path.iterdir() if p.name in "ab"
            )
            seen.append(f"fsync, named {named}")
            real_fsync(fd)

        monkeypatch.setattr(fs, "_write", write)
        monkeypatch.setattr(fs, "_fsync", fsync)

        fs.write_all([fs.Write(tmp_path, n, n.encode(), []) for n in "ab"])

        assert [
            "write a",
            "write b",
            "fsync, named []",
            "fsync, named []",
        ] == seen
        assert {"a": b"a", "b": b"b"} == {
            p.name: p.read_bytes() for p in tmp_path.iterdir()
        }

    def test_hop_interrupted_leaves_nothing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An error that is no file's own (KeyboardInterrupt) in the middle
        of a hop closes and deletes the files not renamed yet."""

        def fsync(fd: int) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(fs, "_fsync", fsync)

        with pytest.raises(KeyboardInterrupt):
            fs.write_all(
                [fs.Write(tmp_path, n, n.encode(), []) for n in "abc"]
            )

        assert [] == list(tmp_path.iterdir())

    def test_rename_fails_alone(self, tmp_path: Path) -> None:
        """A file of a hop that cannot be renamed to its name gets the
        error and leaves no temporary file; the others are written."""
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "foreign").write_bytes(b"not ours")
        writes = [fs.Write(tmp_path, n, n.encode(), []) for n in "abc"]

        fs.write_all(writes)

        assert [False, True, False] == [w.error is not None for w in writes]
        assert ["a", "b", "c"] == sorted(p.name for p in tmp_path.iterdir())
        assert [b"a", b"c"] == [(tmp_path / n).read_bytes() for n in "ac"]

    async def test_group_fsyncs_in_a_thread_only(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A group's small files are written on the event loop's thread
        and a large one in the worker thread, which fsyncs them all; none
        is renamed before every file of the group is fsynced."""
        loop_thread = threading.current_thread()
        seen: list[str] = []
        real_write, real_fsync = fs._write, fs._fsync

        def where() -> str:
            return (
                "loop"
                if threading.current_thread() is loop_thread
                else "thread"
            )

        def write(fd: int, data: memoryview) -> int:
            seen.append(f"write {len(data)} in the {where()}")
            return real_write(fd, data)

        def fsync(fd: int) -> None:
            named = sorted(
                p.name for p in tmp_path.iterdir() if p.name in "abc"
            )
            seen.append(f"fsync in the {where()}, named {named}")
            real_fsync(fd)

        monkeypatch.setattr(fs, "_write", write)
        monkeypatch.setattr(fs, "_fsync", fsync)
        big = media._INLINE_FILE_BYTES + 1
        sizes = {"a": 1, "b": big, "c": 2}
        await media._write_all(
            [fs.Write(tmp_path, n, b"x" * k, []) for n, k in sizes.items()]
        )

        assert [
            "write 1 in the loop",
            "write 2 in the loop",
            f"write {big} in the thread",
            "fsync in the thread, named []",
            "fsync in the thread, named []",
            "fsync in the thread, named []",
        ] == seen
        assert sizes == {p.name: p.stat().st_size for p in tmp_path.iterdir()}

    async def test_group_interrupted_leaves_nothing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An error that is no file's own in a group's worker thread
        closes and deletes every file of the group, those written on the
        event loop's thread too."""
        calls: list[int] = []

        def fsync(fd: int) -> None:
            calls.append(fd)
            raise RuntimeError("not a file's own")

        monkeypatch.setattr(fs, "_fsync", fsync)

        with pytest.raises(RuntimeError, match="not a file's own"):
            await media._write_all(
                [fs.Write(tmp_path, n, n.encode(), []) for n in "abc"]
            )

        assert 1 == len(calls)
        assert [] == list(tmp_path.iterdir())

    async def test_concurrent_files_fail_alone(
        self,
        staging: MediaStaging,
        store: SqliteStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Of files staged together, the one hitting ENOSPC raises a
        MediaStagingError; the others are staged."""
        monkeypatch.setattr(
            fs, "_write", failing(errno.ENOSPC, when=lambda d: d == b"bad")
        )
        outcomes: dict[bytes, str] = {}

        async def one(run: Any, content: bytes) -> None:
            try:
                await run.stage(content, filename="f", mime_type="x/y")
                outcomes[content] = "staged"
            except MediaStagingError as exc:
                outcomes[content] = str(exc)

        async with staging.for_run("r1") as run:
            async with anyio.create_task_group() as tg:
                for content in (b"good 1", b"bad", b"good 2"):
                    tg.start_soon(one, run, content)

            assert "staged" == outcomes[b"good 1"] == outcomes[b"good 2"]
            assert "No space left" in outcomes[b"bad"]
            assert 2 == len(await store.list_pending())
            assert 12 == staging.used_bytes
        await assert_clean(staging, store)

    async def test_full_disk_fails_record_only(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        platform: MemoryPlatform,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A file that cannot be staged (ENOSPC) fails its record alone,
        naming the field and the cause; the rest goes through, nothing is
        left, and the next run gets the record through."""
        monkeypatch.setattr(
            fs, "_write", failing(errno.ENOSPC, when=lambda d: d == b"image 2")
        )

        run = await sync.execute(SPEC)

        (failure,) = run.failures
        assert ("A-2", "media.0") == (failure.number, failure.field)
        assert "No space left" in failure.message
        assert 5 == len(platform.attachments)
        await assert_clean(sync.staging, store)

        monkeypatch.undo()
        again = await sync.execute(SPEC)

        assert () == again.failures
        assert 6 == len(platform.attachments)
        await assert_clean(sync.staging, store)

    async def test_disk_gone_fails_media_records(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """With every write failing, each record with media fails on its
        own (no exception group), the stock still moves, and nothing is
        left behind."""
        monkeypatch.setattr(fs, "_fsync", failing_fsync(errno.EIO))

        run = await sync.execute(
            SyncSpec(types={DataType.ARTICLES: All(), DataType.STOCK: All()})
        )

        assert 6 == len(run.failures)
        assert 6 == run.counts[DataType.STOCK].done
        await assert_clean(sync.staging, store)


# -- a process killed while it stages --------------------------------------

CHILD = textwrap.dedent(
    """
    import sys
    import anyio
    from ecomsync import MediaStaging, SqliteStore

    async def main(directory, db):
        staging = MediaStaging(directory, memory_bytes=0)
        await staging.open(SqliteStore(db))
        async with staging.for_run("doomed") as run:
            for i in range(3):
                await run.stage(b"file %d" % i, filename="f", mime_type="x")
            print("staged", flush=True)
            await anyio.sleep(60)

    anyio.run(main, *sys.argv[1:])
    """
)


def kill_while_staging(directory: Path, db: Path) -> None:
    """
    Run CHILD until it staged its files, then SIGKILL it.
    """
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory), str(db)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    with child.stdout:
        assert "staged\n" == child.stdout.readline()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


class TestKilled:
    async def test_next_open_removes_killed_runs_files(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """After a process is killed mid-run, the next open() removes its
        files, run directory, lock and journal entries."""
        directory = tmp_path / "staging"
        await anyio.to_thread.run_sync(
            kill_while_staging, directory, Path(str(store.path))
        )
        assert 5 == len(files(directory))  # lock, directory, 3 files
        assert 3 == len(await store.list_pending())

        staging = MediaStaging(directory, memory_bytes=0)
        removed = await staging.open(store)

        assert 3 == len(removed)
        await assert_clean(staging, store)
