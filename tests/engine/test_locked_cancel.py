"""
A run cancelled while another connection locks the SQLite store (a
backup, a second host writing) ends within the cleanup's one deadline,
not after the store's lock timeout once for every cleanup step; what it
could not record is recorded once the store takes writes again.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path

import anyio
import attrs
import pytest

from ecomsync import (
    All,
    DataType,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    Outcome,
    Outgoing,
    RunStatus,
    SqliteStore,
    StagedMedia,
    Synchronizer,
)
from ecomsync._staging_fs import MARKER

from .._sqlite_lock import locked
from ._support import spec


pytestmark = pytest.mark.anyio

#: The cleanup's deadline in these tests (5 s in production).
DEADLINE = 1.0


@attrs.define
class _LocksThenCancels(MemoryPlatform):
    """
    At its first article push (or media upload, with *in_upload*), has
    another connection lock *path* and cancels *scope* (the host's), then
    waits.
    """

    path: str = ""
    lock: contextlib.ExitStack = attrs.Factory(contextlib.ExitStack)
    scope: anyio.CancelScope = attrs.Factory(anyio.CancelScope)
    in_upload: bool = False
    cancelled_at: float | None = None

    async def _strike(self) -> None:
        if self.cancelled_at is None:  # uploads in flight come here too
            self.lock.enter_context(locked(self.path))
            self.cancelled_at = time.monotonic()
            self.scope.cancel()
        await anyio.sleep_forever()

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        if data_type is DataType.ARTICLES and not self.in_upload:
            await self._strike()
        return await super().push(data_type, items)

    async def upload_media(self, media: StagedMedia) -> str:
        if self.in_upload:
            await self._strike()
        return await super().upload_media(media)


def _handles(path: Path) -> list[str]:
    """
    This process's open file handles on *path* (and its -wal, -shm).
    """
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(path)):
                found.append(target)
    return found


@pytest.mark.parametrize("in_upload", [False, True], ids=["push", "upload"])
async def test_cancel_with_the_store_locked(
    erp: MemoryErp,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    in_upload: bool,
) -> None:
    """Cancelled while the store is locked, a run ends within the cleanup's
    deadline (it took 30 s for every cleanup step: recording its end, each
    staged file's journal entry); its licence is back, its staged files
    are gone, no store call is left in a thread, and once the lock is gone
    the next run records it cancelled and clears its journal; closing
    leaves no handle on the file."""
    monkeypatch.setattr("ecomsync._closing.CLEANUP_TIMEOUT", DEADLINE)
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    platform = _LocksThenCancels(path=str(path), in_upload=in_upload)
    staging = tmp_path / "staging"
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=store,
        staging=MediaStaging(staging),
    )
    await sync.execute(spec(categories=All()))

    with platform.scope:
        async with sync.run(spec(articles=All())) as events:
            async for _ in events:
                pass
    took = time.monotonic() - (platform.cancelled_at or 0)
    platform.lock.close()

    assert platform.scope.cancelled_caught
    assert took < DEADLINE + 3
    assert () == await sync.licenses.holders()
    assert not store._lock.locked()
    assert [MARKER] == [p.name for p in staging.rglob("*")]

    await sync.execute(spec(stock=All()))

    runs = {run.id: run for run in await store.list_runs()}
    assert RunStatus.CANCELLED == runs[events.run_id].status
    assert [] == await store.list_pending()
    await sync.aclose()
    await store.aclose()
    assert [] == _handles(path)
