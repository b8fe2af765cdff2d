"""
Spare staged files: a released file kept and written over by the next one,
counted in the budget, capped, forgotten at run end.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from ecomsync import (
    MediaStaging,
    SqliteStore,
    StateStoreError,
    _staging_run,
)
from ecomsync import _staging_fs as fs
from ecomsync import media as media_module
from ecomsync.media import RunStaging

from ._backends import both_backends
from ._media import (
    SHA_CAT,
    BatchingStore,
    dead_run,
    files,
    media_staging,
    on_disk,
)


pytestmark = pytest.mark.anyio


_anyio_backend = both_backends

_staging = media_staging


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
