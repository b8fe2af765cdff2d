"""
The engine's face: `Synchronizer` and its public API.  Every run it
starts (run, resume, plan, scheduled and partitioned runs) goes through
the one licensed lifecycle in `_lifecycle`.

The work of a run is done by the parts it wires: `_selection` (what to
read), `_changes` (what changed), `_pipeline` (per data type, in its
direction), `_dependencies`, `_writer`, `_media_transfer`; previews by
`_planning`; schedules by `_schedules`.  docs/architecture.md maps them.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterator,
    Callable,
    Mapping,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

import anyio
import attrs

from . import _check, _instrument, _lifecycle, _plan_run, _schedules
from ._check import CheckResult
from ._closing import AsyncResource, LiveRuns, close_each, hurried
from ._contracts import RunRecord, Schedule
from ._ownership import reap_abandoned
from ._planning import Plan
from ._run import (
    BY_CLOSING,
    THROUGH_SYNCHRONIZER,
    RunEvents,
    asked_by,
    log,
    request_cancel,
    utcnow,
)
from ._selection import platform_for
from ._settings import at_least, seconds
from ._spec import SyncSpec, Trigger
from .events import Event
from .exceptions import ConfigurationError, SpecError, StateStoreError
from .licensing import LocalLicensePool
from .media import MediaStaging
from .state import SqliteStore
from .typing import (
    ErpSource,
    Instrumentation,
    LicensePool,
    Platform,
    StateStore,
)


__all__ = ["RunEvents", "Synchronizer"]


T = TypeVar("T")


def _made_here(make: Callable[[], T]) -> Any:
    """
    A default made by the synchroniser, which it therefore closes.
    """

    def factory(self: Synchronizer) -> T:
        made = make()
        self._made.append(made)
        return made

    return attrs.Factory(factory, takes_self=True)


def _overlap(_: object, __: object, value: timedelta) -> None:
    # A negative overlap would read from after the watermark: changes
    # made in between would never be read by a scheduled run.
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ConfigurationError(
            f"Synchronizer overlap must be a timedelta of 0 or more, "
            f"got {value!r}"
        )


@attrs.frozen
class _AwareClock:
    """
    The host's clock, read only as timezone-aware moments: a naive one
    would be stored as a watermark that the next scheduled run cannot
    read from (`ChangedSince` takes aware moments only).
    """

    read: Callable[[], datetime]

    def __call__(self) -> datetime:
        now = self.read()
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise ConfigurationError(
                "Synchronizer clock must return timezone-aware datetimes "
                f"(e.g. datetime.now(UTC)), got {now!r}"
            )
        return now


def _aware_clock(clock: Callable[[], datetime]) -> Callable[[], datetime]:
    return clock if isinstance(clock, _AwareClock) else _AwareClock(clock)


@attrs.define
class Synchronizer(AsyncResource):
    """
    Moves records between one ERP and the platforms a merchant sells on.

    Use it as an async context manager (``async with Synchronizer(...) as
    sync:``) or call ``aclose()`` when done.  Closing asks the runs still in
    progress (in other tasks: `serve`, a host's task group) to stop as
    `cancel` does, waits for them to end ``cancelled``, and then closes
    what the synchroniser made: the default store, licence pool and
    staging directory (which is removed, see `MediaStaging`).  The ERP,
    platforms, store, licence pool and staging passed in are the host's
    to close, unless *owns* is true.  Closing twice does nothing; using a
    closed synchroniser raises `~ecomsync.exceptions.ResourceClosed`.

    Args:
        erp: The ERP.
        platforms: The platforms, by the name runs use for them.
        store: Links, checksums, runs, watermarks, failures, schedules.
        licenses: The ERP connection licences; one per run.
        staging: Where media wait for upload.
        overlap: How far behind the watermark a scheduled run reads again,
            to cover clock skew.
        license_timeout: Seconds a run waits for a free licence
            (``inf``: until one is free).
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
        owns: Close the ERP, platforms, store, licence pool and staging
            passed in, too (each that has ``aclose``), when the
            synchroniser closes.

    Raises:
        ConfigurationError: For a setting out of its range, naming it:
            sizes and concurrencies are whole numbers of at least 1,
            *license_timeout* seconds of 0 or more (0: no wait for a
            licence; ``inf``: wait until one is free or the run is
            cancelled), *progress_interval* seconds of 0 or more, finite
            (0: a `Progress` event at every batch), *overlap* a
            ``timedelta`` of 0 or more.  A *clock* that returns a naive
            datetime is refused when a run starts.

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0
       An async context manager with `aclose`; *owns*; settings out of
       range are refused.
    """

    erp: ErpSource
    platforms: Mapping[str, Platform]
    _made: list[object] = attrs.field(init=False, factory=list)
    store: StateStore = attrs.field(
        default=_made_here(lambda: SqliteStore(":memory:"))
    )
    licenses: LicensePool = attrs.field(
        default=_made_here(lambda: LocalLicensePool(1))
    )
    # One directory per user, shared safely: each run locks its own
    # subdirectory, and a killed process's files go at the next open().
    staging: MediaStaging = attrs.field(default=_made_here(MediaStaging))
    overlap: timedelta = attrs.field(
        default=timedelta(minutes=5), validator=_overlap
    )
    # inf: wait for a licence until one is free or the run is cancelled.
    license_timeout: float = attrs.field(
        default=30.0, validator=seconds(zero=True, endless=True)
    )
    batch_size: int = attrs.field(default=100, validator=at_least(1))
    media_concurrency: int = attrs.field(default=16, validator=at_least(1))
    write_concurrency: int = attrs.field(default=4, validator=at_least(1))
    order_page_size: int = attrs.field(default=500, validator=at_least(1))
    # 0: a Progress event at every batch; inf would mean none but the last.
    progress_interval: float = attrs.field(
        default=0.5, validator=seconds(zero=True)
    )
    clock: Callable[[], datetime] = attrs.field(
        default=utcnow, converter=_aware_clock
    )
    instrumentation: Instrumentation = attrs.field(
        factory=lambda: _instrument.NOTHING, kw_only=True
    )
    owns: bool = attrs.field(default=False, kw_only=True)
    _staging_open: bool = attrs.field(init=False, default=False)
    _runs: LiveRuns = attrs.field(init=False, factory=LiveRuns)
    _closed: bool = attrs.field(init=False, default=False)

    def __repr__(self) -> str:
        return (
            f"<Synchronizer erp={self.erp!r} "
            f"platforms={sorted(self.platforms)!r} store={self.store!r}>"
        )

    # -- lifecycle ----------------------------------------------------------

    async def aclose(self) -> None:
        """
        Stop the runs still in progress (they end ``cancelled``), then
        close what this synchroniser made (and, with *owns*, what it was
        given).  Closing twice does nothing.

        .. versionadded:: 26.1.0
        """
        await super().aclose()

    async def _close(self) -> None:
        try:
            await self._runs.drain(BY_CLOSING)
            with anyio.CancelScope(shield=True), hurried():
                await _lifecycle.record_late_ends(self)
        finally:
            # Platforms and the ERP first, the store last: closing the
            # staging still writes to its journal.
            mine = [
                *self.platforms.values(),
                self.erp,
                self.licenses,
                self.staging,
                self.store,
            ]
            if not self.owns:
                mine = [t for t in mine if any(t is m for m in self._made)]
            await close_each(mine)

    # -- public API -------------------------------------------------------

    def validate(self, spec: SyncSpec) -> str:
        """
        Check *spec* against this synchroniser; return the platform name.

        Raises:
            SpecError: Naming the problem.
        """
        return platform_for(spec, self.platforms)

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
            SpecError: Before anything runs, if *spec* does not fit, or
                *trigger* is not `Trigger.MANUAL` or `Trigger.SCHEDULED`
                (a preview is `plan`).
        """
        return _lifecycle.Block(
            _lifecycle.start(self, spec, trigger, run_id=run_id), "run"
        )

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
            SpecError: If there is no such run, it has finished, it is a
                preview (a plan writes nothing: plan again) or a
                partitioned run (its workers run it), or its process may
                still be running it.
        """
        async with _lifecycle.resume(self, run_id) as events:
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

        Raises:
            SpecError: Before anything runs, if *spec* does not fit or
                *trigger* is not a `Trigger`.
            RunCancelled: The plan was cancelled from the monitoring
                view (`cancel`); it stops at the next batch and is
                recorded cancelled, with no partial plan returned.

        .. versionadded:: 26.1.0
        """
        return await _plan_run.plan(self, spec, trigger)

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
        self._ensure_open()
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

    async def cancel(self, run_id: str, *, reason: str | None = None) -> bool:
        """
        Ask run *run_id* to stop, whichever process runs it; whether it
        was still going (queued or running).  A run that already ended,
        or that the store does not know, is left as it is: ``False``.
        The run's ``RunRecord.error`` says who asked: *reason* (short
        text, such as who and why; never a secret: the store keeps it),
        or, for a run of another process, this process's user and host.

        .. versionchanged:: 26.1.0 *reason*; the answer.
        """
        self._ensure_open()
        why = asked_by("Synchronizer.cancel", reason)
        here = THROUGH_SYNCHRONIZER
        if reason is not None:
            here = f"{THROUGH_SYNCHRONIZER}: {why}"
        if not self._runs.cancel(run_id, here):
            run = await self.store.get_run(run_id)
            if run is None or run.status.finished:
                return False
            await request_cancel(self.store, run_id, why)
            return True
        # It stops on the request made here; the store's note is for the
        # processes that share its run (partition workers), written within
        # the cleanup's deadline, not the store's lock timeout.
        with hurried():
            try:
                await request_cancel(self.store, run_id, why)
            except StateStoreError as exc:
                log.warning(
                    "run %s: cancelled here; the store could not note it (%s)",
                    run_id,
                    exc,
                    extra=_instrument.fields(run_id=run_id),
                )
        return True

    async def runs(self, *, limit: int = 50) -> list[RunRecord]:
        """
        The latest runs, newest first: the monitoring view.  Runs whose
        process died are ended as `RunStatus.ABANDONED` first, so that the
        view never shows a dead run as running.
        """
        self._ensure_open()
        await _lifecycle.record_late_ends(self)
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
        Keep *spec* in the store to run every *every* as a scheduled run
        (on the platform it names, or this synchroniser's only one: the
        schedule keeps that name),
        or at the times of the 5-field *cron* rule read in the IANA time
        zone *zone* (``"0 2 * * *"``, ``"Europe/Berlin"``: every night at
        02:00 Berlin time; extra ``cron``).  A cron schedule is first due
        at its next time; a missed time runs once when serving resumes.

        .. versionchanged:: 26.1.0 *cron* and *zone*.
        """
        self._ensure_open()
        # Kept with the platform it runs on, named: a spec that names
        # none would stop running once a second platform is added.
        spec = attrs.evolve(spec, platform=self.validate(spec))
        schedule = _schedules.new_schedule(
            spec,
            now=self.clock(),
            every=every,
            first_due=first_due,
            schedule_id=schedule_id,
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
        *until* returns true, or the synchroniser is closed: its runs then
        end cancelled).  A schedule never runs twice at once, also across
        processes sharing the store.  A store that fails for a while (a
        database restart) is logged and asked again at the next poll;
        serving goes on.
        """
        self._ensure_open()
        with self._runs.serving():
            await self._serve(poll_interval, on_event, until)

    async def _serve(
        self,
        poll_interval: float,
        on_event: Callable[[Event], None] | None,
        until: Callable[[], bool],
    ) -> None:
        await _schedules.serve(
            self.store,
            self.clock,
            lambda s: _lifecycle.start(
                self, s.spec, Trigger.SCHEDULED, schedule_id=s.id
            ),
            poll_interval=poll_interval,
            on_event=on_event,
            until=lambda: self._closed or until(),
            closing=lambda: self._closed,
        )
