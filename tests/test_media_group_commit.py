"""
Grouped journal writes: files staged and released together journalled in
one store call each way; a failed write fails every file of its group.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from ecomsync import (
    MediaStaging,
    SqliteStore,
    StagedMedia,
    StateStoreError,
)
from ecomsync.media import RunStaging

from ._backends import both_backends
from ._media import (
    BatchingStore,
    files,
)


pytestmark = pytest.mark.anyio


_anyio_backend = both_backends


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
