"""
Small anyio helpers the engine and media staging share: a task group whose
lone error comes out as itself, deterministic closing of async iterators,
calls run at once that fail as the first failure (`concurrently`),
`GroupCommit`, which groups the items submitted while a flush runs,
`TurnGroup`, which groups those submitted in one event-loop turn, and
`Lanes`, which works many items with a few tasks, first come first served.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Generic, TypeVar

import anyio
import anyio.lowlevel
import attrs
from anyio.abc import TaskGroup


T = TypeVar("T")


@asynccontextmanager
async def task_group() -> AsyncIterator[TaskGroup]:
    """
    An anyio task group whose lone error comes out as itself, not wrapped
    in an ExceptionGroup, so that callers can tell a `RunCancelled` or an
    `AuthenticationError` by its type.  Several errors stay a group; the
    run's lifecycle picks the one to raise (`_run.fatal_error`).
    """
    try:
        async with anyio.create_task_group() as tg:
            yield tg
    except BaseExceptionGroup as group:
        error: BaseException = group
        while (
            isinstance(error, BaseExceptionGroup)
            and len(error.exceptions) == 1
        ):
            error = error.exceptions[0]
        if error is group:
            raise
        raise error from None


async def aclose(iterator: AsyncIterator[Any]) -> None:
    """
    Close *iterator* now if it can be closed (adapters return async
    generators; anyio advises against leaving them to the collector).
    """
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


async def closing(iterator: AsyncIterator[T]) -> AsyncIterator[T]:
    """
    Iterate *iterator* to the end, or close it when abandoned.
    """
    try:
        async for item in iterator:
            yield item
    finally:
        await aclose(iterator)


async def concurrently(*calls: Callable[[], Awaitable[object]]) -> None:
    """
    Run *calls* at once; the first failure cancels the others and is
    raised as itself (never as an exception group).
    """
    errors: list[Exception] = []

    async def guarded(
        call: Callable[[], Awaitable[object]], scope: anyio.CancelScope
    ) -> None:
        try:
            await call()
        except Exception as exc:
            errors.append(exc)
            scope.cancel()

    async with anyio.create_task_group() as tg:
        for call in calls:
            tg.start_soon(guarded, call, tg.cancel_scope)
    if errors:
        raise errors[0]


@attrs.define
class _Slot:
    done: bool = False
    error: BaseException | None = None


@attrs.define
class GroupCommit(Generic[T]):
    """
    Items submitted while a flush is under way go together in the next
    one (one journal transaction per group of staged files, one request
    per group of media-id questions), with no timing window.  Waiting is
    shielded, so that an item is never left half-done by a cancelled
    caller.
    """

    flush: Callable[[list[T]], Awaitable[None]]
    _queue: list[tuple[T, _Slot]] = attrs.field(init=False, factory=list)
    _busy: bool = attrs.field(init=False, default=False)
    _idle: anyio.Event | None = attrs.field(init=False, default=None)

    async def submit(self, item: T) -> None:
        slot = _Slot()
        self._queue.append((item, slot))
        with anyio.CancelScope(shield=True):
            while not slot.done:
                if self._busy:
                    if self._idle is None:
                        self._idle = anyio.Event()
                    await self._idle.wait()
                    continue
                self._busy = True
                batch: list[tuple[T, _Slot]] = []
                try:
                    # One turn of the event loop first: items submitted by
                    # the tasks that are ready now go in this group, too.
                    await anyio.lowlevel.checkpoint()
                    batch, self._queue = self._queue, []
                    await self.flush([i for i, _ in batch])
                except BaseException as exc:
                    if not batch:
                        # Interrupted (KeyboardInterrupt) before taking a
                        # group: the others carry on without us.
                        raise
                    for _, other in batch:
                        other.error = exc
                finally:
                    for _, other in batch:
                        other.done = True
                    self._busy = False
                    if self._idle is not None:
                        self._idle.set()
                        self._idle = None
        if slot.error is not None:
            raise slot.error


@attrs.define(eq=False)
class _Turn(Generic[T]):
    items: list[T]
    done: anyio.Event = attrs.Factory(anyio.Event)
    error: BaseException | None = None


@attrs.define
class TurnGroup(Generic[T]):
    """
    Items submitted in the same turn of the event loop go to *flush*
    together (one worker-thread hop for the files whose journal entries
    were committed together); unlike `GroupCommit`, a group does not wait
    for the one before it, so flushes overlap.  An error *flush* raises
    reaches every item of its group (per-item outcomes are the items'
    own).  Waiting is shielded, so that an item is never left half-done
    by a cancelled caller.
    """

    flush: Callable[[list[T]], Awaitable[None]]
    _forming: _Turn[T] | None = attrs.field(init=False, default=None)

    async def submit(self, item: T) -> None:
        with anyio.CancelScope(shield=True):
            forming = self._forming
            if forming is not None:
                turn = forming
                turn.items.append(item)
                await turn.done.wait()
            else:
                turn = self._forming = _Turn([item])
                try:
                    try:
                        # One turn of the event loop: the items of the
                        # tasks that are ready now join this group.
                        await anyio.lowlevel.checkpoint()
                    finally:
                        self._forming = None
                    await self.flush(turn.items)
                except BaseException as exc:
                    turn.error = exc
                finally:
                    turn.done.set()
        if turn.error is not None:
            raise turn.error


@attrs.define(eq=False)
class Demand:
    """
    One call's items asking `Lanes` for turns; entered (``async with``)
    by the task that works an item, for the part that needs the turn.
    """

    lanes: Lanes
    #: Turns still to be granted.
    want: int
    #: Granted and not entered yet.
    free: int = 0
    #: Tasks of this call waiting for a turn, first come first served.
    sleepers: deque[anyio.Event] = attrs.field(factory=deque)

    async def __aenter__(self) -> None:
        await self.lanes._take(self)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.lanes._release()


@attrs.define
class Lanes:
    """
    At most *width* items at once across every call, their turns granted
    in the order the items were asked for (first come, first served: the
    items of a chunk go before those of chunks asked after it), as an
    `anyio.CapacityLimiter` with one task per item would do; but a call
    works its items with at most *width* tasks, not one task per item
    (a task costs more than the rest of a small file's way).
    """

    width: int
    _busy: int = attrs.field(init=False, default=0)
    _queue: deque[Demand] = attrs.field(init=False, factory=deque)

    async def map(
        self,
        items: Sequence[T],
        work: Callable[[T, Demand], Awaitable[None]],
    ) -> None:
        """
        ``work(item, turn)`` for every item, each in a task of this call's
        own; *work* enters *turn* (``async with turn:``) for the part
        that counts against the width.  The first error cancels the rest
        and comes out as itself.
        """
        if not items:
            return
        demand = self._ask(len(items))
        todo = iter(items)

        async def worker() -> None:
            for item in todo:
                await work(item, demand)

        try:
            async with task_group() as tg:
                for _ in range(min(self.width, len(items)) - 1):
                    tg.start_soon(worker)
                await worker()
        finally:
            self._withdraw(demand)

    @asynccontextmanager
    async def one(self) -> AsyncIterator[None]:
        """
        One turn, in line with the items of `map`.
        """
        demand = self._ask(1)
        try:
            async with demand:
                yield
        finally:
            self._withdraw(demand)

    def _ask(self, count: int) -> Demand:
        demand = Demand(self, count)
        self._queue.append(demand)
        self._grant()
        return demand

    def _grant(self) -> None:
        while self._busy < self.width and self._queue:
            demand = self._queue[0]
            demand.want -= 1
            if not demand.want:
                self._queue.popleft()
            self._busy += 1
            if demand.sleepers:
                demand.sleepers.popleft().set()  # the turn is theirs
            else:
                demand.free += 1

    async def _take(self, demand: Demand) -> None:
        if demand.free:
            demand.free -= 1
            return
        woken = anyio.Event()
        demand.sleepers.append(woken)
        try:
            await woken.wait()
        except BaseException:
            if woken.is_set():
                self._release()  # granted, never used
            else:
                demand.sleepers.remove(woken)
            raise

    def _release(self) -> None:
        self._busy -= 1
        self._grant()

    def _withdraw(self, demand: Demand) -> None:
        """
        *demand*'s call is over: turns it did not use go to the others.
        """
        if demand.want:
            self._queue.remove(demand)
            demand.want = 0
        if demand.free:
            self._busy -= demand.free
            demand.free = 0
            self._grant()
