"""
Media staging under faults: a cancel at every await point of the media
path, a full or failing disk, a process killed while it stages.  After
each: no file, no journal entry, no byte of budget left, and the next run
works.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import attrs
import pytest

from ecomsync import (
    All,
    AuthenticationError,
    DataType,
    EcomsyncError,
    MediaStaging,
    MediaStagingError,
    MediaUploaded,
    MemoryErp,
    MemoryPlatform,
    RunRecord,
    RunStatus,
    SqliteStore,
    StagedMedia,
    Synchronizer,
    SyncSpec,
    media,
)
from ecomsync import _staging_fs as fs

from ._backends import both_backends
from .test_media import files


pytestmark = pytest.mark.anyio

SPEC = SyncSpec(types={DataType.ARTICLES: All()})


_anyio_backend = both_backends


async def assert_clean(staging: MediaStaging, store: SqliteStore) -> None:
    """
    Nothing of any run is left: files, journal entries, budget.
    """
    assert [] == files(staging.directory)
    assert [] == await store.list_pending()
    assert (0, 0) == (staging.used_bytes, staging.memory_used_bytes)


def _staged(
    *, erp: Any, platform: MemoryPlatform, store: SqliteStore, tmp: Path
) -> Synchronizer:
    """A synchroniser of *erp* and *platform* staging under *tmp*."""
    return Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=store,
        staging=MediaStaging(tmp / "staging", memory_bytes=0),
    )


# -- cancel at every await point -------------------------------------------


@attrs.define
class Cut:
    """
    Cancels the host's scope when the run reaches *point* the *nth* time.
    """

    point: str
    nth: int
    scope: anyio.CancelScope | None = None
    hits: Counter[str] = attrs.Factory(Counter)
    fired: bool = False

    def hit(self, name: str) -> bool:
        self.hits[name] += 1
        if (
            self.scope is None
            or name != self.point
            or self.hits[name] != self.nth
        ):
            return False
        self.fired = True
        self.scope.cancel()
        return True

    async def reached(self, name: str) -> None:
        if self.hit(name):
            await anyio.lowlevel.checkpoint()

    def in_thread(self, name: str, fn: Callable[..., Any]) -> Any:
        def call(*args: Any) -> Any:
            if self.scope is not None and name == self.point:
                # Cancel from the worker thread: delivered when it returns.
                anyio.from_thread.run_sync(self.hit, name)
            return fn(*args)

        return call


class Wrapped:
    """
    *inner*, with a cut before each of the async methods *names*.
    """

    def __init__(self, inner: Any, cut: Cut, names: set[str]) -> None:
        self._inner = inner
        self._cut = cut
        self._names = names

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name not in self._names:
            return value

        async def call(*args: Any, **kwargs: Any) -> Any:
            await self._cut.reached(name)
            return await value(*args, **kwargs)

        return call


class StepWrapped(Wrapped):
    """
    A wrapped store whose class has `update_pending`, so that staging
    takes its one-hop journal steps: cuts before a step and in its thread
    (before the files are taken away).
    """

    async def update_pending(
        self, closing: Callable[[], Any] | None, adding: Any = ()
    ) -> None:
        await self._cut.reached("update_pending")
        if closing is not None:
            closing = self._cut.in_thread("update_pending closing", closing)
        await self._inner.update_pending(closing, adding)


class CutErp(Wrapped):
    @asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        async with self._inner.session() as session:
            yield Wrapped(session, self._cut, {"read_media"})


@attrs.define
class CutStaging(MediaStaging):
    """
    A MediaStaging whose budget wait is a cut point.
    """

    cut: Cut | None = None

    async def _wait_budget(self) -> None:
        if self.cut:
            await self.cut.reached("budget wait")
        await super()._wait_budget()


#: Every await point of the media path, and which occurrence to cut at.
POINTS = {
    "read_media": 2,  # the ERP reads the file
    "get_media_id": 2,  # the store: does the platform have it?
    "budget wait": 1,  # staging waits for budget
    "run directory": 1,  # the run's directory is made (a thread)
    "add_pending_many": 2,  # the journal entry, before the write
    "write": 2,  # the file is written (a thread)
    "upload_media": 2,  # the platform uploads it
    "unlink": 1,  # release deletes the file (a thread, shielded)
    "remove_pending_many": 1,  # release closes the entry (shielded)
    "put_media_id": 2,  # the store remembers the platform's id
    "MediaUploaded": 2,  # the event reaches the host
}
#: The same with a store that has `update_pending` (the built-in ones):
#: the journal's adds and closes go in its steps.
STEP_POINTS = {
    **{
        k: v
        for k, v in POINTS.items()
        if k not in {"add_pending_many", "remove_pending_many"}
    },
    "update_pending": 2,  # a step: closes and adds, files taken away
    "update_pending closing": 2,  # in the step's thread
}
CASES = [
    *POINTS,
    *(pytest.param(f"step:{p}", id=f"step-{p}") for p in STEP_POINTS),
]


@pytest.fixture(name="cut_sync")
def _cut_sync(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    erp: MemoryErp,
    platform: MemoryPlatform,
    store: SqliteStore,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Synchronizer, Cut]:
    point = request.param
    steps = point.startswith("step:")
    point = point.removeprefix("step:")
    cut = Cut(point, (STEP_POINTS if steps else POINTS)[point])
    monkeypatch.setattr(
        fs, "new_run_dir", cut.in_thread("run directory", fs.new_run_dir)
    )
    # The files of a journal group are written and fsynced in one thread
    # call (renamed after it, on the event loop's thread).
    monkeypatch.setattr(fs, "settle", cut.in_thread("write", fs.settle))
    monkeypatch.setattr(
        fs, "retire_all", cut.in_thread("unlink", fs.retire_all)
    )
    store_names = {"get_media_id", "add_pending_many", "remove_pending_many"}
    sync = Synchronizer(
        erp=CutErp(erp, cut, set()),  # type: ignore[arg-type]
        platforms={"shop": Wrapped(platform, cut, {"upload_media"})},  # type: ignore[dict-item]
        store=(StepWrapped if steps else Wrapped)(  # type: ignore[arg-type]
            store, cut, store_names | {"put_media_id"}
        ),
        # Room for one file at a time: runs wait for budget.
        staging=CutStaging(
            tmp_path / "staging", max_bytes=8, memory_bytes=0, cut=cut
        ),
        license_timeout=5.0,
    )
    return sync, cut


class TestCancel:
    @pytest.mark.parametrize("cut_sync", CASES, indirect=True)
    async def test_cancel_leaves_nothing(
        self,
        cut_sync: tuple[Synchronizer, Cut],
        store: SqliteStore,
        platform: MemoryPlatform,
    ) -> None:
        """A run cancelled at any await point of the media path leaves no
        file, journal entry or budget, and the next run (one file of
        budget) goes through instead of hanging."""
        sync, cut = cut_sync
        with anyio.fail_after(20), anyio.CancelScope() as scope:
            cut.scope = scope
            async with sync.run(SPEC) as events:
                async for event in events:
                    if isinstance(event, MediaUploaded):
                        await cut.reached("MediaUploaded")

        assert cut.fired
        assert scope.cancelled_caught
        assert isinstance(sync.staging, CutStaging)
        await assert_clean(sync.staging, store)

        cut.scope = None
        with anyio.fail_after(20):
            run = await sync.execute(SPEC)

        assert RunStatus.SUCCEEDED == run.status
        assert 6 == len(platform.attachments)
        await assert_clean(sync.staging, store)


class CancelAfterUpload(MemoryPlatform):
    """
    A MemoryPlatform that cancels the host's scope as its first upload
    answers: the cancel lands between the upload and the store saving
    the media id.
    """

    scope: anyio.CancelScope | None = None
    shas: list[str] | None = None

    async def upload_media(self, media: StagedMedia) -> str:
        media_id = await super().upload_media(media)
        if self.shas is not None:
            self.shas.append(media.sha256)
        if self.scope is not None:
            self.scope.cancel()
            self.scope = None
        return media_id


class TestCancelAfterUpload:
    async def test_uploaded_content_is_remembered(
        self, tmp_path: Path, erp: MemoryErp, store: SqliteStore
    ) -> None:
        """A cancel that strikes as an upload answers still lets the store
        remember the platform's id for that content, so the next run does
        not upload it a second time (a duplicate file in the shop's
        media library, where ids are not derived from content)."""
        platform = CancelAfterUpload()
        sync = _staged(erp=erp, platform=platform, store=store, tmp=tmp_path)
        platform.shas = []
        with anyio.fail_after(20), anyio.CancelScope() as scope:
            platform.scope = scope
            await sync.execute(SPEC)
        assert scope.cancelled_caught
        uploaded = list(platform.shas)
        assert uploaded

        remembered = [await store.get_media_id("shop", s) for s in uploaded]
        run = await sync.execute(SPEC)

        assert None not in remembered
        assert RunStatus.SUCCEEDED == run.status
        assert sorted(set(platform.shas)) == sorted(platform.shas)
        assert 6 == len(platform.shas)


class RefusingPlatform(MemoryPlatform):
    """
    A MemoryPlatform whose credentials are refused at the third upload,
    while other uploads are still in flight.
    """

    refuse: bool = True

    async def upload_media(self, media: StagedMedia) -> str:
        self.calls["upload attempts"] += 1
        if self.refuse and self.calls["upload attempts"] == 3:
            raise AuthenticationError("the shop refused the credentials")
        await anyio.sleep(0.05)
        return await super().upload_media(media)


class TestSiblingFailure:
    async def test_refused_mid_upload_then_small_budget(
        self, tmp_path: Path, erp: MemoryErp, store: SqliteStore
    ) -> None:
        """Uploads in flight cancelled by a sibling's fatal error (issue
        13.2) leave no file, entry or budget, and the next run with room
        for one file at a time does not hang."""
        platform = RefusingPlatform()
        sync = _staged(erp=erp, platform=platform, store=store, tmp=tmp_path)

        with anyio.fail_after(20), pytest.raises(AuthenticationError):
            await sync.execute(SPEC)

        assert 2 <= sync.staging.peak_bytes // 7  # uploads were in flight
        await assert_clean(sync.staging, store)
        platform.refuse = False
        sync.staging.max_bytes = 8
        with anyio.fail_after(20):
            run = await sync.execute(SPEC)

        assert RunStatus.SUCCEEDED == run.status
        assert 6 == len(platform.attachments)
        await assert_clean(sync.staging, store)


class BrokenFilePlatform(MemoryPlatform):
    """
    A MemoryPlatform whose own file layer fails on one file ("image 2")
    with a bare `OSError`, or raises *other* (a programming error) there.
    """

    other: Exception | None = None

    async def upload_media(self, media: StagedMedia) -> str:
        if await media.aread() == b"image 2":
            if self.other is not None:
                raise self.other
            raise OSError(errno.EIO, "Input/output error", "image-2.jpg")
        return await super().upload_media(media)


async def _only_a2_failed(
    run: RunRecord,
    cause: str,
    sync: Synchronizer,
    platform: MemoryPlatform,
    store: SqliteStore,
) -> None:
    """
    A-2 alone failed, on media.0 with *cause*, in the run and the ledger;
    the other five images landed and nothing is left staged.
    """
    (failure,) = run.failures
    assert ("A-2", "media.0") == (failure.number, failure.field)
    assert cause in failure.message
    assert 5 == len(platform.attachments)
    ledger = await store.list_failures("shop", DataType.ARTICLES)
    assert [("A-2", "media.0")] == [(f.number, f.field) for f in ledger]
    await assert_clean(sync.staging, store)


class TestAdapterOSError:
    async def test_fails_its_record_only(
        self, tmp_path: Path, erp: MemoryErp, store: SqliteStore
    ) -> None:
        """An upload that raises a bare OSError (the adapter's file or
        network layer) fails its record on media.N with the cause, in the
        ledger; the other records land and nothing is left staged."""
        platform = BrokenFilePlatform()
        sync = _staged(erp=erp, platform=platform, store=store, tmp=tmp_path)

        with anyio.fail_after(20):
            run = await sync.execute(SPEC)

        await _only_a2_failed(run, "Input/output error", sync, platform, store)

    async def test_programming_error_ends_the_run(
        self, tmp_path: Path, erp: MemoryErp, store: SqliteStore
    ) -> None:
        """A TypeError from an upload is a bug, not a record's failure: it
        still ends the run (as the run's error), nothing left staged."""
        platform = BrokenFilePlatform()
        platform.other = TypeError("bug")
        sync = _staged(erp=erp, platform=platform, store=store, tmp=tmp_path)

        with (
            anyio.fail_after(20),
            pytest.raises(EcomsyncError, match="TypeError: bug") as info,
        ):
            await sync.execute(SPEC)

        assert isinstance(info.value.__cause__, TypeError)

        await assert_clean(sync.staging, store)


class _BrokenRead:
    """An ERP session whose file "img-2" cannot be read (a bare OSError)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def read_media(self, ref: Any) -> bytes:
        if ref.key == "img-2":
            raise FileNotFoundError(2, "No such file or directory", "img-2")
        result: bytes = await self._inner.read_media(ref)
        return result


class BrokenReadErp(Wrapped):
    @asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        async with self._inner.session() as session:
            yield _BrokenRead(session)


class TestErpOSError:
    async def test_fails_its_record_only(
        self, tmp_path: Path, erp: MemoryErp, store: SqliteStore
    ) -> None:
        """An ERP file whose read raises a bare OSError fails its record on
        media.N with the cause, in the ledger; the others land."""
        platform = MemoryPlatform()
        sync = _staged(
            erp=BrokenReadErp(erp, Cut("", 0), set()),
            platform=platform,
            store=store,
            tmp=tmp_path,
        )

        with anyio.fail_after(20):
            run = await sync.execute(SPEC)

        await _only_a2_failed(run, "No such file", sync, platform, store)


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
