"""
The engine's face: `Synchronizer`, its public API and the one licensed
run lifecycle that `run`, `resume`, `plan` and scheduled and partitioned
runs share.

The work of a run is done by the parts it wires: `_selection` (what to
read), `_changes` (what changed), `_pipeline` (per data type, in its
direction), `_dependencies`, `_writer`, `_media_transfer`; previews by
`_planning`; schedules by `_schedules`.  docs/architecture.md maps them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Mapping,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, NoReturn

import anyio
import attrs
from anyio.abc import TaskStatus

from . import _check, _instrument, _pipeline, _schedules
from ._anyio_util import task_group
from ._check import CheckResult, refuse_unusable
from ._contracts import RunRecord, RunStatus, Schedule
from ._ownership import keep_alive, reap_abandoned
from ._planning import Plan, TypePlan, plan_all
from ._run import (
    CancelCheck,
    EventSink,
    Run,
    RunEvents,
    describe,
    fatal_error,
    leaves,
    log,
    utcnow,
)
from ._selection import resolve
from ._spec import DataType, SyncSpec, Trigger
from .events import Event, RunFinished, RunStarted
from .exceptions import EcomsyncError, RunCancelled, SpecError
from .licensing import LocalLicensePool
from .media import MediaStaging, RunStaging
from .state import SqliteStore
from .typing import (
    ErpSource,
    Instrumentation,
    LicensePool,
    Platform,
    StateStore,
)


__all__ = ["RunEvents", "Synchronizer"]


def _default_staging() -> MediaStaging:
    # One directory per user, shared safely: each run locks its own
    # subdirectory, and a killed process's files go at the next open().
    return MediaStaging()


@attrs.define
class Synchronizer:
    """
    Moves records between one ERP and the platforms a merchant sells on.

    Args:
        erp: The ERP.
        platforms: The platforms, by the name runs use for them.
        store: Links, checksums, runs, watermarks, failures, schedules.
        licenses: The ERP connection licences; one per run.
        staging: Where media wait for upload.
        overlap: How far behind the watermark a scheduled run reads again,
            to cover clock skew.
        license_timeout: Seconds a run waits for a free licence.
        batch_size: Records read from the ERP at a time.
        media_concurrency: Media transfers in flight at once.
        write_concurrency: Batches of one data type in flight at once
            (categories always go one batch at a time, parents first).
        order_page_size: Orders asked of a platform per page (platforms
            cap it at their own maximum); imported in `batch_size` chunks.
        progress_interval: Seconds between `Progress` events.
        instrumentation: Telemetry: what runs report beyond their events
            (`ecomsync.telemetry.OpenTelemetry`; the default observes
            nothing).

    .. versionadded:: 26.1.0
    """

    erp: ErpSource
    platforms: Mapping[str, Platform]
    store: StateStore = attrs.field(factory=lambda: SqliteStore(":memory:"))
    licenses: LicensePool = attrs.field(factory=lambda: LocalLicensePool(1))
    staging: MediaStaging = attrs.field(factory=_default_staging)
    overlap: timedelta = timedelta(minutes=5)
    license_timeout: float = 30.0
    batch_size: int = 100
    media_concurrency: int = 16
    write_concurrency: int = 4
    order_page_size: int = 500
    progress_interval: float = 0.5
    clock: Callable[[], datetime] = utcnow
    instrumentation: Instrumentation = attrs.field(
        factory=lambda: _instrument.NOTHING, kw_only=True
    )
    _staging_open: bool = attrs.field(init=False, default=False)
    _live: dict[str, CancelCheck] = attrs.field(init=False, factory=dict)

    def __repr__(self) -> str:
        return (
            f"<Synchronizer erp={self.erp!r} "
            f"platforms={sorted(self.platforms)!r} store={self.store!r}>"
        )

    # -- public API -------------------------------------------------------

    def validate(self, spec: SyncSpec) -> str:
        """
        Check *spec* against this synchroniser; return the platform name.

        Raises:
            SpecError: Naming the problem.
        """
        if spec.platform is None:
            if len(self.platforms) != 1:
                raise SpecError(
                    "the spec names no platform and there are "
                    f"{len(self.platforms)}: {sorted(self.platforms)}"
                )
            name = next(iter(self.platforms))
        else:
            name = spec.platform
        if name not in self.platforms:
            raise SpecError(
                f"unknown platform {name!r}; known: {sorted(self.platforms)}"
            )
        platform = self.platforms[name]
        unsupported = [t for t in spec.types if t not in platform.supported]
        if unsupported:
            raise SpecError(
                f"platform {name!r} cannot handle "
                f"{', '.join(t.name for t in unsupported)}"
            )
        return name

    def run(
        self,
        spec: SyncSpec,
        *,
        trigger: Trigger = Trigger.MANUAL,
        run_id: str | None = None,
    ) -> AbstractAsyncContextManager[RunEvents]:
        """
        Start a run; the block reads its events.

        Leaving the block waits for the run to end (events not read are
        dropped).  A run that fails for good (no licence, credentials
        refused) raises its error when the block is left: always one
        `EcomsyncError`, chosen as `ecomsync.exceptions` documents.

        Raises:
            SpecError: Before anything runs, if *spec* does not fit.
        """
        return _Block(self._start(spec, trigger, run_id=run_id), "run")

    async def execute(
        self, spec: SyncSpec, *, trigger: Trigger = Trigger.MANUAL
    ) -> RunRecord:
        """
        Run *spec* to the end, ignoring events; return its record.
        """
        async with self.run(spec, trigger=trigger) as events:
            async for _ in events:
                pass
        assert events.summary is not None
        return events.summary

    @asynccontextmanager
    async def resume(self, run_id: str) -> AsyncIterator[RunEvents]:
        """
        Continue a run that died: what was committed is not redone.

        Raises:
            SpecError: If there is no such run or it has finished.
        """
        old = await self.store.get_run(run_id)
        if old is None:
            raise SpecError(f"there is no run {run_id!r} to resume")
        if old.status.finished and old.status is not RunStatus.ABANDONED:
            raise SpecError(
                f"run {run_id!r} has {old.status.value}; nothing to resume"
            )
        async with self._start(
            old.spec,
            old.trigger,
            run_id=old.id,
            started_at=old.started_at,
            schedule_id=old.schedule_id,
            resolved=True,
        ) as events:
            yield events

    async def plan(
        self, spec: SyncSpec, *, trigger: Trigger = Trigger.MANUAL
    ) -> Plan:
        """
        What `run` would do with *spec* now, without writing anything to
        the platform: it holds a licence and reads the ERP like a run,
        compares with the store, and is recorded as a `Trigger.PREVIEW`
        run.  It never moves a watermark and stages no file.

        Args:
            trigger: Plan the run as this trigger would resolve it (a
                scheduled run reads what changed since its watermark).

        .. versionadded:: 26.1.0
        """
        # A plan reports nothing while it works: its events go nowhere.
        run = _new_run(self, spec, Trigger.PREVIEW, EventSink())
        pipeline = _pipeline_of(self, run)
        plans: dict[DataType, TypePlan] = {}

        async def work() -> None:
            # A plan that never asked the platform would answer "create
            # all" for a shop that refuses us: ask first.
            await refuse_unusable(run.platform_name, run.platform)
            async with self.erp.session() as session:
                plans.update(await plan_all(pipeline, session))

        final, error = await _lifecycle(self, run, work, resolve_as=trigger)
        if error is not None:
            raise error
        return Plan(
            run_id=run.id, platform=final.platform, spec=run.spec, types=plans
        )

    async def check(self, platform: str | None = None) -> CheckResult:
        """
        Whether the ERP and *platform* (every platform if ``None``) can be
        used: reachable, accepting their credentials, granting what a run
        needs.  Never raises for what it finds: one message per problem.
        Checking the ERP holds a licence, like a run.

        Raises:
            SpecError: If *platform* is not one of this synchroniser's.

        .. versionadded:: 26.1.0
        """
        names = list(self.platforms) if platform is None else [platform]
        if platform is not None and platform not in self.platforms:
            raise SpecError(
                f"unknown platform {platform!r}; "
                f"known: {sorted(self.platforms)}"
            )
        return await _check.check(
            self.erp,
            {name: self.platforms[name] for name in names},
            self.licenses,
            self.license_timeout,
        )

    async def cancel(self, run_id: str) -> None:
        """
        Ask run *run_id* to stop, whichever process runs it.
        """
        live = self._live.get(run_id)
        if live is not None:
            live.request()
        await self.store.request_cancel(run_id)

    async def runs(self, *, limit: int = 50) -> list[RunRecord]:
        """
        The latest runs, newest first: the monitoring view.  Runs whose
        process died are ended as `RunStatus.ABANDONED` first, so that the
        view never shows a dead run as running.
        """
        await reap_abandoned(self.store)
        return await self.store.list_runs(limit=limit)

    async def add_schedule(
        self,
        spec: SyncSpec,
        *,
        every: timedelta | None = None,
        first_due: datetime | None = None,
        schedule_id: str | None = None,
        cron: str | None = None,
        zone: str | None = None,
    ) -> Schedule:
        """
        Keep *spec* in the store to run every *every* as a scheduled run,
        or at the times of the 5-field *cron* rule read in the IANA time
        zone *zone* (``"0 2 * * *"``, ``"Europe/Berlin"``: every night at
        02:00 Berlin time; extra ``cron``).  A cron schedule is first due
        at its next time; a missed time runs once when serving resumes.

        .. versionchanged:: 26.1.0 *cron* and *zone*.
        """
        self.validate(spec)
        if (every is None) == (cron is None):
            raise SpecError("a schedule needs either every or cron")
        if every is not None and every <= timedelta(0):
            raise SpecError(f"a schedule needs a positive interval: {every}")
        if cron is None and zone is not None:
            raise SpecError("zone applies to cron schedules only")
        if cron is not None:
            due = _schedules.next_slot(cron, zone, self.clock())
            if first_due is None:
                first_due = due
        schedule = Schedule(
            id=schedule_id or uuid.uuid4().hex[:12],
            spec=spec,
            interval=every or timedelta(0),
            next_due=first_due or self.clock(),
            cron=cron,
            zone=zone,
        )
        await self.store.save_schedule(schedule)
        return schedule

    async def serve(
        self,
        *,
        poll_interval: float = 1.0,
        on_event: Callable[[Event], None] | None = None,
        until: Callable[[], bool] = lambda: False,
    ) -> None:
        """
        Run due schedules as `Trigger.SCHEDULED` runs until cancelled (or
        *until* returns true).  A schedule never runs twice at once, also
        across processes sharing the store.
        """
        await _schedules.serve(
            self.store,
            self.clock,
            lambda s: self._start(s.spec, Trigger.SCHEDULED, schedule_id=s.id),
            poll_interval=poll_interval,
            on_event=on_event,
            until=until,
        )

    # -- the run in the background -------------------------------------

    @asynccontextmanager
    async def _start(
        self,
        spec: SyncSpec,
        trigger: Trigger,
        *,
        run_id: str | None = None,
        started_at: datetime | None = None,
        schedule_id: str | None = None,
        resolved: bool = False,
    ) -> AsyncIterator[RunEvents]:
        """
        Run *spec* in the background; the block reads its events and
        leaving it waits for the run's end (raising its error, if any).
        """
        self.validate(spec)  # before the stream exists: nothing to close
        send, receive = anyio.create_memory_object_stream[Event](256)
        run = _new_run(
            self,
            spec,
            trigger,
            EventSink(send),
            run_id=run_id,
            started_at=started_at,
            schedule_id=schedule_id,
        )
        events = RunEvents(run.id, receive, run.cancel.request)
        async with task_group() as tg:
            tg.start_soon(_execute, self, run, events, resolved)
            try:
                yield events
            finally:
                receive.close()
        if events.error is not None:
            raise events.error


# -- the one lifecycle of every run ---------------------------------------


@attrs.frozen
class _Block(AbstractAsyncContextManager[RunEvents]):
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


async def _execute(
    sync: Synchronizer, run: Run, events: RunEvents, resolved: bool
) -> None:
    """
    A run in the background: its work is the pipeline, its events go to
    *events*, its end is `RunFinished`.
    """

    async def work() -> None:
        if not sync._staging_open:
            await sync.staging.open(sync.store)
            sync._staging_open = True
        await run.emit(
            RunStarted(
                run_id=run.id,
                platform=run.platform_name,
                trigger=run.trigger,
                spec=run.spec,
            )
        )
        async with (
            # Leaving this block, however, releases every file,
            # journal entry and byte of budget the run still holds
            # (shielded from cancellation).
            sync.staging.for_run(run.id) as staging,
            sync.erp.session() as session,
        ):
            await _pipeline_of(sync, run, staging).sync_all(session)

    finished = False
    try:
        final, events.error = await _lifecycle(
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


async def _lifecycle(
    sync: Synchronizer,
    run: Run,
    work: Callable[[], Awaitable[None]],
    *,
    resolve_as: Trigger | None,
) -> tuple[RunRecord, EcomsyncError | None]:
    """
    The lifecycle every run shares (run, resume, plan, scheduled and
    partitioned runs): recorded as queued, a licence held, selections
    resolved (as *resolve_as*; a resumed run keeps its own), recorded as
    running, *work* done, recorded as ended.  Returns the final record
    and the one error the run failed with.
    """
    with _instrument.using(run.instrumentation):
        return await _observed_lifecycle(
            sync, run, work, resolve_as=resolve_as
        )


async def _observed_lifecycle(
    sync: Synchronizer,
    run: Run,
    work: Callable[[], Awaitable[None]],
    *,
    resolve_as: Trigger | None,
) -> tuple[RunRecord, EcomsyncError | None]:
    error: EcomsyncError | None = None
    sync._live[run.id] = run.cancel
    try:
        # Runs whose process died end as abandoned (this one excepted:
        # it is being resumed).  Liveness is told by the wall clock.
        await reap_abandoned(sync.store, keep={run.id})
        await sync.store.save_run(run.record())
        async with (
            keep_alive(sync.store, run.id, on_lost=run.cancel.request),
            _licence(sync, run),
        ):
            spec = run.spec
            if resolve_as is not None:
                spec = await resolve(
                    sync.store,
                    run.platform_name,
                    spec,
                    resolve_as,
                    sync.overlap,
                )
            run.start(spec)
            await sync.store.save_run(run.record())
            await work()
        cancelled = run.cancel.cancelled
        run.end(RunStatus.CANCELLED if cancelled else RunStatus.SUCCEEDED)
    except BaseException as exc:
        found = list(leaves(exc))
        cancel = anyio.get_cancelled_exc_class()
        if any(isinstance(e, cancel) for e in found) or not all(
            isinstance(e, Exception) for e in found
        ):
            # The host cancelled (or the process is going down).
            run.end(RunStatus.CANCELLED)
            with anyio.CancelScope(shield=True):
                await sync.store.save_run(run.record())
            raise
        if all(isinstance(e, RunCancelled) for e in found):
            run.end(RunStatus.CANCELLED)
        else:
            run.end(RunStatus.FAILED)
            error = fatal_error(exc)
            if not isinstance(exc, EcomsyncError):
                log.error(
                    "run %s failed",
                    run.id,
                    exc_info=exc,
                    extra={
                        "run_id": run.id,
                        "platform": run.platform_name,
                        "data_type": None,
                    },
                )
    finally:
        del sync._live[run.id]
    final = run.record(error=None if error is None else describe(error))
    with anyio.CancelScope(shield=True):
        try:
            await sync.store.save_run(final)
        except Exception as exc:
            # The end cannot be recorded (a store gone read-only, say):
            # the run failed, with whichever error ranks first.
            errors = [exc] if error is None else [error, exc]
            error = fatal_error(ExceptionGroup("run end", errors))
            run.end(RunStatus.FAILED)
            final = run.record(error=describe(error))
    return final, error


@asynccontextmanager
async def _licence(sync: Synchronizer, run: Run) -> AsyncIterator[None]:
    """
    Hold *run*'s ERP licence for the block.  A run cancelled while it
    waits for one ends at once; one cancelled by the time its licence
    comes free does not start.
    """
    async with task_group() as tg:
        watcher = await tg.start(_cancel_when_asked, run, tg.cancel_scope)
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


async def _cancel_when_asked(
    run: Run,
    waiting: anyio.CancelScope,
    *,
    task_status: TaskStatus[anyio.CancelScope] = anyio.TASK_STATUS_IGNORED,
) -> None:
    with anyio.CancelScope() as scope:
        task_status.started(scope)
        await run.cancel.wait()
        waiting.cancel()


def _new_run(
    sync: Synchronizer,
    spec: SyncSpec,
    trigger: Trigger,
    events: EventSink,
    *,
    run_id: str | None = None,
    started_at: datetime | None = None,
    schedule_id: str | None = None,
) -> Run:
    name = sync.validate(spec)
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


def _pipeline_of(
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
