"""
One lifecycle for everything that holds resources: `AsyncResource`.

``async with thing:`` closes *thing* on exit; `aclose` closes it once
(closing again does nothing); using it after that raises
`ResourceClosed` naming it.  The synchroniser, the adapters, the stores,
the licence pools and the staging directory all follow it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Protocol, Self

import anyio
import attrs
from anyio.abc import TaskStatus

from ._anyio_util import task_group
from ._contracts import RunRecord
from .exceptions import ResourceClosed


__all__ = [
    "CLEANUP_TIMEOUT",
    "AsyncResource",
    "Hurry",
    "LiveRuns",
    "close_each",
    "current_hurry",
    "hurried",
    "hurry_on_cancel",
]

#: Seconds the cleanup of a cancelled run (recording its end, its staging
#: journal, its order lease) may wait for a locked store, all steps
#: together: each step is shielded from the cancel, and would otherwise
#: wait out the store's lock timeout (30 s) on its own.
CLEANUP_TIMEOUT = 5.0


class AsyncResource:
    """
    Mixin: `aclose` closes once (through `_close`), ``async with`` closes
    on exit, `_ensure_open` refuses use after close.

    A class using it declares a ``_closed`` attribute that starts false
    (``attrs.field(init=False, default=False)``).
    """

    __slots__ = ()

    _closed: bool

    @property
    def closed(self) -> bool:
        """
        Whether `aclose` was called.
        """
        return self._closed

    async def aclose(self) -> None:
        """
        Release what this object holds.  Closing twice does nothing;
        using it afterwards raises `~ecomsync.exceptions.ResourceClosed`.
        """
        if self._closed:
            return
        # object.__setattr__: frozen attrs classes use the mixin, too.
        object.__setattr__(self, "_closed", True)
        await self._close()

    async def _close(self) -> None:
        """
        Release what this object holds (called once, by `aclose`).
        """

    def _ensure_open(self) -> None:
        if self._closed:
            raise ResourceClosed(
                f"{self!r} is closed (aclose() was called, or its "
                "`async with` block ended): it cannot be used any more"
            )

    async def __aenter__(self) -> Self:
        self._ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def close_each(things: Iterable[object]) -> None:
    """
    Close every one of *things* that has ``aclose``, in order, shielded
    from cancellation; an error closes the rest and is raised after.
    """
    first: BaseException | None = None
    with anyio.CancelScope(shield=True):
        for thing in things:
            close = getattr(thing, "aclose", None)
            if close is None:
                continue
            try:
                await close()
            except Exception as exc:  # close the rest, then raise
                first = first or exc
    if first is not None:
        raise first


class _Cancellable(Protocol):
    def request(
        self, reason: str | None = None
    ) -> None: ...  # pragma: no cover


@attrs.define
class LiveRuns:
    """
    The runs and serve loops in progress in one synchroniser, so that
    closing it can stop them and wait until they are gone.
    """

    _cancels: dict[str, _Cancellable] = attrs.field(factory=dict)
    #: The final records of runs that ended here while the store could
    #: not record it (a full disk, a store gone read-only or away), by id:
    #: saved as soon as the store takes them again.
    unrecorded: dict[str, RunRecord] = attrs.field(factory=dict)
    _serving: int = 0
    _drained: anyio.Event | None = None

    def started(self, run_id: str, cancel: _Cancellable) -> None:
        self._cancels[run_id] = cancel

    def ended(self, run_id: str) -> None:
        del self._cancels[run_id]
        self._maybe_drained()

    def cancel(self, run_id: str, reason: str) -> bool:
        """
        Ask run *run_id* to stop, for *reason*, if it runs here; whether
        it does.
        """
        cancel = self._cancels.get(run_id)
        if cancel is not None:
            cancel.request(reason)
        return cancel is not None

    @contextmanager
    def serving(self) -> Iterator[None]:
        self._serving += 1
        try:
            yield
        finally:
            self._serving -= 1
            self._maybe_drained()

    async def drain(self, reason: str) -> None:
        """
        Ask every run to stop (as `cancel` does, for *reason*) and wait
        until no run and no serve loop is left.
        """
        while self._cancels or self._serving:
            for cancel in list(self._cancels.values()):
                cancel.request(reason)
            self._drained = anyio.Event()
            await self._drained.wait()

    def _maybe_drained(self) -> None:
        if not (self._cancels or self._serving) and self._drained:
            self._drained.set()


@attrs.define(eq=False)
class Hurry:
    """
    The one deadline of a cleanup (`time.monotonic`), once it started:
    a store gives up waiting for a lock past it (its shielded cleanup
    steps cannot be cancelled), with an error saying so.
    """

    seconds: float = CLEANUP_TIMEOUT
    deadline: float | None = None

    def start(self) -> None:
        """
        Start the clock (again does nothing: one deadline for all steps).
        """
        if self.deadline is None:
            self.deadline = time.monotonic() + self.seconds

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def remaining(self) -> float | None:
        """
        Seconds left, ``None`` while the clock has not started.
        """
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())


# Read by stores in their worker threads too (anyio runs those in a copy
# of the caller's context): one object, shared by every task of a run.
_HURRY: ContextVar[Hurry | None] = ContextVar("ecomsync_hurry", default=None)


def current_hurry() -> Hurry | None:
    """
    The cleanup deadline of the caller's run, if it has one.
    """
    return _HURRY.get()


@contextmanager
def hurried(seconds: float | None = None) -> Iterator[Hurry]:
    """
    Store calls in the block (and in tasks it starts) give up waiting
    for a lock *seconds* (`CLEANUP_TIMEOUT`) from now, all together.
    """
    hurry = Hurry(CLEANUP_TIMEOUT if seconds is None else seconds)
    hurry.start()
    token = _HURRY.set(hurry)
    try:
        yield hurry
    finally:
        _HURRY.reset(token)


@asynccontextmanager
async def hurry_on_cancel(
    seconds: float | None = None,
) -> AsyncIterator[Hurry]:
    """
    Once the host cancels the block, the store calls of its cleanup (in
    the block and in the tasks it starts) give up waiting for a lock
    *seconds* (`CLEANUP_TIMEOUT`) after the cancel, all together.
    """
    hurry = Hurry(CLEANUP_TIMEOUT if seconds is None else seconds)
    token = _HURRY.set(hurry)
    try:
        async with task_group() as tg:
            watcher = await tg.start(_start_on_cancel, hurry)
            try:
                yield hurry
            finally:
                watcher.cancel()
    finally:
        _HURRY.reset(token)


async def _start_on_cancel(
    hurry: Hurry,
    *,
    task_status: TaskStatus[anyio.CancelScope] = anyio.TASK_STATUS_IGNORED,
) -> None:
    with anyio.CancelScope() as own:
        task_status.started(own)
        try:
            await anyio.sleep_forever()
        finally:
            if not own.cancel_called:  # not the block's end: the host's cancel
                hurry.start()
