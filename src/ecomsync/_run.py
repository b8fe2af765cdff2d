"""
One executing run: who it is, where it stands, what it counted, where its
events go and whether it was asked to stop; and the one error it ends
with.  Everything the other engine parts share about a run lives here.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import anyio
import attrs
from anyio.streams.memory import (
    MemoryObjectReceiveStream,
    MemoryObjectSendStream,
)

from . import _instrument
from ._closing import Hurry
from ._contracts import Failure, RunRecord, RunStatus, TypeCounts
from ._ownership import this_owner
from ._spec import DataType, SyncSpec, Trigger
from .events import Event, Progress
from .exceptions import (
    AuthenticationError,
    ConfigurationError,
    EcomsyncError,
    LicenseError,
    MediaStagingError,
    RetryableError,
    RunCancelled,
    StateStoreError,
    SyncError,
)
from .typing import CancelReasons, Instrumentation, Platform, StateStore


log = logging.getLogger("ecomsync")


def utcnow() -> datetime:
    return datetime.now(UTC)


def holder() -> str:
    """
    This process, as the monitoring view names who runs a run.
    """
    return f"{socket.gethostname()}:{os.getpid()}"


@attrs.define
class RunEvents:
    """
    The events of one run, as an async iterator; `summary` is the run's
    final record once the stream has ended.

    .. versionadded:: 26.1.0
    """

    run_id: str
    _receive: MemoryObjectReceiveStream[Event]
    _cancel: Callable[[], None]
    summary: RunRecord | None = None
    error: BaseException | None = None

    def __aiter__(self) -> RunEvents:
        return self

    async def __anext__(self) -> Event:
        try:
            # What is buffered comes at once (a turn of the event loop per
            # event let the run fill the buffer faster than the host
            # emptied it, and then every event waited for room); an empty
            # buffer waits as usual.
            return self._receive.receive_nowait()
        except anyio.WouldBlock:
            pass
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    def cancel(self) -> None:
        """
        Stop the run at the next record boundary.
        """
        self._cancel()


@attrs.define
class EventSink:
    """
    Where a run's events go: a stream the host reads, or nowhere (a
    plan).  A host that stops listening loses the rest; the run goes on.
    """

    _send: MemoryObjectSendStream[Event] | None = None

    async def emit(self, event: Event) -> None:
        if self._send is None:
            return
        try:
            # Into the buffer (or to a waiting reader) without a turn of
            # the event loop per event; only a full buffer waits.
            self._send.send_nowait(event)
        except anyio.WouldBlock:
            try:
                await self._send.send(event)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self.close()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.close()

    def close(self) -> None:
        if self._send is not None:
            self._send.close()
            self._send = None


@attrs.define
class CancelCheck:
    """
    Whether a run was asked to stop: in this process (seen at once) or
    through the store by another process (asked at most every
    *interval* seconds, unless forced).
    """

    run_id: str
    _store: StateStore
    interval: float = 0.2
    _local: anyio.Event = attrs.field(init=False, factory=anyio.Event)
    _cancelled: bool = attrs.field(init=False, default=False)
    _asked: float = attrs.field(init=False, default=0.0)
    #: The store could not answer the last time `wait` asked.
    _unreachable: bool = attrs.field(init=False, default=False)
    #: Who asked the run to stop, for its record (the first who said).
    reason: str | None = attrs.field(init=False, default=None)
    #: The deadline of the run's cleanup (`bound`).
    _hurry: Hurry | None = attrs.field(init=False, default=None)

    def request(self, reason: str | None = None) -> None:
        """
        Ask the run to stop (from this process), saying who asks: a
        cancel with a *reason* (the host's, an operator's) bounds the
        run's cleanup on a locked store as the host's own cancel does
        (`bound`); the engine's own stops (a lease lost) name none.
        """
        if reason is not None:
            self.reason = self.reason or reason
            if self._hurry is not None:
                self._hurry.start()
        self._local.set()

    def bound(self, hurry: Hurry) -> None:
        """
        Start *hurry*, the run's cleanup deadline, when the run is asked
        to stop (at once if it was already).
        """
        self._hurry = hurry
        if self.reason is not None:
            hurry.start()

    def stopped(self, errors: list[BaseException]) -> bool:
        """
        Whether the run's *errors* say it stopped as asked: each is a
        `RunCancelled`, or, someone having asked, a store write given up
        past the cleanup's deadline (a locked store), as after a host's
        cancel.
        """
        asked = (
            (self.reason is not None or self._cancelled)
            and self._hurry is not None
            and self._hurry.expired()
        )
        return all(
            isinstance(e, RunCancelled)
            or (asked and isinstance(e, StateStoreError))
            for e in errors
        )

    @property
    def cancelled(self) -> bool:
        """
        Whether the run is known to be cancelled.
        """
        return self._cancelled

    async def requested(self, *, force: bool = False) -> bool:
        if self._local.is_set():
            self._cancelled = True
        elif force or time.monotonic() - self._asked > self.interval:
            self._asked = time.monotonic()
            self._cancelled = await self._store.cancel_requested(self.run_id)
            if self._cancelled and self.reason is None:
                self.request(await self._through_store())
        return self._cancelled

    async def _through_store(self) -> str:
        """
        Who asked through the store, as the run's record says it.
        """
        why = None
        if isinstance(self._store, CancelReasons):
            # Unanswered, the run stops all the same; it names no one.
            with contextlib.suppress(StateStoreError):
                why = await self._store.cancel_reason(self.run_id)
        return THROUGH_STORE if why is None else f"{VIA_STORE}: {why}"

    async def check(self, *, force: bool = False) -> None:
        """
        Raise `RunCancelled` if the run was asked to stop.
        """
        if await self.requested(force=force):
            raise RunCancelled(f"run {self.run_id} was cancelled")

    async def wait(self) -> None:
        """
        Return once the run is asked to stop.  A store that cannot answer
        for a while (a database restart) is asked again: the run waiting
        (for a licence) needs nothing else of it meanwhile.
        """
        while True:
            try:
                cancelled = await self.requested(force=True)
            except StateStoreError as exc:
                # Once per outage: it is asked again every interval.
                if not self._unreachable:
                    self._unreachable = True
                    log.warning(
                        "run %s: cannot tell whether it was cancelled "
                        "(%s); asking again",
                        self.run_id,
                        exc,
                        extra=_instrument.fields(run_id=self.run_id),
                    )
            else:
                if self._unreachable:
                    self._unreachable = False
                    log.info(
                        "run %s: the store answers again",
                        self.run_id,
                        extra=_instrument.fields(run_id=self.run_id),
                    )
                if cancelled:
                    return
            with anyio.move_on_after(self.interval):
                await self._local.wait()


#: Why a run ended cancelled (`RunRecord.error`), by who asked.
BY_HOST = (
    "the host cancelled the task running it (Ctrl-C, SIGTERM, a "
    "cancelled task group)"
)
THROUGH_SYNCHRONIZER = "asked through Synchronizer.cancel in this process"
THROUGH_EVENTS = "asked through RunEvents.cancel()"
THROUGH_STORE = (
    "asked through the state store (Synchronizer.cancel or `ecomsync "
    "cancel` in another process)"
)
BY_CLOSING = "its Synchronizer was closed (aclose)"
VIA_STORE = "asked through the state store"


def asked_by(via: str, reason: str | None) -> str:
    """
    A cancel's reason as the store keeps it: the caller's *reason*
    (whitespace folded, at most 200 characters), or *via* (how it was
    asked) and who asked: this process's user and host.
    """
    if reason is not None and (folded := " ".join(reason.split())):
        return folded[:200]
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name (a container's uid)
        return f"{via} on {socket.gethostname()} (pid {os.getpid()})"
    return f"{via} by {user}@{socket.gethostname()}"


async def request_cancel(store: StateStore, run_id: str, why: str) -> None:
    """
    Ask *store* to stop run *run_id*, saying *why* if it keeps reasons.
    """
    if isinstance(store, CancelReasons):
        await store.request_cancel(run_id, why)
    else:
        await store.request_cancel(run_id)


@attrs.define
class Run:
    """
    The state of one run.  Its status, spec, counts and failures change
    only through its methods; the record it saves is `record`.
    """

    id: str
    platform_name: str
    platform: Platform
    trigger: Trigger
    started_at: datetime
    events: EventSink
    cancel: CancelCheck
    schedule_id: str | None = None
    _spec: SyncSpec = attrs.field(kw_only=True)
    instrumentation: Instrumentation = attrs.field(
        kw_only=True, default=_instrument.NOTHING
    )
    _status: RunStatus = attrs.field(init=False, default=RunStatus.QUEUED)
    _counts: dict[DataType, TypeCounts] = attrs.field(init=False, factory=dict)
    #: Records written for others (categories an article needs), per type.
    _dependencies: dict[DataType, Tally] = attrs.field(
        init=False, factory=dict
    )
    _failures: list[Failure] = attrs.field(init=False, factory=list)
    #: The last failure message per (type, number), for `failure_of`.
    _failed: dict[tuple[DataType, str], str] = attrs.field(
        init=False, factory=dict
    )
    #: The types gone through: a run that gave its licence back to wait
    #: for an order lease (`_order_lease`) goes on after them.
    synced: set[DataType] = attrs.field(init=False, factory=set)
    #: Stock numbers whose shop variant this run's article push may have
    #: made anew (`Writer.restock`): kept here, as `synced`, so that the
    #: stock sync after an order-lease wait (a new pipeline) still sends
    #: them.
    restock: set[str] = attrs.field(init=False, factory=set)
    #: When this run first saw each (token, heartbeat) of another run's
    #: order lease, on its monotonic clock, and the run it last waited
    #: for: kept while it gives its licence back and takes it again.
    lease_seen: dict[tuple[str, datetime], float] = attrs.field(
        init=False, factory=dict
    )
    lease_waited_for: str | None = attrs.field(init=False, default=None)
    #: The platform's stock layout this run reads all stock under, where
    #: the store keeps another (`_stock_layouts`): kept once the stock
    #: went through.
    stock_layout: str | None = attrs.field(init=False, default=None)
    #: The types read in full though the run asked for less, and why
    #: (`RunStarted.widened`).
    widened: dict[DataType, str] = attrs.field(init=False, factory=dict)

    @property
    def spec(self) -> SyncSpec:
        return self._spec

    def start(self, spec: SyncSpec) -> None:
        """
        The licence is held: run *spec* (the resolved selections).
        """
        self._spec = spec
        self._status = RunStatus.RUNNING

    def end(self, status: RunStatus) -> None:
        self._status = status

    def final(
        self, error: EcomsyncError | None, *, why: str = "cancelled"
    ) -> RunRecord:
        """
        The record of the run's end: its *error*, or who cancelled it
        (an operator sees it in the monitoring view; *why* if nobody
        asked here or through the store).
        """
        if error is not None:
            return self.record(error=describe(error))
        if self._status is RunStatus.CANCELLED:
            return self.record(error=self.cancel.reason or why)
        return self.record()

    def count(self, data_type: DataType, counts: TypeCounts) -> None:
        self._counts[data_type] = counts

    def dependencies(self, data_type: DataType) -> Tally:
        """
        What the run did to records of *data_type* that others needed
        (categories synced before their articles): it counts with the
        type's own records, as their events do, whether or not the spec
        names the type.
        """
        return self._dependencies.setdefault(data_type, Tally())

    def counts(self) -> dict[DataType, TypeCounts]:
        """
        The counts per type, with the dependencies synced for others.
        """
        counts = dict(self._counts)
        for data_type, tally in self._dependencies.items():
            if not tally.done:
                continue
            own = counts.get(data_type, TypeCounts())
            counts[data_type] = TypeCounts(
                created=own.created + tally.created,
                updated=own.updated + tally.updated,
                unchanged=own.unchanged + tally.unchanged,
                failed=own.failed + tally.failed,
            )
        return counts

    def add_failure(self, failure: Failure) -> None:
        self._failures.append(failure)
        self._failed[(failure.data_type, failure.number)] = failure.message

    def failure_of(self, data_type: DataType, number: str) -> str | None:
        """
        Why the record *number* of *data_type* failed in this run, if it
        did.
        """
        return self._failed.get((data_type, number))

    async def emit(self, event: Event) -> None:
        _instrument.observe(self.instrumentation, self.platform_name, event)
        await self.events.emit(event)

    def record(self, *, error: str | None = None) -> RunRecord:
        return RunRecord(
            id=self.id,
            trigger=self.trigger,
            platform=self.platform_name,
            spec=self._spec,
            status=self._status,
            started_at=self.started_at,
            ended_at=None if not self._status.finished else utcnow(),
            holder=holder(),
            counts=self.counts(),
            failures=tuple(self._failures),
            error=error,
            schedule_id=self.schedule_id,
            owner=None if self._status.finished else this_owner(),
            # Saved by its owner, alive now: a resumed run's record kept
            # the dead run's old beat, stale to another host's reaper
            # until the first beat.
            heartbeat_at=None if self._status.finished else utcnow(),
        )


@attrs.define
class Tally:
    """
    What one data type of a run has done so far.
    """

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def frozen(self) -> TypeCounts:
        return TypeCounts(
            created=self.created,
            updated=self.updated,
            unchanged=self.unchanged,
            failed=self.failed,
        )

    @property
    def done(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed


@attrs.define
class Meter:
    """
    Emits `Progress` at most every *interval* seconds.
    """

    run: Run
    data_type: DataType
    total: int | None
    interval: float = 0.5
    _start: float = attrs.field(init=False, factory=time.monotonic)
    _last: float = attrs.field(init=False, default=0.0)

    async def tick(self, done: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < self.interval:
            return
        self._last = now
        elapsed = max(now - self._start, 1e-9)
        rate = done / elapsed
        eta = None
        if self.total is not None and rate > 0:
            eta = max(self.total - done, 0) / rate
        await self.run.emit(
            Progress(
                run_id=self.run.id,
                data_type=self.data_type,
                done=done,
                total=self.total,
                rate=rate,
                eta=eta,
            )
        )


#: Which error a failed run raises when several went wrong at once: the
#: first class here that one of them is (see `ecomsync.exceptions`).
PRIORITY: tuple[type[EcomsyncError], ...] = (
    AuthenticationError,
    StateStoreError,
    MediaStagingError,
    LicenseError,
    ConfigurationError,
    RetryableError,
    SyncError,
    EcomsyncError,
)


def leaves(error: BaseException) -> Iterator[BaseException]:
    """
    The errors inside *error*, groups opened.
    """
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from leaves(inner)
    else:
        yield error


def _rank(error: BaseException) -> int:
    if isinstance(error, RunCancelled):
        return len(PRIORITY) + 1
    for rank, kind in enumerate(PRIORITY):
        if isinstance(error, kind):
            return rank
    return len(PRIORITY)  # not ours: after every library error


def fatal_error(error: BaseException) -> EcomsyncError:
    """
    The one library exception a run ends with for *error* (an error or a
    group of them): the highest in `PRIORITY`; the others are attached
    as notes.  An error that is not the library's comes out wrapped in
    `EcomsyncError`, the original as its cause.
    """
    found: list[BaseException] = []
    for leaf in leaves(error):
        if all(leaf is not seen for seen in found):
            found.append(leaf)
    first = min(found, key=_rank)
    if isinstance(first, EcomsyncError):
        chosen = first
    else:
        chosen = EcomsyncError(describe(first))
        chosen.__cause__ = first
    others: dict[str, int] = {}
    for other in found:
        if other is not first:
            text = describe(other)
            others[text] = others.get(text, 0) + 1
    for text, times in others.items():
        chosen.add_note(
            f"also: {text}" + (f" ({times} times)" if times > 1 else "")
        )
    return chosen


def describe(error: BaseException) -> str:
    """
    *error* as a run's record names it: its type, then its message.
    """
    return f"{type(error).__name__}: {error}"
