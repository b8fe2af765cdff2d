"""
A bare OSError from the adapter's upload or from the ERP's file read
fails its record on media.N, in the ledger; a programming error ends the
run; nothing is left staged.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from ecomsync import (
    DataType,
    EcomsyncError,
    MemoryErp,
    MemoryPlatform,
    RunRecord,
    SqliteStore,
    StagedMedia,
    Synchronizer,
)

from ._backends import both_backends
from ._media_cuts import SPEC, Cut, Wrapped, assert_clean, staged


pytestmark = pytest.mark.anyio

_anyio_backend = both_backends


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
        sync = staged(erp=erp, platform=platform, store=store, tmp=tmp_path)

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
        sync = staged(erp=erp, platform=platform, store=store, tmp=tmp_path)

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
        sync = staged(
            erp=BrokenReadErp(erp, Cut("", 0), set()),
            platform=platform,
            store=store,
            tmp=tmp_path,
        )

        with anyio.fail_after(20):
            run = await sync.execute(SPEC)

        await _only_a2_failed(run, "No such file", sync, platform, store)
