"""
The media staging directory: files from the ERP wait here, crash-safely,
until they are uploaded.

The rules (DESIGN §9): a file is registered as a pending transfer in the
state store *before* it is written; it is written to a temporary name,
fsynced and renamed; it is named by its content hash, never by a name
from outside; after the upload it is deleted and its entry closed.
Opening the directory deletes whatever is not a registered transfer and
discards stale transfers, so a crash never leaves litter.  A byte budget
makes staging wait for uploads to free space instead of filling the disk.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread
import attrs

from ._contracts import PendingMedia, StagedMedia
from ._model import MediaKind
from .exceptions import MediaStagingError
from .typing import StateStore


__all__ = ["MediaStaging", "StagedMedia"]


def _write_durably(directory: Path, name: str, content: bytes) -> None:
    tmp = directory / f".{name}.tmp"
    with tmp.open("wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(directory / name)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@attrs.define
class MediaStaging:
    """
    A staging directory bounded by *max_bytes*.

    Call `open` (the `Synchronizer` does) before staging: it binds the
    store that journals transfers and cleans up after a crash.  One
    directory belongs to one process at a time.

    .. versionadded:: 26.1.0
    """

    directory: Path = attrs.field(converter=Path)
    max_bytes: int = 256 * 2**20
    _store: StateStore | None = attrs.field(init=False, default=None)
    _used: int = attrs.field(init=False, default=0)
    _staged: dict[str, tuple[StagedMedia, int]] = attrs.field(
        init=False, factory=dict
    )
    _freed: anyio.Condition = attrs.field(init=False, factory=anyio.Condition)
    #: The most bytes ever staged at once (for tests and benchmarks).
    peak_bytes: int = attrs.field(init=False, default=0)

    def __repr__(self) -> str:
        return (
            f"<MediaStaging {str(self.directory)!r} "
            f"{self._used}/{self.max_bytes} bytes>"
        )

    @property
    def used_bytes(self) -> int:
        return self._used

    async def open(self, store: StateStore) -> list[str]:
        """
        Bind *store* and clean the directory; return the removed names.
        """
        self._store = store
        # The journal may be shared (PostgresStore) by several processes,
        # each with its own directory: discard only our own entries.
        mine = str(self.directory.resolve())
        pending = {
            p.sha256
            for p in await store.list_pending()
            if p.meta.get("directory", mine) == mine
        }

        def purge() -> list[str]:
            self.directory.mkdir(parents=True, exist_ok=True)
            removed = []
            for entry in self.directory.iterdir():
                if entry.is_file() or entry.is_symlink():
                    entry.unlink()
                    removed.append(entry.name)
            return removed

        try:
            removed = await anyio.to_thread.run_sync(purge)
        except OSError as exc:
            raise MediaStagingError(
                f"cannot clean the staging directory {self.directory}: {exc}"
            ) from exc
        # Stale transfers belong to a run that died: their content comes
        # from the ERP again when the run is resumed, so discard them.
        for sha in pending:
            await store.remove_pending(sha)
        return removed

    async def stage(
        self,
        content: bytes,
        *,
        filename: str,
        mime_type: str,
        kind: MediaKind = MediaKind.IMAGE,
    ) -> StagedMedia:
        """
        Put *content* in the directory, waiting while the budget is full.
        """
        if self._store is None:
            raise MediaStagingError("MediaStaging.open() was not called")
        sha = hashlib.sha256(content).hexdigest()
        size = len(content)
        async with self._freed:
            if sha in self._staged:
                staged, refs = self._staged[sha]
                self._staged[sha] = (staged, refs + 1)
                return staged
            # A single file larger than the budget still goes through when
            # nothing else is staged; otherwise it could never move.
            while self._used and self._used + size > self.max_bytes:
                await self._freed.wait()
            self._used += size
            self.peak_bytes = max(self.peak_bytes, self._used)
            staged = StagedMedia(
                sha256=sha,
                path=self.directory / sha,
                size=size,
                filename=filename,
                mime_type=mime_type,
                kind=kind,
            )
            self._staged[sha] = (staged, 1)
        try:
            await self._store.add_pending(
                PendingMedia(
                    sha256=sha,
                    size=size,
                    registered_at=datetime.now(UTC),
                    meta={
                        "filename": filename,
                        "mime_type": mime_type,
                        "directory": str(self.directory.resolve()),
                    },
                )
            )
            await anyio.to_thread.run_sync(
                _write_durably, self.directory, sha, content
            )
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self.release(staged)
            if isinstance(exc, OSError):
                raise MediaStagingError(
                    f"cannot stage {filename!r}: {exc}"
                ) from exc
            raise
        return staged

    async def release(self, staged: StagedMedia) -> None:
        """
        The transfer is over (uploaded or given up): delete the file.
        """
        async with self._freed:
            current = self._staged.get(staged.sha256)
            if current is None:
                return
            if current[1] > 1:
                self._staged[staged.sha256] = (current[0], current[1] - 1)
                return
            del self._staged[staged.sha256]
            self._used -= staged.size
            self._freed.notify_all()
        await anyio.to_thread.run_sync(
            lambda: staged.path.unlink(missing_ok=True)
        )
        if self._store is not None:
            await self._store.remove_pending(staged.sha256)
