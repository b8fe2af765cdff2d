"""
The one lifecycle every run shares (run, resume, plan, scheduled and
partitioned runs): recorded as queued, a licence held, selections
resolved, recorded as running, the work done, recorded as ended; and
the background task that runs a spec through the pipeline.

`Synchronizer` (in `_engine`) is the public face; this room holds what
it does with a run once it has one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
import anyio.lowlevel
import attrs
from anyio.abc import TaskStatus

from . import _instrument, _pipeline
from ._anyio_util import task_group
from ._closing import hurry_on_cancel
from ._contracts import RunRecord, RunStatus
from ._order_lease import until_busy
from ._ownership import keep_alive, reap_abandoned, why_dead
from ._run import (
    BY_HOST,
    THROUGH_EVENTS,
    CancelCheck,
    EventSink,
    Run,
    RunEvents,
    describe,
    fatal_error,
    leaves,
    log,
)
from ._selection import resolve, resolve_resumed
from ._spec import SyncSpec, Trigger
from ._stock_layouts import widen
from .events import Event, RunFinished, RunStarted
from .exceptions import EcomsyncError, RunCancelled, SpecError
from .media import RunStaging


if TYPE_CHECKING:
    from ._engine import Synchronizer


@asynccontextmanager
async def start(
    sync: Synchronizer,
    spec: SyncSpec,
    trigger: Trigger,
    *,
    run_id: str | None = None,
    started_at: datetime | None = None,
    schedule_id: str | None = None,
    resolved: bool = False,
    platform: str | None = None,
) -> AsyncIterator[RunEvents]:
    """
    Run *spec* in the background; the block reads its events and
    leaving it waits for the run's end (raising its error, if any).
    *platform* runs a spec that names none on that platform (a resumed
    run's), and the run keeps the spec as it was given.
    """
    sync._ensure_open()
    sync.validate(_on(spec, platform))  # before the stream: nothing to close
    if trigger not in (Trigger.MANUAL, Trigger.SCHEDULED):
        # A PREVIEW is a plan: a run under its name would write to the
        # platform while the monitoring view says it wrote nothing.
        raise SpecError(
            f"a run's trigger is Trigger.MANUAL or Trigger.SCHEDULED, got "
            f"{trigger!r} (a preview is Synchronizer.plan)"
        )
    started_at = started_at or sync.clock()  # a naive clock, likewise
    send, receive = anyio.create_memory_object_stream[Event](256)
    run = new_run(
        sync,
        spec,
        trigger,
        EventSink(send),
        run_id=run_id,
        started_at=started_at,
        schedule_id=schedule_id,
        platform=platform,
    )
    events = RunEvents(
        run.id, receive, lambda: run.cancel.request(THROUGH_EVENTS)
    )
    async with task_group() as tg:
        tg.start_soon(execute, sync, run, events, resolved)
        try:
            yield events
        finally:
            receive.close()
    if events.error is not None:
        raise events.error


@attrs.frozen
class Block(AbstractAsyncContextManager[RunEvents]):
    """
    `Synchronizer.run`'s block; awaiting it instead says how to use it.
    """

    _inner: AbstractAsyncContextManager[RunEvents]
    _name: str

    async def __aenter__(self) -> RunEvents:
        return await self._inner.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._inner.__aexit__(exc_type, exc, tb)

    def __await__(self) -> Generator[Any, None, NoReturn]:
        raise TypeError(
            f"Synchronizer.{self._name}() starts a block, it is not awaited: "
            f"write `async with sync.{self._name}(spec) as events:` and "
            "read the run's events with `async for event in events`"
        )


async def execute(
    sync: Synchronizer, run: Run, events: RunEvents, resolved: bool
) -> None:
    """
    A run in the background: its work is the pipeline, its events go to
    *events*, its end is `RunFinished`.
    """

    started = False

    async def work() -> None:
        # Again after the run gave its licence back to wait for an order
        # lease: it goes on where it stopped.
        nonlocal started
        if not sync._staging_open:
            await sync.staging.open(sync.store)
            sync._staging_open = True
        if not started:
            started = True
            await run.emit(
                RunStarted(
                    run_id=run.id,
                    platform=run.platform_name,
                    trigger=run.trigger,
                    spec=run.spec,
                    widened=dict(run.widened),
                )
            )
        async with (
            # Leaving this block, however, releases every file,
            # journal entry and byte of budget the run still holds
            # (shielded from cancellation).
            sync.staging.for_run(run.id, store=sync.store) as staging,
            sync.erp.session() as session,
        ):
            await pipeline_of(sync, run, staging).sync_all(session)

    finished = False
    try:
        final, events.error = await lifecycle(
            sync, run, work, resolve_as=None if resolved else run.trigger
        )
        events.summary = final
        finished = True
        await run.emit(
            RunFinished(
                run_id=run.id,
                status=final.status,
                counts=final.counts,
                run=final,
            )
        )
    finally:
        run.events.close()
        if not finished:
            # The host cancelled the run: its telemetry ends all the same.
            record = run.record()
            _instrument.observe(
                run.instrumentation,
                run.platform_name,
                RunFinished(
                    run_id=run.id,
                    status=record.status,
                    counts=record.counts,
                    run=record,
                ),
            )


async def lifecycle(
    sync: Synchronizer,
    run: Run,
    work: Callable[[], Awaitable[None]],
    *,
    resolve_as: Trigger | None,
) -> tuple[RunRecord, EcomsyncError | None]:
    """
    The lifecycle every run shares (run, resume, plan, scheduled and
    partitioned runs): recorded as queued, a licence held, selections
    resolved (as *resolve_as*; a resumed run keeps its own, a scheduled
    one widened to its watermarks as they are now), recorded as
    running, *work* done, recorded as ended.  Returns the final record
    and the one error the run failed with.
    """
    with (
        _instrument.using(run.instrumentation),
        _instrument.log_fields(
            run_id=run.id, platform=run.platform_name, data_type=None
        ),
    ):
        # Cancelled (by the host, or asked to), its cleanup records what
        # it can while the store answers, within one deadline, not the
        # store's lock timeout for every shielded step.
        async with hurry_on_cancel() as hurry:
            run.cancel.bound(hurry)
            return await _observedlifecycle(
                sync, run, work, resolve_as=resolve_as
            )


async def _observedlifecycle(
    sync: Synchronizer,
    run: Run,
    work: Callable[[], Awaitable[None]],
    *,
    resolve_as: Trigger | None,
) -> tuple[RunRecord, EcomsyncError | None]:
    error: EcomsyncError | None = None
    # Ended elsewhere as abandoned (this process stalled past the stale
    # time): the record is no longer this run's to write.
    lost = anyio.Event()

    def on_lost() -> None:
        lost.set()
        run.cancel.request()

    sync._runs.started(run.id, run.cancel)
    if sync.closed:  # closed between new_run and here: stop at once
        run.cancel.request()
    try:
        await record_late_ends(sync)
        # Runs whose process died end as abandoned (this one excepted:
        # it is being resumed).  Liveness is told by the wall clock.
        await reap_abandoned(sync.store, keep={run.id})
        await sync.store.save_run(run.record())
        async with keep_alive(sync.store, run.id, on_lost=on_lost):
            async with licence(sync, run):
                run.start(await _resolved(sync, run, resolve_as))
                await sync.store.save_run(run.record())
                busy = await until_busy(work)
            while busy is not None:
                # Another run imports these orders: waited for with the
                # licence given back, then the work goes on where it
                # stopped, with the whole licence timeout to take one.
                await busy.wait_free(run)
                async with licence(sync, run):
                    busy = await until_busy(work)
        cancelled = run.cancel.cancelled
        run.end(RunStatus.CANCELLED if cancelled else RunStatus.SUCCEEDED)
    except BaseException as exc:
        found = list(leaves(exc))
        cancel = anyio.get_cancelled_exc_class()
        hidden = await _hidden_cancel(found)
        if (
            hidden is not None
            or any(isinstance(e, cancel) for e in found)
            or not all(isinstance(e, Exception) for e in found)
        ):
            # The host cancelled (or the process is going down).
            run.end(RunStatus.CANCELLED)
            if not lost.is_set():
                with anyio.CancelScope(shield=True):
                    await _save_end(sync, run.final(None, why=BY_HOST))
            if hidden is not None:
                raise hidden from exc
            cancels = [e for e in found if isinstance(e, cancel)]
            if isinstance(exc, BaseExceptionGroup) and len(cancels) + sum(
                isinstance(e, Exception) for e in found
            ) == len(found):
                # Errors that raced the host's cancel (a store write that
                # failed in its worker thread, say) would reach the host
                # as an exception group once its scope took the
                # cancellation out: the cancellation alone goes on.
                raise cancels[0] from exc
            raise
        if run.cancel.stopped(found):
            run.end(RunStatus.CANCELLED)
        else:
            run.end(RunStatus.FAILED)
            error = fatal_error(exc)
            if not isinstance(exc, EcomsyncError):
                log.error(
                    "run %s failed",
                    run.id,
                    exc_info=exc,
                    extra=_instrument.fields(),
                )
    finally:
        sync._runs.ended(run.id)
    final = run.final(error)
    if lost.is_set():
        # Another process may have resumed it since: its end, or the
        # reason it was abandoned, stays as written there.
        return final, error
    return await _record_end(sync, run, final, error)


async def _hidden_cancel(found: list[BaseException]) -> BaseException | None:
    """
    The host's cancellation of the caller's scope (to be raised) when
    *found*, a run's errors, hides it: every task it reached raised an
    error of its cleanup instead (a staged file's journal entry that a
    locked store could not close), which would end the run failed.
    """
    if not all(isinstance(e, Exception) for e in found):
        return None  # a cancellation (or an exit) shows
    try:
        await anyio.lowlevel.checkpoint()
    except anyio.get_cancelled_exc_class() as exc:
        return exc
    return None


async def _resolved(
    sync: Synchronizer, run: Run, resolve_as: Trigger | None
) -> SyncSpec:
    """
    *run*'s spec as it reads it: resolved as *resolve_as*; a resumed run
    (*resolve_as* ``None``) keeps its own, a scheduled one widened to its
    watermarks as they are now (it may have died before it resolved it).
    """
    spec = run.spec
    if resolve_as is not None:
        spec = await resolve(
            sync.store, run.platform_name, spec, resolve_as, sync.overlap
        )
    elif run.trigger is Trigger.SCHEDULED:
        spec = await resolve_resumed(
            sync.store, run.platform_name, spec, sync.overlap
        )
    # A changed stock layout reaches every level (`_stock_layouts`).
    return await widen(sync.store, run, spec)


async def _record_end(
    sync: Synchronizer,
    run: Run,
    final: RunRecord,
    error: EcomsyncError | None,
) -> tuple[RunRecord, EcomsyncError | None]:
    """
    Save run *final*'s end; return the record and the run's error, the
    store's if it could not take it.
    """
    with anyio.CancelScope(shield=True):
        if final.status is RunStatus.CANCELLED and error is None:
            # As after a host's cancel: a locked store takes it later.
            await _save_end(sync, final)
            return final, error
        try:
            await sync.store.save_run(final)
        except Exception as exc:
            # The end cannot be recorded (a store gone read-only, say):
            # the run failed, with whichever error ranks first.
            errors = [exc] if error is None else [error, exc]
            error = fatal_error(ExceptionGroup("run end", errors))
            run.end(RunStatus.FAILED)
            final = run.record(error=describe(error))
            # Its owner lives on, so nobody would end it as abandoned:
            # the store is told as soon as it takes writes again.
            sync._runs.unrecorded[run.id] = final
    return final, error


async def _save_end(sync: Synchronizer, final: RunRecord) -> None:
    """
    Save run *final*'s end, or keep it for `record_late_ends` if the
    store cannot take it now.
    """
    try:
        await sync.store.save_run(final)
    except Exception:
        sync._runs.unrecorded[final.id] = final


async def record_late_ends(sync: Synchronizer) -> None:
    """
    Save the ends of this synchroniser's runs that the store could not
    record when they ended (a full disk, a store gone read-only or
    away), each still shown queued or running by the store, so that
    monitoring never shows a run of a live process as running for ever.
    A store still failing keeps them for the next call.
    """
    unrecorded = sync._runs.unrecorded
    for run_id, final in list(unrecorded.items()):
        try:
            seen = await sync.store.get_run(run_id)
            if seen is not None and seen.status in (
                RunStatus.QUEUED,
                RunStatus.RUNNING,
            ):
                await sync.store.save_run(final)
        except Exception:
            return
        del unrecorded[run_id]


@asynccontextmanager
async def licence(sync: Synchronizer, run: Run) -> AsyncIterator[None]:
    """
    Hold *run*'s ERP licence for the block.  A run cancelled while it
    waits for one ends at once; one cancelled by the time its licence
    comes free does not start.
    """
    async with task_group() as tg:
        watcher = await tg.start(cancel_when_asked, run, tg.cancel_scope)
        asked = time.monotonic()
        async with sync.licenses.lease(run.id, timeout=sync.license_timeout):
            _instrument.guarded(
                "license_wait",
                run.instrumentation.license_wait,
                run.id,
                time.monotonic() - asked,
            )
            watcher.cancel()
            await run.cancel.check(force=True)
            yield
    if tg.cancel_scope.cancel_called:
        raise RunCancelled(f"run {run.id} was cancelled while queued")


async def cancel_when_asked(
    run: Run,
    waiting: anyio.CancelScope,
    *,
    task_status: TaskStatus[anyio.CancelScope] = anyio.TASK_STATUS_IGNORED,
) -> None:
    with anyio.CancelScope() as scope:
        task_status.started(scope)
        await run.cancel.wait()
        waiting.cancel()


def new_run(
    sync: Synchronizer,
    spec: SyncSpec,
    trigger: Trigger,
    events: EventSink,
    *,
    run_id: str | None = None,
    started_at: datetime | None = None,
    schedule_id: str | None = None,
    platform: str | None = None,
) -> Run:
    sync._ensure_open()
    name = sync.validate(_on(spec, platform))
    run_id = run_id or uuid.uuid4().hex[:12]
    return Run(
        id=run_id,
        spec=spec,
        platform_name=name,
        platform=sync.platforms[name],
        trigger=trigger,
        started_at=started_at or sync.clock(),
        events=events,
        cancel=CancelCheck(run_id, sync.store),
        schedule_id=schedule_id,
        instrumentation=sync.instrumentation,
    )


def _on(spec: SyncSpec, platform: str | None) -> SyncSpec:
    """
    *spec* as run on *platform* when it names none.
    """
    if platform is None or spec.platform is not None:
        return spec
    return attrs.evolve(spec, platform=platform)


def pipeline_of(
    sync: Synchronizer, run: Run, staging: RunStaging | None = None
) -> _pipeline.Pipeline:
    return _pipeline.build(
        run,
        sync.store,
        staging,
        batch_size=sync.batch_size,
        media_concurrency=sync.media_concurrency,
        write_concurrency=sync.write_concurrency,
        order_page_size=sync.order_page_size,
        progress_interval=sync.progress_interval,
    )


@asynccontextmanager
async def resume(sync: Synchronizer, run_id: str) -> AsyncIterator[RunEvents]:
    """
    `Synchronizer.resume`: continue *run_id*, which died, as it was.
    """
    sync._ensure_open()
    old = await sync.store.get_run(run_id)
    if old is None:
        raise SpecError(f"there is no run {run_id!r} to resume")
    if old.status.finished and old.status is not RunStatus.ABANDONED:
        raise SpecError(
            f"run {run_id!r} ended ({old.status.value}); nothing to resume"
        )
    if old.owner is None and old.holder.startswith("partitioned:"):
        # `submit_partitioned`'s: run here it would write the whole spec
        # beside the workers, and clear a cancel they are to stop on.
        raise SpecError(
            f"run {run_id!r} is a partitioned run; its workers "
            "(`ecomsync worker`) run it, and take over a partition whose "
            "worker died: nothing to resume here"
        )
    if old.trigger is Trigger.PREVIEW:
        # Resumed as a run, the plan would write what it only previewed.
        raise SpecError(
            f"run {run_id!r} is a preview (plan): it wrote nothing and "
            "there is nothing to resume; plan again"
        )
    if (
        not old.status.finished
        and old.owner is not None
        and why_dead(old, now=datetime.now(UTC)) is None
    ):
        # Its process may be alive and still writing: a second one
        # would write the same records beside it.
        raise SpecError(
            f"run {run_id!r} is still {old.status.value} in {old.owner}; "
            "nothing to resume while that process lives"
        )
    if old.id in await sync.licenses.holders():
        # Ended as abandoned elsewhere while its process stalled, it may
        # still run there: the licence held in its name says so (seen by
        # this process, this host's FileLicensePool, every host's
        # PostgresLicensePool), and that process lets it go at its next
        # heartbeat.
        raise SpecError(
            f"run {run_id!r} is {old.status.value}, but a licence is still "
            "held in its name: its process still runs it; resume it once "
            "that process has let it go"
        )
    # On the platform it ran on, even if more were added since; its
    # record keeps the spec as it was given.
    async with start(
        sync,
        old.spec,
        old.trigger,
        run_id=old.id,
        started_at=old.started_at,
        schedule_id=old.schedule_id,
        resolved=True,
        platform=old.platform,
    ) as events:
        yield events
