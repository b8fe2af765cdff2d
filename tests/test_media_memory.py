"""
Small staged files kept in memory, larger ones on disk.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ecomsync import (
    All,
    DataType,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)

from ._backends import both_backends
from ._media import (
    files,
)


pytestmark = pytest.mark.anyio


_anyio_backend = both_backends


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
