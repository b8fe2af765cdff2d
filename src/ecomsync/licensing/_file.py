"""
`FileLicensePool`: ERP licences shared by the processes of one machine,
as OS file locks (``locking`` extra: portalocker).

Slot *i* of a pool is the file ``slot-<i>.lock`` in the pool's directory,
held with an exclusive, non-blocking ``flock`` on a file descriptor of the
lease's own.  The kernel drops the lock when that descriptor is closed,
so a lease dies with its process however the process ends (``kill -9``
included).  The holder's run id is written into the locked file, so that
a waiter can say who holds the licences.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import attrs

from .._closing import AsyncResource
from .._contracts import Lease, needs_extra
from .._settings import at_least, seconds
from ..exceptions import ConfigurationError, LicenseError
from ._polling import poll_for_slot


if TYPE_CHECKING:
    from types import ModuleType


__all__ = ["FileLicensePool"]


def _portalocker() -> ModuleType:
    with needs_extra("FileLicensePool", "locking"):
        import portalocker
    return portalocker


@attrs.define
class FileLicensePool(AsyncResource):
    """
    *size* ERP licences shared by every process on this machine that uses
    the directory *path*: the default for several processes on one
    machine (with `SqliteStore`); across machines use
    `PostgresLicensePool`.

    Each licence is an exclusive OS lock on a file in *path* (created if
    missing), held on a file descriptor of the lease's own: it is returned
    when its block ends and, if the process dies (``kill -9``, a crash),
    at once, because the kernel releases the locks of a dead process.
    Waiting holders poll with exponential backoff (*poll_interval* up to
    *max_poll_interval*).

    The pool's size is recorded in *path* the first time it is used; a
    process that says otherwise is refused with `ConfigurationError`,
    because mixed sizes would hand out more licences than exist.

    Keep *path* on a local file system (not NFS), and do not ``fork``
    while holding a lease without ``exec``: the child would inherit the
    lock.

    Raises:
        ConfigurationError: A size that is not a whole number of at least
            1, or *poll_interval* or *max_poll_interval* not a number of
            seconds above 0 (0 polled in a busy loop); naming it.

    .. versionadded:: 26.1.0
    """

    path: Path = attrs.field(converter=Path)
    _size: int = attrs.field(validator=at_least(1), alias="size")
    poll_interval: float = attrs.field(default=0.05, validator=seconds())
    max_poll_interval: float = attrs.field(default=0.5, validator=seconds())
    _ready: bool = attrs.field(init=False, default=False)
    _closed: bool = attrs.field(init=False, default=False)

    def __repr__(self) -> str:
        return f"<FileLicensePool {str(self.path)!r} size={self._size}>"

    @property
    def size(self) -> int:
        return self._size

    def _slot_file(self, slot: int) -> Path:
        return self.path / f"slot-{slot}.lock"

    def _prepare(self) -> None:
        if self._ready:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            record = self.path / "pool.json"
            if not record.exists():
                # Written aside and linked into place: a reader sees the
                # whole record or none.
                tmp = self.path / f".pool-{uuid.uuid4().hex}.tmp"
                try:
                    tmp.write_text(json.dumps({"size": self._size}))
                    with contextlib.suppress(FileExistsError):
                        os.link(tmp, record)
                finally:
                    # Also when the disk is full: one left per attempt.
                    with contextlib.suppress(FileNotFoundError):
                        tmp.unlink()
            recorded = int(json.loads(record.read_text())["size"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LicenseError(
                f"cannot use the licence pool directory {str(self.path)!r}: "
                f"{exc}"
            ) from exc
        if recorded != self._size:
            raise ConfigurationError(
                f"licence pool {str(self.path)!r} has {recorded} licence(s) "
                f"but this process was configured with {self._size}; stop "
                f"every process using it and change {str(record)!r}, or fix "
                "the configuration"
            )
        self._ready = True

    def _try_slot(self, slot: int, holder: str) -> TextIO | None:
        """
        The locked file of *slot*, with *holder* written into it; ``None``
        if another lease holds it.
        """
        locker = _portalocker()
        path = self._slot_file(slot)
        try:
            fh = path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise LicenseError(
                f"cannot use the licence pool directory {str(self.path)!r}: "
                f"{exc}"
            ) from exc
        try:
            locker.lock(fh, locker.LOCK_EX | locker.LOCK_NB)
        except locker.LockException:
            fh.close()
            return None
        except BaseException:
            fh.close()
            raise
        text = json.dumps(
            {
                "holder": holder,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(),
            }
        )
        try:
            # Unbuffered: a write the disk refuses leaves nothing behind
            # to fail again when the lease ends.
            os.ftruncate(fh.fileno(), 0)
            os.write(fh.fileno(), text.encode())
        except OSError:
            # A full disk or a quota: the lock is the licence, the holder
            # only what `holders` shows (as unknown).  Refusing the
            # licence would stop every run for a note.
            pass
        except BaseException:
            _release(fh)
            raise
        return fh

    @asynccontextmanager
    async def lease(
        self, holder: str, *, timeout: float
    ) -> AsyncIterator[Lease]:
        """
        Hold one licence for the block, a lock on one slot file; wait up
        to *timeout* seconds.

        Raises:
            NoFreeLicense: Every licence stayed held for the whole wait;
                names the size and the holders.
        """
        # Non-blocking lock calls on a local file: done on the event loop,
        # so that a cancellation can never lose a lock taken in a thread.
        self._ensure_open()
        self._prepare()

        async def try_slot(slot: int) -> tuple[int, TextIO] | None:
            fh = self._try_slot(slot, holder)
            return None if fh is None else (slot, fh)

        got = await poll_for_slot(
            try_slot,
            size=self._size,
            timeout=timeout,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
            holders=self.holders,
        )
        slot, fh = got
        try:
            yield Lease(holder, slot)
        finally:
            _release(fh)

    async def holders(self) -> tuple[str, ...]:
        """
        Who holds licences right now: the run ids written into the locked
        slot files (a dead holder's lock is gone, so it is not listed).
        """
        self._prepare()
        return tuple(
            h
            for slot in range(self._size)
            if (h := self._holder_of(slot)) is not None
        )

    async def in_use(self) -> int:
        """
        How many licences are held right now.
        """
        return len(await self.holders())

    def _holder_of(self, slot: int) -> str | None:
        locker = _portalocker()
        path = self._slot_file(slot)
        try:
            fh = path.open(encoding="utf-8")
        except FileNotFoundError:
            return None
        with fh:
            try:
                # A shared lock is only refused while a lease holds the
                # slot; taking it for a moment may make an acquirer try
                # the next slot.
                locker.lock(fh, locker.LOCK_SH | locker.LOCK_NB)
            except locker.LockException:
                text = fh.read()
            else:
                locker.unlock(fh)
                return None
        try:
            return str(json.loads(text)["holder"])
        except (ValueError, KeyError, TypeError):
            return f"slot {slot} (holder unknown)"


def _release(fh: TextIO) -> None:
    locker = _portalocker()
    try:
        fh.seek(0)
        fh.truncate()
        fh.flush()
        locker.unlock(fh)
    finally:
        fh.close()
