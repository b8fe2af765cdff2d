"""
Helpers of the media staging tests: a staging on a fresh directory, the files
under a directory, a run that died, a store counting its batch journal calls.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from ecomsync import (
    MediaStaging,
    SqliteStore,
    StagedMedia,
    StateStoreError,
)
from ecomsync import _staging_fs as fs
from ecomsync._contracts import PendingMedia
from ecomsync._staging_fs import MARKER
from ecomsync.media import RunStaging


@pytest.fixture(name="staging")
async def media_staging(tmp_path: Path, store: SqliteStore) -> MediaStaging:
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


def on_disk(root: Path) -> int:
    """
    The bytes of the files under *root* (the marker left out).
    """
    return sum(
        p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and p.name != MARKER and not p.name.endswith(".lock")
    )


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
