"""
Staging a file: journal before write, hash names, shared content, the byte
budget, run-scoped cleanup.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import anyio
import attrs
import pytest

from ecomsync import (
    MediaStaging,
    MediaStagingError,
    SqliteStore,
    StagedMedia,
)
from ecomsync.media import RunStaging

from ._backends import both_backends
from ._media import (
    SHA_CAT,
    BatchingStore,
    files,
    media_staging,
    waits_for_release,
)


pytestmark = pytest.mark.anyio


_anyio_backend = both_backends

_staging = media_staging


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
