"""
The blocking half of `ecomsync.media`: the staging directory on disk.

Layout of a staging directory (the *root*)::

    <root>/
        .ecomsync-staging       the marker: this directory is ours
        run-<token>.lock        held (flock) while its run is alive
        run-<token>/            that run's files:
            <sha256>            a staged file, named by its content hash
            .<sha256>.<rnd>.tmp a file being written
            .<rnd>.spare        an uploaded file, kept to be written over

An uploaded file is renamed to a spare name rather than deleted, when
`ecomsync.media` wants to keep it: the next file is written over it
instead of into a new inode (on ext4 a new file costs several times the
CPU of overwriting the blocks of an old one, and its deletion more).

Only names of these shapes are ever deleted, only inside a marked root,
and never through a symlink: whatever else is in the directory was not
written by us and stays.  A run directory whose lock nobody holds belongs
to a run that died (its process is gone): `sweep` removes it.

Everything here blocks; `ecomsync.media` calls it in a worker thread,
except the writes of small files, and every close and rename, which it
makes on the event loop's thread (only the fsyncs are worth a thread).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
import stat
import sys
from pathlib import Path

import attrs

from .exceptions import MediaStagingError


MARKER = ".ecomsync-staging"
_MARKER_TEXT = (
    "This directory belongs to ecomsync's MediaStaging: it deletes the\n"
    "files it wrote here (run-*/) once they are uploaded, or when the run\n"
    "that wrote them died.  It never deletes anything else.\n"
)
_RUN = re.compile(r"run-([0-9a-f]{32})(\.lock)?")
_OURS = re.compile(
    r"[0-9a-f]{64}|\.[0-9a-f]{64}\.[0-9a-f]{16}\.tmp|\.[0-9a-f]{16}\.spare"
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: Numbers for temporary and spare names: unique in this process, which
#: alone writes in its run directories (a random token costs a getrandom
#: call and its GIL hand-over per file; ``next`` is atomic).
_names = itertools.count(secrets.randbits(32) << 32)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


# The low-level writer, where tests inject disk faults (ENOSPC, EIO) as
# the kernel reports them: patch these, or os.write and os.fsync.
def _write(fd: int, data: memoryview) -> int:
    return os.write(fd, data)


def _fsync(fd: int) -> None:
    os.fsync(fd)


if sys.platform == "win32":  # pragma: no cover - not tested on Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _share(fd: int) -> None:
        pass

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _share(fd: int) -> None:
        # Blocks only while a closing process removes the root (short).
        fcntl.flock(fd, fcntl.LOCK_SH)


def claim(root: Path) -> int:
    """
    Create *root* and mark it as ours, or check that it is ours; return
    the marker's descriptor, holding a shared lock on it: this process
    uses *root* until `let_go`.

    An existing directory without the marker is adopted only when it is
    empty; a non-empty one is refused, since deleting in it could destroy
    somebody else's files.
    """
    while True:
        try:
            _claim(root)
            fd = os.open(root / MARKER, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
        except FileNotFoundError:  # pragma: no cover - a race with let_go
            continue
        _share(fd)
        # The last user may have removed the root meanwhile: then again.
        if _same_file(fd, root / MARKER):
            return fd
        os.close(fd)  # pragma: no cover - a race with let_go


def let_go(root: Path, fd: int, *, remove: bool) -> bool:
    """
    Stop using *root* (close *fd* from `claim`).  With *remove*, and if no
    other process uses *root* and nothing but the marker is left in it
    once the runs that died are swept, delete the marker and *root*.
    Returns whether *root* is gone.
    """
    try:
        if not remove or sys.platform == "win32" or not _try_lock(fd):
            return False
        sweep(root)
        if {e.name for e in os.scandir(root)} != {MARKER}:
            return False
        (root / MARKER).unlink()
        try:
            root.rmdir()
        except OSError:  # pragma: no cover - another process came in
            return False
        return True
    finally:
        os.close(fd)


def check_device(root: Path, device: int) -> None:
    """
    Raise unless *root*, gone, may be made again: its parent is on the
    file system *device*, where *root* was (a temporary-files cleaner or
    an operator deleted it).  Where that file system is gone (unmounted),
    the files would fill the one beneath it instead.
    """
    try:
        same = os.stat(root.parent).st_dev == device
    except FileNotFoundError:
        same = False
    if not same:
        raise MediaStagingError(
            f"the staging directory {str(root)!r} is gone, and so is the "
            "file system it was on (unmounted?); mount it again, or give "
            "MediaStaging another directory"
        )


def _claim(root: Path) -> None:
    try:
        root.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        if not root.is_dir():
            raise MediaStagingError(
                f"the staging directory {str(root)!r} exists and is not a "
                "directory"
            ) from None
        if (root / MARKER).is_file():
            return
        if not _only_runs(root):
            raise MediaStagingError(
                f"refusing to stage media in {str(root)!r}: it is not "
                f"empty and was not created by ecomsync (no {MARKER} "
                "file); give MediaStaging a directory of its own, such "
                f"as {str(root / 'ecomsync-staging')!r}, which it creates"
            ) from None
    (root / MARKER).write_text(_MARKER_TEXT)


def _only_runs(root: Path) -> bool:
    """
    Whether *root* holds nothing but run directories and their locks,
    as ecomsync names them (none a symlink): ours, its marker deleted (a
    temporary-files cleaner ages out a file nobody writes), or empty.
    """
    with os.scandir(root) as entries:
        for entry in entries:
            match = _RUN.fullmatch(entry.name)
            if match is None:
                return False
            if match[2] is None:
                ok = entry.is_dir(follow_symlinks=False)
            else:
                ok = entry.is_file(follow_symlinks=False)
            if not ok:
                return False
    return True


@attrs.define
class RunDir:
    """
    A run's own directory, and the lock that says its run is alive.
    """

    path: Path
    lock: Path
    fd: int
    #: *path* as a string (the journal's scope of the run's files).
    name: str = attrs.field(init=False)
    #: Set (in the event loop) when its run ends: no spare is kept in it.
    closed: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        self.name = str(self.path)

    def close(self) -> list[str]:
        """
        Delete what we wrote, the directory and its lock; return the names
        of the files deleted.
        """
        try:
            return _remove(self.path)
        finally:
            try:
                with contextlib.suppress(FileNotFoundError):
                    self.lock.unlink()
            finally:
                # Let go of the lock whatever failed (a read-only file
                # system): a sweep removes what is left once it can.
                os.close(self.fd)


def new_run_dir(root: Path) -> RunDir:
    """
    Make a fresh run directory under *root*, locked by this process.
    """
    while True:
        token = secrets.token_hex(16)
        lock = root / f"run-{token}.lock"
        fd = os.open(
            lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o600
        )
        # A concurrent sweep may take the new lock file for a dead run's
        # and delete it before we lock it: then take another token.
        if _try_lock(fd) and _same_file(fd, lock):
            path = root / f"run-{token}"
            try:
                path.mkdir(mode=0o700)
            except BaseException:
                lock.unlink()
                os.close(fd)
                raise
            return RunDir(path=path, lock=lock, fd=fd)
        os.close(fd)  # pragma: no cover - a race with another process


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:  # pragma: no cover - a race, see above
        return False


def sweep(root: Path) -> tuple[list[str], set[str]]:
    """
    Remove the run directories under *root* whose run is dead.

    Returns the files deleted (``run-<token>/<name>``) and the names of
    the dead runs' directories.
    """
    removed: list[str] = []
    dead: set[str] = set()
    entries = {e.name: e for e in os.scandir(root)}
    for name in sorted(entries):
        match = _RUN.fullmatch(name)
        if match is None:
            continue
        run = f"run-{match[1]}"
        if match[2] is None:
            # A directory whose lock file is gone was left by a sweep or a
            # run that died between its last two steps: nobody owns it.
            if f"{run}.lock" not in entries and entries[name].is_dir(
                follow_symlinks=False
            ):
                dead.add(run)
                removed += _remove(root / run)
            continue
        try:
            fd = os.open(root / name, os.O_RDWR | _NOFOLLOW | _CLOEXEC)
        except FileNotFoundError:  # pragma: no cover - a race
            continue
        try:
            if not _try_lock(fd):
                continue
            dead.add(run)
            removed += _remove(root / run)
            with contextlib.suppress(FileNotFoundError):
                (root / name).unlink()
        finally:
            os.close(fd)
    return removed, dead


def _remove(path: Path) -> list[str]:
    """
    Delete the files we write in the run directory *path*, then the
    directory if nothing else is left in it.
    """
    removed: list[str] = []
    if path.is_symlink() or not path.is_dir():
        return removed  # none, or not a directory we made: it stays
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if _OURS.fullmatch(entry.name) and entry.is_file(
            follow_symlinks=False
        ):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
            removed.append(f"{path.name}/{entry.name}")
    # Something we did not write stays, and so does its directory.
    with contextlib.suppress(OSError):
        path.rmdir()
    return removed


def spare_name(directory: str) -> str:
    """
    A new spare name in *directory* (a run directory, as a string).
    """
    return os.path.join(directory, f".{next(_names):016x}.spare")


def write_file(
    directory: Path, name: str, content: bytes, spare: list[str] | None = None
) -> None:
    """
    Write *content* to *directory*/*name*: to a temporary name, fsynced,
    renamed.  On any error nothing is left behind.

    *spare*, if given, holds the path of a spare (`retire_all`) no larger
    than *content*: it is taken out of the list (the caller learns that it
    was used) and written over, its blocks reused, instead of a new file.
    A spare of another run's directory is first renamed into *directory*;
    one that is gone (its run ended) is replaced by a new file.
    """
    # Joined as strings: cheaper than pathlib, once per staged file.
    where = os.fspath(directory)
    fd, tmp = _begin(where, name, content, spare)
    _finish(fd, tmp, os.path.join(where, name))


def _begin(
    where: str, name: str, content: bytes, spare: list[str] | None
) -> tuple[int, str]:
    """
    The first half of `write_file`: *content* written to a temporary name
    in *where*; the open descriptor and that name.  On an error nothing is
    left behind.
    """
    tmp = os.path.join(where, f".{name}.{next(_names):016x}.tmp")
    fd = -1
    if spare:
        fd, tmp = _open_spare(spare.pop(), where, tmp)
    reused = fd >= 0
    if not reused:
        fd = os.open(
            tmp,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC,
            stat.S_IRUSR | stat.S_IWUSR,
        )
    try:
        view = memoryview(content)
        while view:
            view = view[_write(fd, view) :]
        if reused:
            # A spare is no larger than *content*: this is a no-op,
            # unless the spare was not what it was taken for.
            os.ftruncate(fd, len(content))
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return fd, tmp


def _finish(fd: int, tmp: str, path: str) -> None:
    """
    The second half of `write_file`: fsync and close *fd*, rename *tmp* to
    *path*.  On an error the temporary file is deleted.
    """
    try:
        try:
            _fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@attrs.define(eq=False)
class Write:
    """
    One file for `write_all`: `write_file`'s arguments, and its error.
    """

    directory: Path
    name: str
    content: bytes
    spare: list[str]
    error: OSError | None = None
    #: Between `begin_all` and `end_all`: the open descriptor (-1 when
    #: none), the temporary name, and whether it was fsynced.
    fd: int = attrs.field(init=False, default=-1)
    tmp: str = attrs.field(init=False, default="")
    synced: bool = attrs.field(init=False, default=False)

    def check(self) -> None:
        """
        Raise the file's error, if it failed.
        """
        if self.error is not None:
            raise self.error


#: The most files `write_all` holds open at once.
WRITE_SLICE = 64


def write_all(writes: list[Write]) -> None:
    """
    `write_file` each of *writes* (one worker-thread hop for several
    files); a file that fails (ENOSPC, EIO) gets its error, the others are
    written all the same.

    Every file (of a slice of `WRITE_SLICE`) is written before the first
    is fsynced: on a journalling file system the first fsync commits the
    others' blocks and names with its own (ext4's ``data=ordered``), so
    the later fsyncs find little left to do; one commit per group instead
    of one per file.  Each file is still fsynced before it is renamed.

    The steps are `settle` and `end_all`; `ecomsync.media` calls them
    apart, the small files' writes and every close and rename on the
    event loop's thread, only the fsyncs in a worker thread.
    """
    for start in range(0, len(writes), WRITE_SLICE):
        part = writes[start : start + WRITE_SLICE]
        try:
            settle(part)
        except BaseException:
            end_all(part, keep=False)
            raise
        end_all(part)


def settle(writes: list[Write]) -> None:
    """
    `begin_all`, then `sync_all`: every file written (its data on disk),
    none renamed yet.
    """
    begin_all(writes)
    sync_all(writes)


def begin_all(writes: list[Write]) -> None:
    """
    Write each of *writes* to a temporary name, left open and not
    fsynced; a file that fails gets its error and leaves nothing.  Files
    begun already, or failed, are skipped.
    """
    for w in writes:
        if w.fd >= 0 or w.error is not None:
            continue
        try:
            w.fd, w.tmp = _begin(
                os.fspath(w.directory), w.name, w.content, w.spare
            )
        except OSError as exc:
            w.error = exc


def sync_all(writes: list[Write]) -> None:
    """
    fsync each file `begin_all` wrote; a file whose fsync fails gets its
    error (`end_all` deletes it).
    """
    for w in writes:
        if w.fd >= 0 and w.error is None:
            try:
                _fsync(w.fd)
            except OSError as exc:
                w.error = exc
            else:
                w.synced = True


def end_all(writes: list[Write], *, keep: bool = True) -> None:
    """
    Close each file `begin_all` wrote; rename the fsynced ones to their
    names (with *keep*), delete the others.  Each file that fails gets its
    error and leaves nothing.
    """
    for w in writes:
        fd, w.fd = w.fd, -1
        if fd < 0:
            continue
        try:
            os.close(fd)
            if keep and w.synced and w.error is None:
                os.replace(w.tmp, os.path.join(os.fspath(w.directory), w.name))
                continue
        except OSError as exc:
            w.error = exc
        with contextlib.suppress(OSError):
            os.unlink(w.tmp)


def _open_spare(spare: str, where: str, tmp: str) -> tuple[int, str]:
    """
    Open *spare* for writing, renamed to *tmp* if it is in another
    directory than *where*; return the descriptor (-1 if the spare is
    gone) and the file's name.
    """
    try:
        if os.path.dirname(spare) != where:
            os.replace(spare, tmp)
            spare = tmp
        return os.open(spare, os.O_WRONLY | _NOFOLLOW | _CLOEXEC), spare
    except FileNotFoundError:
        return -1, tmp


def retire_all(files: list[tuple[str, str | None]]) -> dict[str, str | None]:
    """
    Take the staged files away, each ``(path, spare)``: rename *path* to
    the spare name *spare* (its blocks kept for the next file), or delete
    it when *spare* is None.  Returns the paths that are gone now, each
    with its spare if it became one.  A file that cannot be taken away
    (EACCES, EIO) is left out: it keeps its journal entry.
    """
    gone: dict[str, str | None] = {}
    for path, spare in files:
        try:
            if spare is None:
                os.unlink(path)
            else:
                os.replace(path, spare)
        except FileNotFoundError:
            gone[path] = None
        except OSError:
            continue
        else:
            gone[path] = spare
    return gone


def discard(paths: list[str]) -> None:
    """
    Delete the spares *paths*, those that are still there.
    """
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)
