"""
The staging of one run (`ecomsync.media.RunStaging`).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

import anyio
import anyio.to_thread
import attrs

from . import _instrument
from . import _staging_fs as fs
from ._anyio_util import GroupCommit
from ._contracts import PendingMedia, StagedMedia
from ._fingerprint import content_hash
from ._model import MediaKind
from .exceptions import MediaStagingError
from .typing import StateStore


if TYPE_CHECKING:
    from .media import MediaStaging

HOST = socket.gethostname()
log = logging.getLogger("ecomsync")


#: The most spares (uploaded files kept to be written over) at once.
MAX_SPARES = 256
#: Spares pay where creating a file costs more than writing it: small
#: files.  A larger uploaded file is deleted, and the spares' bytes stay
#: small beside the budget, so that an idle run holds little disk.
MAX_SPARE_FILE_BYTES = 2**20
MAX_SPARE_BYTES = 32 * 2**20


class UpdatesPending(Protocol):  # pragma: no cover -- a Protocol only
    async def update_pending(
        self,
        closing: Callable[[], Sequence[tuple[str, str]]] | None,
        adding: Sequence[PendingMedia] = (),
    ) -> None: ...


def updater(store: StateStore) -> UpdatesPending | None:
    """
    *store*, if it closes and registers journal entries in one call
    (`SqliteStore.update_pending`: one thread hop for a group's retires,
    closes and adds instead of three).  Looked up on the class: a wrapper
    that forwards attributes to a store keeps its own add and remove
    methods in the path.
    """
    if callable(getattr(type(store), "update_pending", None)):
        return cast(UpdatesPending, store)
    return None


async def ended_runs(
    store: StateStore, entries: Sequence[PendingMedia]
) -> list[tuple[str, str]]:
    """
    The keys of the journal *entries* whose run the store records as
    ended: that run's staging is over, wherever it ran (its files, if any
    are left, are swept where they are).  Entries of a live run, of one
    the store does not know (staging used without a `Synchronizer`) or
    of none stay.  The entries are listed before the runs are read: an
    entry registered by a resumed run is seen with its run running.
    """
    ended: dict[str, bool] = {}
    keys = []
    for p in entries:
        run_id = str(p.meta.get("run_id") or "")
        if not run_id:
            continue
        if run_id not in ended:
            run = await store.get_run(run_id)
            ended[run_id] = run is not None and run.status.finished
        if ended[run_id]:
            keys.append((p.scope, p.sha256))
    return keys


@attrs.frozen(eq=False)
class Spare:
    """
    An uploaded file renamed to a spare name, its blocks kept for the next
    file (`ecomsync._staging_fs`); its bytes count in the budget.
    """

    run_dir: fs.RunDir
    path: str
    size: int


@attrs.define(eq=False)
class Drop:
    """
    A file to take away (`MediaStaging._journal_drop`): renamed to *spare*
    if one is named, else deleted.  *kept* says whether it became one.
    """

    run_dir: fs.RunDir
    staged: StagedMedia
    spare: str | None
    kept: bool = False


def retire(drops: Sequence[Drop]) -> list[tuple[str, str]]:
    """
    Take the files of *drops* away (blocking: a worker thread); return
    the journal keys of those that are gone.  A file that could not be
    deleted keeps its entry: the run's end or the next open() deletes it.
    """
    if not drops:
        return []
    files = [(str(d.staged.path), d.spare) for d in drops]
    gone = fs.retire_all(files)
    keys = []
    for drop, (path, _) in zip(drops, files, strict=True):
        if path in gone:
            drop.kept = gone[path] is not None
            # An entry's scope is the run's directory, where its file was.
            keys.append((drop.run_dir.name, drop.staged.sha256))
    return keys


@attrs.frozen(eq=False)
class Journal:
    """
    One run's journal groups (`MediaStaging._journal`) into its *store*:
    adds, drops, and both together for a store with ``update_pending``.
    """

    store: StateStore
    adds: GroupCommit[PendingMedia]
    drops: GroupCommit[Drop]
    steps: GroupCommit[PendingMedia | Drop]


@attrs.define(eq=False)
class _Held:
    staged: StagedMedia
    #: Set once written; ``None``: ready from the start (in memory), so
    #: no event is made per file.
    ready: anyio.Event | None
    refs: int = 1
    in_memory: bool = False
    #: The run directory it was registered in (its file's directory).
    registered: fs.RunDir | None = None
    #: Being deleted: a new stage of the same content waits for *gone*,
    #: made by the first such stage (rare), set when it is forgotten.
    dropping: bool = False
    gone: anyio.Event | None = None

    @property
    def is_ready(self) -> bool:
        return self.ready is None or self.ready.is_set()


@attrs.define(eq=False)
class RunStaging:
    """
    What one run stages, from `MediaStaging.for_run`: every file it stages
    and does not release is deleted when the run's block is left.

    .. versionadded:: 26.1.0
    """

    _owner: MediaStaging = attrs.field(alias="owner")
    run_id: str
    _memory: bool = attrs.field(alias="memory", default=True)
    #: The store its journal entries go to.
    _store: StateStore | None = attrs.field(alias="store", default=None)
    _dir: fs.RunDir | None = attrs.field(init=False, default=None)
    _held: dict[str, _Held] = attrs.field(init=False, factory=dict)
    _closed: bool = attrs.field(init=False, default=False)
    _making_dir: anyio.Lock | None = attrs.field(init=False, default=None)
    _journal: Journal = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        store = self._store
        if store is None:
            store = self._owner._opened()[0]
        self._journal = self._owner._journal(store)

    @property
    def held_bytes(self) -> int:
        """
        Bytes this run holds, on disk and in memory.
        """
        return sum(h.staged.size for h in self._held.values())

    async def stage(
        self,
        content: bytes,
        *,
        filename: str,
        mime_type: str,
        kind: MediaKind = MediaKind.IMAGE,
        sha256: str | None = None,
        overflow: bool = False,
    ) -> StagedMedia:
        """
        Stage *content*, waiting while the byte budget is full.

        *overflow*: when the budget is full, keep the content in memory
        (not written, not journalled, as with *memory_bytes*) instead of
        waiting: for content the caller holds until an upload that cannot
        start before its other files are staged (uploads after the push),
        where waiting for the budget would never end.

        *sha256*, when given, must be the content's SHA-256 (the caller
        hashed it already; it is not hashed twice).  The same content
        staged twice is one file until both are released.

        Raises:
            MediaStagingError: The file could not be written (full disk,
                I/O error); nothing of it is left behind.
        """
        sha = sha256 or content_hash(content)
        owner = self._owner
        size = len(content)
        over = False

        def staged_in(directory: Path) -> StagedMedia:
            return StagedMedia(
                sha256=sha,
                path=directory / sha,
                size=size,
                filename=filename,
                mime_type=mime_type,
                kind=kind,
                content=content,
            )

        while True:
            self._check_open()
            held = self._held.get(sha)
            if held is None:
                if self._memory and (over or owner._fits_memory(size)):
                    owner._in_memory += size
                    staged = staged_in(owner.directory)
                    self._held[sha] = _Held(staged, None, in_memory=True)
                    return staged
                if size > owner.max_bytes:
                    raise MediaStagingError(
                        f"cannot stage {filename!r}: its {size} bytes "
                        "exceed the staging budget (MediaStaging "
                        f"max_bytes={owner.max_bytes})"
                    )
                if size > owner._limit:
                    raise MediaStagingError(
                        f"cannot stage {filename!r}: its {size} bytes "
                        "exceed the room on the staging directory's disk "
                        f"({owner._limit} bytes)"
                    )
                room, spare = owner._reserve(size)
                if room:
                    break
                if not await owner._evict_spares():
                    if overflow and self._memory:
                        over = True
                        continue
                    await owner._wait_budget()
            elif held.dropping:
                # Still held: `_forget` (which sets it) has not run yet.
                if held.gone is None:
                    held.gone = anyio.Event()
                await held.gone.wait()
            elif held.ready is None or held.ready.is_set():
                held.refs += 1
                return held.staged
            else:
                # Being staged by another task: share it when it is
                # ready (or stage it ourselves if that failed).
                await held.ready.wait()
        try:
            held = await self._write(sha, content, spare, staged_in)
        except OSError as exc:
            raise MediaStagingError(
                f"cannot stage {filename!r} ({size} bytes, sha256 "
                f"{sha[:12]}) in {str(owner.directory)!r}: "
                f"{exc.strerror or exc}"
            ) from exc
        finally:
            # Tasks waiting for budget with this content can share it now.
            owner._changed()
        return held.staged

    async def _write(
        self,
        sha: str,
        content: bytes,
        spare: Spare | None,
        staged_in: Callable[[Path], StagedMedia],
    ) -> _Held:
        """
        Register the file *sha* in the run's directory, then write it (over
        *spare* if given); on any error or cancellation, delete what there
        is of it and forget it.
        """
        owner = self._owner
        # Named in the run's directory once the run has one (mostly).
        first = owner.directory if self._dir is None else self._dir.path
        ready = anyio.Event()
        held = self._held[sha] = _Held(staged_in(first), ready)
        # The spare to write over: the writer takes it out of the list.
        taken = [] if spare is None else [spare.path]
        try:
            for again in (True, False):
                run_dir = await self._run_dir()
                if run_dir.path is not first:
                    held.staged = staged_in(run_dir.path)
                # Registered (grouped with the files other tasks stage
                # meanwhile: one transaction), then written with the files
                # registered with it (one thread hop; the next group's hop
                # does not wait for this one's).
                await owner._register(
                    self._journal, self._pending(run_dir, held.staged)
                )
                held.registered = run_dir
                write = fs.Write(
                    run_dir.path, held.staged.sha256, content, taken
                )
                await owner._writes.submit(write)
                if again and isinstance(write.error, FileNotFoundError):
                    # The directory was deleted under the run (a
                    # temporary-files cleaner, an operator): its entry
                    # closed, the file goes to a directory made anew.
                    held.registered = None
                    await owner._take_away(
                        self._journal, Drop(run_dir, held.staged, None)
                    )
                    await self._lost(run_dir)
                    continue
                write.check()
                break
            self._check_open()
        except BaseException:
            held.dropping = True
            if spare is not None and taken:
                # Not written over (an error before the write): kept.
                owner._keep_spare(spare)
            with anyio.CancelScope(shield=True):
                await self._drop(held)
            raise
        finally:
            ready.set()
        return held

    async def release(self, staged: StagedMedia) -> None:
        """
        The transfer is over (uploaded or given up): delete the file and
        its journal entry.  Shielded from cancellation.
        """
        held = self._held.get(staged.sha256)
        if held is None or not held.is_ready:
            return
        held.refs -= 1
        if held.refs > 0:
            return
        held.dropping = True
        # Shielded all the same: _drop waits only in GroupCommit.submit.
        await self._drop(held)

    async def aclose(self) -> None:
        """
        Delete everything the run still holds and its directory.  Called
        by `MediaStaging.for_run`; call it shielded.
        """
        self._closed = True
        try:
            for held in list(self._held.values()):
                if held.is_ready and not held.dropping:
                    held.dropping = True
                    await self._drop(held)
        except Exception:
            # The store failed (the run's error says so); the files go
            # below all the same, and the entries at the next recovery.
            log.warning(
                "staging of run %s: journal entries left for recovery",
                self.run_id,
                exc_info=True,
                extra=_instrument.fields(run_id=self.run_id or None),
            )
            for held in list(self._held.values()):
                if held.is_ready and not held.dropping:
                    self._forget(held)
        finally:
            if self._dir is not None:
                run_dir, self._dir = self._dir, None
                # Its spares go with it.
                self._owner._forget_spares(run_dir)
                run_dir.closed = True
                try:
                    await anyio.to_thread.run_sync(run_dir.close)
                except OSError:
                    # Its records landed; what is left (a file system
                    # turned read-only) goes at a later run's sweep.
                    log.warning(
                        "staging of run %s: files left in %s for a later "
                        "run to remove",
                        self.run_id,
                        run_dir.path,
                        exc_info=True,
                        extra=_instrument.fields(run_id=self.run_id or None),
                    )

    def _pending(
        self, run_dir: fs.RunDir, staged: StagedMedia
    ) -> PendingMedia:
        where = run_dir.name
        return PendingMedia(
            scope=where,
            sha256=staged.sha256,
            size=staged.size,
            registered_at=datetime.now(UTC),
            meta={
                "filename": staged.filename,
                "mime_type": staged.mime_type,
                "directory": where,
                "host": HOST,
                "run_id": self.run_id,
            },
        )

    def _check_open(self) -> None:
        if self._closed:
            raise MediaStagingError(
                f"the staging of run {self.run_id!r} ended"
            )

    async def _run_dir(self) -> fs.RunDir:
        if self._dir is not None and not self._closed:
            return self._dir
        if self._making_dir is None:
            self._making_dir = anyio.Lock()
        async with self._making_dir:
            self._check_open()
            if self._dir is None:
                _, root = self._owner._opened()
                try:
                    made = await anyio.to_thread.run_sync(fs.new_run_dir, root)
                except FileNotFoundError:
                    # The staging directory is gone: made again (where
                    # its file system still is), as at a run's start.
                    await self._owner._claim(again=True)
                    _, root = self._owner._opened()
                    made = await anyio.to_thread.run_sync(fs.new_run_dir, root)
                self._dir = made
            return self._dir

    async def _lost(self, run_dir: fs.RunDir) -> None:
        """
        *run_dir* is gone (deleted under the run): let go of it, so that
        the run's next file makes a new one.  The files staged in it are
        lost on disk, but their uploads read them from memory, and their
        entries close as they are released (there is nothing to delete).
        """
        if self._making_dir is None:
            self._making_dir = anyio.Lock()
        async with self._making_dir:
            if self._dir is not run_dir:
                return  # another task let go of it already
            self._dir = None
            self._owner._forget_spares(run_dir)
            run_dir.closed = True
            # What cannot be removed now goes at a later run's sweep.
            with anyio.CancelScope(shield=True), suppress(OSError):
                await anyio.to_thread.run_sync(run_dir.close)
        log.warning(
            "staging of run %s: its directory %s was deleted under it; "
            "staging goes on in a new one",
            self.run_id,
            run_dir.path,
            extra=_instrument.fields(run_id=self.run_id or None),
        )

    async def _drop(self, held: _Held) -> None:
        """
        Delete *held*'s file and journal entry, and forget it.  Its only
        wait is `GroupCommit.submit`'s, shielded: cancellation cannot skip
        it.
        """
        drop = None
        try:
            # Nothing is written before it is registered: an unregistered
            # file has nothing on disk to delete.
            if (run_dir := held.registered) is not None:
                spare = (
                    None
                    if self._closed
                    else self._owner._spare_in(run_dir, held.staged.size)
                )
                drop = Drop(run_dir, held.staged, spare)
                await self._owner._take_away(self._journal, drop)
        finally:
            self._forget(held, drop)

    def _forget(self, held: _Held, drop: Drop | None = None) -> None:
        """
        Give *held*'s bytes back (to the spares if *drop* made its file
        one) and forget it.
        """
        if self._held.get(held.staged.sha256) is not held:
            return  # pragma: no cover - forgotten already
        del self._held[held.staged.sha256]
        if held.gone is not None:
            held.gone.set()
        owner = self._owner
        if held.in_memory:
            owner._in_memory -= held.staged.size
        elif drop is not None and drop.kept and drop.spare is not None:
            owner._keep_spare(
                Spare(drop.run_dir, drop.spare, held.staged.size), moved=True
            )
        else:
            owner._give_back(held.staged.size)
