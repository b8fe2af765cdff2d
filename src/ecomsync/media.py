"""
The media staging directory: files from the ERP wait here, crash-safely,
until they are uploaded.

The rules (DESIGN §9):

- staging works in a directory it created and marked as its own (a
  ``.ecomsync-staging`` file); an existing one with nothing but run
  directories in it (or none) is adopted, any other without the marker
  is refused; it only ever deletes files it wrote;
- every run stages in a directory of its own (`MediaStaging.for_run`),
  locked while the run is alive; leaving the run's block, however it is
  left (success, error, cancellation), deletes what the run still holds:
  files, journal entries and budget; the cleanup is shielded from
  cancellation;
- a file is registered as a pending transfer in the state store *before*
  it is written; it is written to a temporary name, fsynced and renamed;
  it is named by its content hash, never by a name from outside;
- opening the directory (`MediaStaging.open`, at process start) removes
  what runs that died left: their files and journal entries are
  *discarded*, not resumed, because a resumed run reads its records' media
  from the ERP again (it has to, to know their hashes);
- an uploaded file's name is deleted at once, but its blocks may stay
  under a spare name for the next file to be written over (a new file
  costs the file system far more CPU); only small files are kept so (up
  to 1 MiB each, 32 MiB in all), spares count in the budget and go with
  their run's directory;
- a byte budget makes staging wait for uploads to free space instead of
  filling the disk; small files (by default up to 1 MiB, 64 MiB in all)
  stay in memory instead and never touch the disk or the journal.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import cast

import anyio
import anyio.to_thread
import attrs

from . import _staging_fs as fs
from ._anyio_util import GroupCommit, TurnGroup
from ._closing import AsyncResource
from ._contracts import PendingMedia, StagedMedia
from ._model import MediaKind
from ._settings import at_least
from ._staging_run import (
    HOST,
    MAX_SPARE_BYTES,
    MAX_SPARE_FILE_BYTES,
    MAX_SPARES,
    Drop,
    Journal,
    RunStaging,
    Spare,
    UpdatesPending,
    ended_runs,
    log,
    retire,
    updater,
)
from .exceptions import MediaStagingError
from .typing import StateStore, SupportsPendingBatch


__all__ = ["MediaStaging", "RunStaging", "StagedMedia"]


def _default_directory() -> Path:
    """
    The staging directory used when none is given: one per user under the
    system's temporary directory, shared by the user's processes.
    """
    user = getattr(os, "getuid", lambda: "")()
    return Path(tempfile.gettempdir()) / f"ecomsync-staging-{user}".rstrip("-")


#: Files up to this size are written (to the page cache: no fsync) on the
#: event loop's thread, up to `_INLINE_BYTES` per group; larger ones in
#: the worker thread that fsyncs them, so that the loop never waits for
#: more than that much copying.
_INLINE_FILE_BYTES = 2**16
_INLINE_BYTES = 2**20


async def _write_all(writes: list[fs.Write]) -> None:
    """
    Write a group of files whose journal entries are committed (DESIGN
    rule 9: registered, temporary name, fsync, rename).  Only the fsyncs
    (and the writes of large files) go to a worker thread: each system
    call made there hands the GIL back and forth with the event loop's
    thread, which cost more CPU than the small files' open, write, close
    and rename made here (~30 us per file over a spare, measured).  A file
    is renamed only after `fs.sync_all` fsynced it; on an error that is
    no file's own, every file of the group is closed and deleted.
    """
    for start in range(0, len(writes), fs.WRITE_SLICE):
        part = writes[start : start + fs.WRITE_SLICE]
        room = _INLINE_BYTES
        here = []
        for w in part:
            size = len(w.content)
            if size <= _INLINE_FILE_BYTES and size <= room:
                room -= size
                here.append(w)
        try:
            fs.begin_all(here)
            await anyio.to_thread.run_sync(fs.settle, part)
        except BaseException:
            fs.end_all(part, keep=False)
            raise
        fs.end_all(part)


@attrs.define
class MediaStaging(AsyncResource):
    """
    A staging directory bounded by *max_bytes*.

    Call `open` (the `Synchronizer` does) before staging: it binds the
    store that journals transfers, claims the directory and removes what
    runs that died left behind.  Several processes may share one staging
    directory: every run stages in a locked directory of its own.

    Args:
        directory: Created and marked as ecomsync's if missing; an
            existing one empty (or holding only run directories) is
            adopted; any other without the marker is refused.  Default:
            ``ecomsync-staging-<uid>`` in the system temporary directory.
        max_bytes: Bytes staged on disk at once; staging waits for
            uploads to free space.  A larger file fails its record.  Never
            more than the room on the directory's file system (what is
            staged plus what is free, less a twentieth, measured as each
            run starts).
        memory_bytes: Bytes that stay in memory instead, never written
            and never journalled (a crash loses nothing: a resumed run
            reads them from the ERP again).  Default 64 MiB; 0 stages
            everything on disk.  Platforms read content with
            `StagedMedia.aread`, as the bundled ones do.
        memory_file_bytes: The largest file kept in memory (1 MiB).

    Raises:
        ConfigurationError: A size that is not a whole number of bytes,
            naming it: *max_bytes* at least 1 (default 256 MiB),
            *memory_bytes* and *memory_file_bytes* 0 or more.

    ``aclose()`` (or leaving ``async with``) deletes what `stage` left and
    lets go of the directory; the default directory is also removed then,
    unless another process still uses it or something not ours is in it.
    A directory given as *directory* stays.  After ``aclose()``, `open`,
    `for_run` and `stage` raise `~ecomsync.exceptions.ResourceClosed`.

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0
       ``aclose()`` lets go of the directory and removes the default one;
       sizes out of range are refused; small files stay in memory.
    """

    directory: Path = attrs.field(converter=Path, factory=_default_directory)
    max_bytes: int = attrs.field(default=256 * 2**20, validator=at_least(1))
    memory_bytes: int = attrs.field(default=64 * 2**20, validator=at_least(0))
    memory_file_bytes: int = attrs.field(default=2**20, validator=at_least(0))
    #: The most bytes ever on disk at once, staged files and spares (for
    #: tests, benchmarks).
    peak_bytes: int = attrs.field(init=False, default=0)
    _store: StateStore | None = attrs.field(init=False, default=None)
    _root: Path | None = attrs.field(init=False, default=None)
    _used: int = attrs.field(init=False, default=0)
    #: Uploaded files kept under spare names to be written over, and their
    #: bytes (counted in the budget, not in `used_bytes`).
    _spares: list[Spare] = attrs.field(init=False, factory=list)
    _spare_bytes: int = attrs.field(init=False, default=0)
    #: Staged bytes plus the file system's free space when the latest run
    #: started (`_measure_disk`); None until measured.
    _disk_room: int | None = attrs.field(init=False, default=None)
    _in_memory: int = attrs.field(init=False, default=0)
    _freed: anyio.Event | None = attrs.field(init=False, default=None)
    _unscoped: RunStaging | None = attrs.field(init=False, default=None)
    _writes: TurnGroup[fs.Write] = attrs.field(init=False)
    _hold: int | None = attrs.field(init=False, default=None)
    #: The file system the directory was claimed on (`fs.check_device`).
    _device: int | None = attrs.field(init=False, default=None)
    _closed: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        self._writes = TurnGroup(_write_all)

    def __repr__(self) -> str:
        return (
            f"<MediaStaging {str(self.directory)!r} "
            f"{self._used}/{self.max_bytes} bytes>"
        )

    @property
    def used_bytes(self) -> int:
        """
        Bytes staged on disk right now, by all runs.
        """
        return self._used

    @property
    def memory_used_bytes(self) -> int:
        """
        Bytes staged in memory right now, by all runs.
        """
        return self._in_memory

    async def open(self, store: StateStore) -> list[str]:
        """
        Bind *store*, claim the directory and remove the files and journal
        entries of runs that died; return the files removed.

        Raises:
            MediaStagingError: The directory is not ours (not empty, no
                marker) or unusable.
            ResourceClosed: After ``aclose()``.
        """
        self._ensure_open()
        self._store = store
        await self._claim()
        return await self._recover()

    async def _claim(self, *, again: bool = False) -> None:
        if again and self._hold is not None:  # deleted under us
            os.close(self._hold)
            self._hold = None
        device = self._device

        def claim() -> tuple[int | None, Path, int]:
            if device is not None:  # again: gone under us
                fs.check_device(self.directory, device)
            hold = fs.claim(self.directory) if self._hold is None else None
            root = self.directory.resolve()
            return hold, root, root.stat().st_dev

        try:
            hold, self._root, self._device = await anyio.to_thread.run_sync(
                claim
            )
        except OSError as exc:
            raise MediaStagingError(
                f"cannot use the staging directory {str(self.directory)!r}"
                f": {exc.strerror or exc}"
            ) from exc
        if hold is not None and self._hold is not None:
            os.close(hold)  # another task claimed it meanwhile
        elif hold is not None:
            self._hold = hold

    @asynccontextmanager
    async def for_run(
        self, run_id: str, *, store: StateStore | None = None
    ) -> AsyncIterator[RunStaging]:
        """
        The staging of one run; leaving the block deletes whatever the run
        still holds (files, journal entries, budget), shielded from
        cancellation, however the block is left.  Entering it removes what
        runs that died since `open` left behind, as `open` does.

        *store*: where the run's journal entries go (default: the store
        `open` bound; a `Synchronizer` passes its own, so that several with
        stores of their own may share one staging).
        """
        self._ensure_open()
        store = self._opened()[0] if store is None else store
        await self._recover(store)
        await self._measure_disk()
        run = RunStaging(owner=self, run_id=run_id, store=store)
        try:
            yield run
        finally:
            with anyio.CancelScope(shield=True):
                await run.aclose()

    async def stage(
        self,
        content: bytes,
        *,
        filename: str,
        mime_type: str,
        kind: MediaKind = MediaKind.IMAGE,
    ) -> StagedMedia:
        """
        Stage *content* outside any run (see `for_run`), on disk; it stays
        until `release` or ``aclose()``.
        """
        self._ensure_open()
        if self._unscoped is None:
            store, _ = self._opened()
            self._unscoped = RunStaging(
                owner=self, run_id="", memory=False, store=store
            )
        return await self._unscoped.stage(
            content, filename=filename, mime_type=mime_type, kind=kind
        )

    async def release(self, staged: StagedMedia) -> None:
        """
        The transfer of a file staged with `stage` is over: delete it.
        """
        if self._unscoped is not None:
            await self._unscoped.release(staged)

    async def _close(self) -> None:
        """
        Delete what `stage` staged and was not released yet; let go of the
        directory, removing the default one if nobody else uses it.
        """
        with anyio.CancelScope(shield=True):
            try:
                if self._unscoped is not None:
                    await self._unscoped.aclose()
                    self._unscoped = None
            finally:
                hold, self._hold = self._hold, None
                if hold is not None:
                    await anyio.to_thread.run_sync(
                        lambda: fs.let_go(
                            self.directory,
                            hold,
                            remove=self.directory == _default_directory(),
                        )
                    )

    # -- for RunStaging -------------------------------------------------

    async def _recover(self, store: StateStore | None = None) -> list[str]:
        """
        Remove the files, directories and journal entries of runs that
        died (their lock is free; the entries *store* holds, default the
        bound one); return the files removed.
        """
        bound, root = self._opened()
        store = bound if store is None else store
        try:
            removed, dead = await anyio.to_thread.run_sync(fs.sweep, root)
        except FileNotFoundError:
            # Deleted under us (a temporary-files cleaner, an operator):
            # made and marked again; every later run failed otherwise.
            await self._claim(again=True)
            _, root = self._opened()
            removed, dead = [], set()
        except OSError as exc:
            # No run's failure (stock and orders go on); files that cannot
            # be staged there fail their records, naming the cause.
            log.warning(
                "cannot clean the staging directory %r (%s): left for a "
                "later run",
                str(root),
                exc.strerror or exc,
            )
            removed, dead = [], set()
        prefix = f"{root}{os.sep}run-"
        ours: list[PendingMedia] = []
        others: list[PendingMedia] = []
        for p in await store.list_pending():
            mine = p.meta.get("host") == HOST and str(
                p.meta.get("directory", "")
            ).startswith(prefix)
            (ours if mine else others).append(p)
        # Another host's (a container made anew has a new host name),
        # whose directory cannot be seen here: closed once its run ended.
        await self._remove_entries(store, await ended_runs(store, others))

        def stale() -> list[tuple[str, str]]:
            # A live run makes its directory before it registers a file:
            # an entry whose directory is gone belongs to a dead run.
            out = []
            for p in ours:
                where = Path(str(p.meta.get("directory", "")))
                if where.name in dead or not where.is_dir():
                    out.append((p.scope, p.sha256))
            return out

        if ours:
            await self._remove_entries(
                store, await anyio.to_thread.run_sync(stale)
            )
        return removed

    def _opened(self) -> tuple[StateStore, Path]:
        if self._store is None or self._root is None:
            raise MediaStagingError("MediaStaging.open() was not called")
        return self._store, self._root

    def _fits_memory(self, size: int) -> bool:
        return (
            size <= self.memory_file_bytes
            and self._in_memory + size <= self.memory_bytes
        )

    async def _measure_disk(self) -> None:
        """
        Bound the budget by the room on the directory's file system too
        (what is staged now plus what is free, less a twentieth), so that
        staging waits for uploads instead of failing files with ENOSPC
        on a disk smaller than *max_bytes*.  Measured as each run starts.
        """
        root = self._root or self.directory
        try:
            free = (
                await anyio.to_thread.run_sync(shutil.disk_usage, root)
            ).free
        except OSError:
            return
        self._disk_room = self._used + self._spare_bytes + free * 19 // 20

    @property
    def _limit(self) -> int:
        """
        The bytes that may be on disk at once: *max_bytes*, or less where
        the file system has less room.
        """
        if self._disk_room is None:
            return self.max_bytes
        return min(self.max_bytes, self._disk_room)

    def _reserve(self, size: int) -> tuple[bool, Spare | None]:
        """
        Count *size* bytes in if the budget has room for them; the last
        spare no larger than *size*, if any, is taken to be written over
        (its bytes become the new file's).
        """
        spare = None
        for i in range(len(self._spares) - 1, -1, -1):
            if self._spares[i].size <= size:
                spare = self._spares[i]
                break
        freed = 0 if spare is None else spare.size
        on_disk = self._used + self._spare_bytes - freed + size
        if on_disk > self._limit:
            return False, None
        if spare is not None:
            del self._spares[i]
            self._spare_bytes -= freed
        self._used += size
        self.peak_bytes = max(self.peak_bytes, on_disk)
        return True, spare

    def _spare_in(self, run_dir: fs.RunDir, size: int) -> str | None:
        """
        A spare name in *run_dir* for a file of *size* bytes to keep, or
        None to delete it (spares enough, or the file too large).
        """
        if (
            len(self._spares) >= MAX_SPARES
            or size > MAX_SPARE_FILE_BYTES
            or self._spare_bytes + size > MAX_SPARE_BYTES
        ):
            return None
        return fs.spare_name(run_dir.name)

    def _keep_spare(self, spare: Spare, *, moved: bool = False) -> None:
        """
        Keep *spare* to be written over; *moved*: its bytes move from the
        staged files' to the spares' (else they are counted in again).
        """
        if moved:
            self._used -= spare.size
        if spare.run_dir.closed:
            # Its run ended meanwhile: the file went with its directory.
            self._changed()
            return
        self._spares.append(spare)
        self._spare_bytes += spare.size
        self._changed()

    def _forget_spares(self, run_dir: fs.RunDir) -> None:
        """
        Forget the spares in *run_dir*, which is about to be deleted.
        """
        gone = [s for s in self._spares if s.run_dir is run_dir]
        if gone:
            self._spares = [
                s for s in self._spares if s.run_dir is not run_dir
            ]
            self._spare_bytes -= sum(s.size for s in gone)
            self._changed()

    async def _evict_spares(self) -> bool:
        """
        Delete the spares (the budget has no room for a file otherwise);
        return whether there were any.
        """
        spares, self._spares = self._spares, []
        if not spares:
            return False
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(
                fs.discard, [s.path for s in spares]
            )
        self._spare_bytes -= sum(s.size for s in spares)
        self._changed()
        return True

    async def _wait_budget(self) -> None:
        """
        Wait until bytes are given back or a file is staged (which another
        task waiting with the same content can then share).
        """
        if self._freed is None:
            self._freed = anyio.Event()
        await self._freed.wait()

    def _changed(self) -> None:
        if self._freed is not None:
            self._freed.set()
            self._freed = None

    def _give_back(self, size: int) -> None:
        self._used -= size
        self._changed()

    def _journal(self, store: StateStore) -> Journal:
        """
        Journal groups for one run, into *store*.  Each run has its own: a
        group's journal step runs in the context of the task leading it, so
        a cancelled run's cleanup deadline (`Hurry`) would fail another
        run's entries of a shared group, and another run's step would
        hold the cancelled run's cleanup past its deadline.
        """
        return Journal(
            store,
            GroupCommit(partial(self._journal_add, store)),
            GroupCommit(partial(self._journal_drop, store)),
            GroupCommit(partial(self._journal_step, store)),
        )

    async def _register(self, journal: Journal, pending: PendingMedia) -> None:
        """
        Journal *pending* before its file is written.
        """
        group = (
            journal.adds if updater(journal.store) is None else journal.steps
        )
        await group.submit(pending)

    async def _take_away(self, journal: Journal, drop: Drop) -> None:
        """
        Take *drop*'s file away, then close its journal entry.
        """
        group = (
            journal.drops if updater(journal.store) is None else journal.steps
        )
        await group.submit(drop)

    async def _journal_step(
        self, store: StateStore, items: list[PendingMedia | Drop]
    ) -> None:
        """
        One group of adds and drops: the drops' files taken away, then
        in one transaction their entries closed and the adds registered
        (one thread hop with `SqliteStore`).  The adds' files are written
        after it; a drop's entry is closed only once its file is gone.
        """
        update = cast(UpdatesPending, store)  # _register checked it
        drops = [i for i in items if isinstance(i, Drop)]
        adding = [i for i in items if isinstance(i, PendingMedia)]
        # No drops, no blocking step: PostgresStore then needs no thread.
        closing = partial(retire, drops) if drops else None
        await update.update_pending(closing, adding)

    async def _journal_add(
        self, store: StateStore, items: list[PendingMedia]
    ) -> None:
        if isinstance(store, SupportsPendingBatch):
            await store.add_pending_many(items)
            return
        for item in items:
            await store.add_pending(item)

    async def _journal_drop(
        self, store: StateStore, items: list[Drop]
    ) -> None:
        keys = await anyio.to_thread.run_sync(retire, items)
        await self._remove_entries(store, keys)

    async def _remove_entries(
        self, store: StateStore, keys: Sequence[tuple[str, str]]
    ) -> None:
        """
        Close the journal entries of *keys* in *store*, each ``(scope,
        sha256)``.
        """
        if not keys:
            return
        if isinstance(store, SupportsPendingBatch):
            await store.remove_pending_many(list(keys))
            return
        for _, sha in keys:
            await store.remove_pending(sha)
