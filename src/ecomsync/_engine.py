"""
The engine: plans a run, holds its licence, moves records type by type,
stages media, records outcomes in the store and reports events.

It talks to the outside only through the Protocols in `ecomsync.typing`;
what a record *is* lives in `_model`, what a run *should do* in `_spec`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence, Sized
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import attrs
from anyio.abc import ObjectReceiveStream, ObjectSendStream, TaskGroup

from ._contracts import (
    Failure,
    Link,
    MediaLink,
    Outcome,
    Outgoing,
    RunRecord,
    RunStatus,
    Schedule,
    TypeCounts,
)
from ._model import Article, Category, MediaRef, Record, checksum, problems
from ._plan import Plan, Refusal, TypePlan, estimate_requests
from ._spec import (
    All,
    ChangedSince,
    DataType,
    Only,
    Selection,
    SyncSpec,
    Trigger,
)
from .events import (
    DependencySynced,
    Event,
    MediaUploaded,
    Progress,
    RecordFailed,
    RecordSkipped,
    RecordSynced,
    RunFinished,
    RunStarted,
    TypeFinished,
    TypeStarted,
)
from .exceptions import (
    AuthenticationError,
    EcomsyncError,
    RecordRejected,
    RunCancelled,
    SpecError,
    SyncError,
)
from .licensing import LocalLicensePool
from .media import MediaStaging
from .state import SqliteStore
from .typing import ErpSession, ErpSource, LicensePool, Platform, StateStore


log = logging.getLogger("ecomsync")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@attrs.define
class RunEvents:
    """
    The events of one run, as an async iterator; `summary` is the run's
    final record once the stream has ended.

    .. versionadded:: 26.1.0
    """

    run_id: str
    _receive: ObjectReceiveStream[Event]
    _cancel: Callable[[], None]
    summary: RunRecord | None = None
    error: BaseException | None = None

    def __aiter__(self) -> RunEvents:
        return self

    async def __anext__(self) -> Event:
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
class _Run:
    """
    The state of one executing run; private to the engine.
    """

    id: str
    spec: SyncSpec
    platform_name: str
    platform: Platform
    trigger: Trigger
    started_at: datetime
    send: ObjectSendStream[Event]
    schedule_id: str | None = None
    status: RunStatus = RunStatus.QUEUED
    counts: dict[DataType, TypeCounts] = attrs.Factory(dict)
    failures: list[Failure] = attrs.Factory(list)
    cancelled: bool = False
    listening: bool = True
    _cancel_checked: float = 0.0
    linked_categories: set[str] = attrs.Factory(set)
    uploading: dict[str, anyio.Event] = attrs.Factory(dict)
    dependency_lock: anyio.Lock = attrs.Factory(anyio.Lock)
    media_limiter: anyio.CapacityLimiter = attrs.Factory(
        lambda: anyio.CapacityLimiter(16)
    )

    async def emit(self, event: Event) -> None:
        if not self.listening:
            return
        try:
            await self.send.send(event)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            # The host stopped listening; the run goes on regardless.
            self.listening = False

    def record(self, *, error: str | None = None) -> RunRecord:
        return RunRecord(
            id=self.id,
            trigger=self.trigger,
            platform=self.platform_name,
            spec=self.spec,
            status=self.status,
            started_at=self.started_at,
            ended_at=None if not self.status.finished else _utcnow(),
            holder=_holder(),
            counts=self.counts,
            failures=tuple(self.failures),
            error=error,
            schedule_id=self.schedule_id,
        )


@attrs.define
class _Tally:
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


def _default_staging() -> MediaStaging:
    return MediaStaging(
        Path(tempfile.gettempdir()) / f"ecomsync-{os.getpid()}"
    )


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
    clock: Callable[[], datetime] = _utcnow
    _staging_open: bool = attrs.field(init=False, default=False)
    _local_cancels: set[str] = attrs.field(init=False, factory=set)

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

    @asynccontextmanager
    async def run(
        self,
        spec: SyncSpec,
        *,
        trigger: Trigger = Trigger.MANUAL,
        run_id: str | None = None,
    ) -> AsyncIterator[RunEvents]:
        """
        Start a run; the block reads its events.

        Leaving the block waits for the run to end (events not read are
        dropped).  A run that fails for good (no licence, credentials
        refused) raises its error when the block is left.

        Raises:
            SpecError: Before anything runs, if *spec* does not fit.
        """
        name = self.validate(spec)
        async with self._execute_in_background(
            run_id or uuid.uuid4().hex[:12],
            spec,
            name,
            trigger,
            self.clock(),
            None,
        ) as events:
            yield events

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
        if old.status.finished:
            raise SpecError(
                f"run {run_id!r} has {old.status.value}; nothing to resume"
            )
        self.validate(old.spec)
        async with self._execute_in_background(
            old.id,
            old.spec,
            old.platform,
            old.trigger,
            old.started_at,
            old.schedule_id,
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
        name = self.validate(spec)
        # A plan reports nothing while it works: its events go nowhere.
        send, receive = anyio.create_memory_object_stream[Event](0)
        receive.close()
        send.close()
        run = _Run(
            id=uuid.uuid4().hex[:12],
            spec=spec,
            platform_name=name,
            platform=self.platforms[name],
            trigger=Trigger.PREVIEW,
            started_at=self.clock(),
            send=send,
            listening=False,
        )
        await self.store.save_run(run.record())
        plans: dict[DataType, TypePlan] = {}
        try:
            async with self.licenses.lease(
                run.id, timeout=self.license_timeout
            ):
                run.trigger = trigger
                run.spec = await self._resolve(run)
                run.trigger = Trigger.PREVIEW
                run.status = RunStatus.RUNNING
                await self.store.save_run(run.record())
                async with self.erp.session() as session:
                    for data_type, selection in run.spec.types.items():
                        plans[data_type] = await self._plan_type(
                            run, session, data_type, selection
                        )
                        run.counts[data_type] = TypeCounts(
                            created=len(plans[data_type].create),
                            updated=len(plans[data_type].update),
                            unchanged=len(plans[data_type].unchanged),
                            failed=len(plans[data_type].invalid),
                        )
            run.status = RunStatus.SUCCEEDED
            return Plan(
                run_id=run.id, platform=name, spec=run.spec, types=plans
            )
        except BaseException as exc:
            run.status = RunStatus.FAILED
            with anyio.CancelScope(shield=True):
                await self.store.save_run(
                    run.record(error=f"{type(exc).__name__}: {exc}")
                )
            raise
        finally:
            if run.status is RunStatus.SUCCEEDED:
                await self.store.save_run(run.record())

    async def _plan_type(
        self,
        run: _Run,
        session: ErpSession,
        data_type: DataType,
        selection: Selection,
    ) -> TypePlan:
        acc = _PlanTally()
        async with self._batches(
            run, session, data_type, selection
        ) as batches:
            async for batch in batches:
                await self._plan_batch(run, session, data_type, batch, acc)
        platform = run.platform
        if data_type is DataType.ADDRESSES_AND_ORDERS:
            # Reading pages of orders; the writes go to the ERP.
            requests = max(1, math.ceil(acc.fetched / self.order_page_size))
        else:
            requests = estimate_requests(
                platform,
                data_type,
                writes=len(acc.create) + len(acc.update),
                uploads=len(acc.to_upload),
                with_media=acc.with_media,
                batch_size=platform.batch_size,
            ) + math.ceil(len(acc.deps) / platform.batch_size)
        return TypePlan(
            data_type=data_type,
            selection=selection,
            create=tuple(acc.create),
            update=tuple(acc.update),
            unchanged=tuple(acc.unchanged),
            invalid=tuple(acc.invalid),
            dependencies=tuple(acc.deps),
            media_upload=len(acc.to_upload),
            media_reused=acc.reused,
            staging_bytes=sum(acc.to_upload.values()),
            requests=requests,
        )

    async def _plan_batch(
        self,
        run: _Run,
        session: ErpSession,
        data_type: DataType,
        batch: Sequence[Record],
        acc: _PlanTally,
    ) -> None:
        acc.fetched += len(batch)
        sorted_ = await self._classify(
            run.platform_name, data_type, batch, run.spec.force
        )
        acc.invalid += [
            Refusal(number=n, field=f, reason=m) for n, f, m in sorted_.invalid
        ]
        acc.unchanged += [r.number for r in sorted_.unchanged]
        for record, _ in sorted_.todo:
            known = record.number in sorted_.links
            (acc.update if known else acc.create).append(record.number)
            if data_type is DataType.CATEGORIES:
                run.linked_categories.add(record.number)
            if isinstance(record, Article | Category) and record.media:
                acc.with_media += 1
                for ref in record.media:
                    # Hashed in memory, never staged: a plan leaves no file.
                    content = await session.read_media(ref)
                    sha = hashlib.sha256(content).hexdigest()
                    if sha in acc.to_upload or await self.store.get_media_id(
                        run.platform_name, sha
                    ):
                        acc.reused += 1
                    else:
                        acc.to_upload[sha] = len(content)
        if data_type is DataType.ARTICLES:
            missing, _ = await self._missing_categories(
                run.platform_name,
                session,
                [r for r, _ in sorted_.todo if isinstance(r, Article)],
                run.linked_categories,
            )
            for category in missing:
                run.linked_categories.add(category.number)
                acc.deps.append(category.number)

    async def cancel(self, run_id: str) -> None:
        """
        Ask run *run_id* to stop, whichever process runs it.
        """
        self._local_cancels.add(run_id)
        await self.store.request_cancel(run_id)

    async def runs(self, *, limit: int = 50) -> list[RunRecord]:
        """
        The latest runs, newest first: the monitoring view.
        """
        return await self.store.list_runs(limit=limit)

    async def add_schedule(
        self,
        spec: SyncSpec,
        *,
        every: timedelta,
        first_due: datetime | None = None,
        schedule_id: str | None = None,
    ) -> Schedule:
        """
        Keep *spec* in the store to run every *every* as a scheduled run.
        """
        self.validate(spec)
        if every <= timedelta(0):
            raise SpecError(f"a schedule needs a positive interval: {every}")
        schedule = Schedule(
            id=schedule_id or uuid.uuid4().hex[:12],
            spec=spec,
            interval=every,
            next_due=first_due or self.clock(),
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
        holder = f"{_holder()}:{uuid.uuid4().hex[:6]}"
        async with _task_group() as tg:
            while not until():
                now = self.clock()
                for schedule in await self.store.list_schedules():
                    if schedule.next_due > now:
                        continue
                    lease = now + max(schedule.interval, timedelta(hours=1))
                    if await self.store.claim_schedule(
                        schedule.id, holder, lease
                    ):
                        tg.start_soon(
                            self._serve_one, schedule, holder, on_event
                        )
                await anyio.sleep(poll_interval)
            tg.cancel_scope.cancel()

    async def _serve_one(
        self,
        schedule: Schedule,
        holder: str,
        on_event: Callable[[Event], None] | None,
    ) -> None:
        try:
            name = self.validate(schedule.spec)
            async with self._execute_in_background(
                uuid.uuid4().hex[:12],
                schedule.spec,
                name,
                Trigger.SCHEDULED,
                self.clock(),
                schedule.id,
            ) as events:
                async for event in events:
                    if on_event is not None:
                        on_event(event)
        except EcomsyncError as exc:
            log.warning("scheduled run of %s failed: %s", schedule.id, exc)
        finally:
            with anyio.CancelScope(shield=True):
                await self.store.release_schedule(
                    schedule.id, holder, self.clock() + schedule.interval
                )

    # -- the run ----------------------------------------------------------

    @asynccontextmanager
    async def _execute_in_background(
        self,
        run_id: str,
        spec: SyncSpec,
        platform_name: str,
        trigger: Trigger,
        started_at: datetime,
        schedule_id: str | None,
        *,
        resolved: bool = False,
    ) -> AsyncIterator[RunEvents]:
        send, receive = anyio.create_memory_object_stream[Event](256)
        self._local_cancels.discard(run_id)
        run = _Run(
            id=run_id,
            spec=spec,
            platform_name=platform_name,
            platform=self.platforms[platform_name],
            trigger=trigger,
            started_at=started_at,
            send=send,
            schedule_id=schedule_id,
            media_limiter=anyio.CapacityLimiter(self.media_concurrency),
        )
        events = RunEvents(
            run_id, receive, lambda: self._local_cancels.add(run_id)
        )
        async with _task_group() as tg:
            tg.start_soon(self._execute, run, events, resolved)
            try:
                yield events
            finally:
                receive.close()
        if events.error is not None:
            raise events.error

    async def _execute(
        self, run: _Run, events: RunEvents, resolved: bool
    ) -> None:
        error: BaseException | None = None
        message: str | None = None
        async with run.send:
            try:
                await self.store.save_run(run.record())
                async with self.licenses.lease(
                    run.id, timeout=self.license_timeout
                ):
                    await self._with_licence(run, resolved)
                run.status = (
                    RunStatus.CANCELLED
                    if run.cancelled
                    else RunStatus.SUCCEEDED
                )
            except RunCancelled:
                run.status = RunStatus.CANCELLED
            except anyio.get_cancelled_exc_class():
                run.status = RunStatus.CANCELLED
                with anyio.CancelScope(shield=True):
                    await self.store.save_run(run.record())
                raise
            except EcomsyncError as exc:
                run.status = RunStatus.FAILED
                error, message = exc, str(exc)
            except Exception as exc:
                run.status = RunStatus.FAILED
                error = exc
                message = f"{type(exc).__name__}: {exc}"
                log.exception("run %s failed", run.id)
            final = run.record(error=message)
            with anyio.CancelScope(shield=True):
                await self.store.save_run(final)
            events.summary = final
            events.error = error
            await run.emit(
                RunFinished(
                    run_id=run.id,
                    status=final.status,
                    counts=final.counts,
                    run=final,
                )
            )

    async def _with_licence(self, run: _Run, resolved: bool) -> None:
        if not resolved:
            run.spec = await self._resolve(run)
        run.status = RunStatus.RUNNING
        await self.store.save_run(run.record())
        if not self._staging_open:
            await self.staging.open(self.store)
            self._staging_open = True
        await run.emit(
            RunStarted(
                run_id=run.id,
                platform=run.platform_name,
                trigger=run.trigger,
                spec=run.spec,
            )
        )
        async with self.erp.session() as session:
            for data_type, selection in run.spec.types.items():
                await self._check_cancel(run, force=True)
                await self._sync_type(run, session, data_type, selection)
                await self.store.save_run(run.record())
                if run.trigger is Trigger.SCHEDULED:
                    # Only scheduled runs move the "date of last sync", and
                    # only once the type went through: to when the run
                    # *started*, so changes made meanwhile are read again.
                    await self.store.set_watermark(
                        run.platform_name, data_type, run.started_at
                    )

    async def _resolve(self, run: _Run) -> SyncSpec:
        """
        A scheduled run reads what changed since the watermark (minus the
        overlap), or everything while there is no watermark.
        """
        if run.trigger is not Trigger.SCHEDULED:
            return run.spec
        types: dict[DataType, Selection] = {}
        for data_type in run.spec.types:
            mark = await self.store.get_watermark(run.platform_name, data_type)
            types[data_type] = (
                All() if mark is None else ChangedSince(mark - self.overlap)
            )
        return attrs.evolve(run.spec, types=types)

    async def _check_cancel(self, run: _Run, *, force: bool = False) -> None:
        if run.id in self._local_cancels:
            run.cancelled = True
        elif force or time.monotonic() - run._cancel_checked > 0.2:
            run._cancel_checked = time.monotonic()
            run.cancelled = await self.store.cancel_requested(run.id)
        if run.cancelled:
            raise RunCancelled(f"run {run.id} was cancelled")

    # -- one data type ----------------------------------------------------

    async def _sync_type(
        self,
        run: _Run,
        session: ErpSession,
        data_type: DataType,
        selection: Selection,
    ) -> None:
        tally = _Tally()
        retry = await self._ledger_numbers(run, data_type, selection)
        total: int | None = None
        if data_type is not DataType.ADDRESSES_AND_ORDERS:
            total = await session.count(data_type, selection)
        await run.emit(
            TypeStarted(
                run_id=run.id,
                data_type=data_type,
                selection=selection,
                total=total,
            )
        )
        meter = _Meter(run, data_type, total, self.progress_interval)
        try:
            await self._sync_selection(
                run, session, data_type, selection, tally, meter
            )
            if retry:
                await self._sync_selection(
                    run, session, data_type, Only(retry), tally, meter
                )
        finally:
            run.counts[data_type] = tally.frozen()
        await meter.tick(tally.done, final=True)
        await run.emit(
            TypeFinished(
                run_id=run.id, data_type=data_type, counts=tally.frozen()
            )
        )

    async def _ledger_numbers(
        self, run: _Run, data_type: DataType, selection: Selection
    ) -> list[str]:
        """
        Failed records a scheduled run retries besides its selection.
        """
        if run.trigger is not Trigger.SCHEDULED or isinstance(selection, All):
            return []
        failed = await self.store.list_failures(run.platform_name, data_type)
        return [f.number for f in failed]

    async def _sync_selection(
        self,
        run: _Run,
        session: ErpSession,
        data_type: DataType,
        selection: Selection,
        tally: _Tally,
        meter: _Meter,
    ) -> None:
        if data_type is DataType.CATEGORIES:
            # Parents must be written before children: one batch at a time.
            async with self._batches(
                run, session, data_type, selection
            ) as batches:
                async for batch in batches:
                    await self._check_cancel(run)
                    await self._sync_batch(
                        run, session, data_type, batch, tally
                    )
                    await meter.tick(tally.done)
            return
        # Other types pipeline: up to `write_concurrency` batches in flight
        # while the next ones are read.  Cancellation is checked before a
        # batch starts, so batches in flight finish whole.
        slots = anyio.Semaphore(self.write_concurrency)

        async def one(batch: Sequence[Record]) -> None:
            try:
                await self._sync_batch(
                    run, session, data_type, batch, tally, check_cancel=False
                )
                await meter.tick(tally.done)
            finally:
                slots.release()

        async with (
            self._batches(run, session, data_type, selection) as batches,
            _task_group() as tg,
        ):
            async for batch in batches:
                await slots.acquire()
                try:
                    await self._check_cancel(run)
                except RunCancelled:
                    slots.release()
                    break
                tg.start_soon(one, batch)
        if run.cancelled:
            raise RunCancelled(f"run {run.id} was cancelled")

    @asynccontextmanager
    async def _batches(
        self,
        run: _Run,
        session: ErpSession,
        data_type: DataType,
        selection: Selection,
    ) -> AsyncIterator[AsyncIterator[Sequence[Record]]]:
        """
        The batches of a type's selection: orders from the platform,
        everything else from the ERP; closed however the block ends.
        """
        batches: AsyncIterator[Sequence[Record]]
        if data_type is DataType.ADDRESSES_AND_ORDERS:
            batches = run.platform.fetch_orders(
                selection, batch_size=self.order_page_size
            )
        else:
            batches = session.read(
                data_type, selection, batch_size=self.batch_size
            )
        try:
            yield batches
        finally:
            await _aclose(batches)

    async def _classify(
        self,
        platform_name: str,
        data_type: DataType,
        batch: Sequence[Record],
        force: bool,
    ) -> _Sorted:
        """
        Split a batch into invalid records, unchanged ones (same checksum
        as last sent) and those to write; shared by runs and plans.
        """
        out = _Sorted()
        valid: list[Record] = []
        for record in batch:
            bad = problems(record)
            if bad:
                number = getattr(record, "number", None) or "<no number>"
                out.invalid.append(
                    (number, bad[0].field, f"{bad[0].field} {bad[0].reason}")
                )
            else:
                valid.append(record)
        out.links = await self.store.get_links(
            platform_name, data_type, [r.number for r in valid]
        )
        for record in valid:
            digest = checksum(record)
            link = out.links.get(record.number)
            if link is not None and link.checksum == digest and not force:
                out.unchanged.append(record)
            else:
                out.todo.append((record, digest))
        return out

    async def _sync_batch(
        self,
        run: _Run,
        session: ErpSession,
        data_type: DataType,
        batch: Sequence[Record],
        tally: _Tally,
        *,
        check_cancel: bool = True,
    ) -> None:
        sorted_ = await self._classify(
            run.platform_name, data_type, batch, run.spec.force
        )
        for number, field, message in sorted_.invalid:
            await self._fail(run, data_type, number, message, field, tally)
        for record in sorted_.unchanged:
            tally.unchanged += 1
            await run.emit(
                RecordSkipped(
                    run_id=run.id, data_type=data_type, number=record.number
                )
            )
        todo = sorted_.todo
        if data_type is DataType.ARTICLES and todo:
            async with run.dependency_lock:
                await self._ensure_categories(
                    run,
                    session,
                    [r for r, _ in todo if isinstance(r, Article)],
                )
        size = (
            self.batch_size
            if data_type is DataType.ADDRESSES_AND_ORDERS
            else run.platform.batch_size
        )
        for start in range(0, len(todo), size):
            if check_cancel:
                await self._check_cancel(run)
            await self._write(
                run,
                session,
                data_type,
                todo[start : start + size],
                sorted_.links,
                tally,
            )

    async def _write(
        self,
        run: _Run,
        session: ErpSession,
        data_type: DataType,
        chunk: Sequence[tuple[Record, str]],
        links: Mapping[str, Link],
        tally: _Tally,
    ) -> None:
        if data_type is DataType.ADDRESSES_AND_ORDERS:
            outcomes = await session.import_orders(
                [r for r, _ in chunk]  # type: ignore[misc]
            )
            self._check_answer(run, outcomes, chunk)
        elif getattr(run.platform, "media_on_push", False):
            # The platform writes a record's media with the record: move
            # the files first, then push records with their links.
            media = await self._gather_media(run, session, data_type, chunk)
            ready = [
                i for i, m in enumerate(media) if not isinstance(m, Outcome)
            ]
            pushed = iter(
                await run.platform.push(
                    data_type,
                    [
                        # No media is news too: the record's old ones go.
                        self._outgoing(chunk[i][0], links, media[i] or [])
                        for i in ready
                    ],
                )
            )
            answered = [
                m if isinstance(m, Outcome) else next(pushed, None)
                for m in media
            ]
            outcomes = [o for o in answered if o is not None]
            if next(pushed, None) is not None or len(outcomes) < len(chunk):
                raise SyncError(
                    f"{type(run.platform).__name__} answered the wrong "
                    f"number of outcomes for {len(ready)} records"
                )
        else:
            outcomes = await run.platform.push(
                data_type, [self._outgoing(r, links, None) for r, _ in chunk]
            )
            self._check_answer(run, outcomes, chunk)
            media = await self._gather_media(
                run, session, data_type, chunk, outcomes
            )
            outcomes = await self._attach_all(run, data_type, outcomes, media)
        written: dict[str, Link] = {}
        for (record, digest), outcome in zip(chunk, outcomes, strict=True):
            if not outcome.ok:
                await self._fail(
                    run,
                    data_type,
                    record.number,
                    outcome.error or "rejected",
                    outcome.field,
                    tally,
                )
                continue
            created = record.number not in links
            if created:
                tally.created += 1
            else:
                tally.updated += 1
            written[record.number] = Link(outcome.platform_id, digest)
            if data_type is DataType.CATEGORIES:
                run.linked_categories.add(record.number)
            await run.emit(
                RecordSynced(
                    run_id=run.id,
                    data_type=data_type,
                    number=record.number,
                    created=created,
                    platform_id=outcome.platform_id,
                )
            )
        if written:
            # Committed per chunk, after the platform confirmed: a crash
            # in between redoes the chunk, idempotently, never skips it.
            await self.store.put_links(run.platform_name, data_type, written)
            await self.store.clear_failures(
                run.platform_name, data_type, list(written)
            )

    @staticmethod
    def _outgoing(
        record: Record,
        links: Mapping[str, Link],
        media: list[MediaLink] | Outcome | None,
    ) -> Outgoing:
        link = links.get(record.number)
        return Outgoing(
            record=record,
            platform_id=None if link is None else link.platform_id,
            media=tuple(media) if isinstance(media, list) else None,
        )

    @staticmethod
    def _check_answer(
        run: _Run, outcomes: Sequence[Outcome], asked: Sized
    ) -> None:
        if len(outcomes) != len(asked):
            raise SyncError(
                f"{type(run.platform).__name__} answered {len(outcomes)} "
                f"outcomes for {len(asked)} records"
            )

    async def _fail(
        self,
        run: _Run,
        data_type: DataType,
        number: str,
        message: str,
        field: str | None,
        tally: _Tally,
    ) -> None:
        tally.failed += 1
        failure = Failure(
            data_type=data_type,
            number=number,
            message=message,
            field=field,
            run_id=run.id,
        )
        run.failures.append(failure)
        await self.store.add_failures(run.platform_name, [failure])
        await run.emit(
            RecordFailed(
                run_id=run.id,
                data_type=data_type,
                number=number,
                field=field,
                message=message,
            )
        )

    # -- dependencies ---------------------------------------------------

    async def _ensure_categories(
        self, run: _Run, session: ErpSession, articles: Sequence[Article]
    ) -> None:
        """
        Sync, before the articles, the categories they use that the
        platform does not have yet (and their missing ancestors).
        """
        ordered, required_by = await self._missing_categories(
            run.platform_name, session, articles, run.linked_categories
        )
        tally = _Tally()
        for start in range(0, len(ordered), run.platform.batch_size):
            chunk: list[tuple[Record, str]] = [
                (c, checksum(c))
                for c in ordered[start : start + run.platform.batch_size]
            ]
            await self._write(
                run, session, DataType.CATEGORIES, chunk, {}, tally
            )
        for category in ordered:
            if category.number in run.linked_categories:
                await run.emit(
                    DependencySynced(
                        run_id=run.id,
                        data_type=DataType.CATEGORIES,
                        number=category.number,
                        required_by=required_by[category.number],
                    )
                )

    async def _missing_categories(
        self,
        platform_name: str,
        session: ErpSession,
        articles: Sequence[Article],
        linked: set[str],
    ) -> tuple[list[Category], dict[str, str]]:
        """
        The categories *articles* use that the platform lacks, with their
        missing ancestors, parents first; and which article needs each.
        *linked* (known to be on the platform) grows as the store answers.
        """
        wanted: dict[str, str] = {}
        for article in articles:
            for number in article.categories:
                if number not in linked:
                    wanted.setdefault(number, article.number)
        found: dict[str, Category] = {}
        required_by: dict[str, str] = {}
        while wanted:
            known = await self.store.get_links(
                platform_name, DataType.CATEGORIES, list(wanted)
            )
            linked.update(known)
            missing = {n: a for n, a in wanted.items() if n not in known}
            required_by.update(missing)
            wanted = {}
            if not missing:
                break
            reader = session.read(
                DataType.CATEGORIES, Only(missing), batch_size=self.batch_size
            )
            async for batch in _closing(reader):
                for category in batch:
                    if not isinstance(category, Category):
                        continue
                    found[category.number] = category
                    parent = category.parent
                    if (
                        parent is not None
                        and parent not in found
                        and parent not in linked
                    ):
                        wanted[parent] = required_by[category.number]
        return _parents_first(found), required_by

    # -- media ----------------------------------------------------------

    async def _media_id(
        self, run: _Run, sha: str, content: bytes, ref: MediaRef
    ) -> tuple[str, bool]:
        """
        The platform's id for this content: known already (reused), or
        staged and uploaded once, however many records share it.
        """
        while sha in run.uploading:
            await run.uploading[sha].wait()
        done = run.uploading[sha] = anyio.Event()
        try:
            media_id = await self.store.get_media_id(run.platform_name, sha)
            if media_id is not None:
                return media_id, True
            staged = await self.staging.stage(
                content,
                filename=ref.filename,
                mime_type=ref.mime_type,
                kind=ref.kind,
            )
            try:
                media_id = await run.platform.upload_media(staged)
            finally:
                await self.staging.release(staged)
            await self.store.put_media_id(run.platform_name, sha, media_id)
        finally:
            del run.uploading[sha]
            done.set()
        return media_id, False

    async def _gather_media(
        self,
        run: _Run,
        session: ErpSession,
        data_type: DataType,
        chunk: Sequence[tuple[Record, str]],
        outcomes: Sequence[Outcome] | None = None,
    ) -> list[list[MediaLink] | Outcome | None]:
        """
        Move the media of the records in *chunk* to the platform (those
        whose *outcomes* are ok, when given), concurrently, bounded by the
        run's media limiter.  Per record: its media links, a failed
        outcome naming the file at fault, or None (no media).
        """
        found: list[list[MediaLink] | Outcome | None] = [None] * len(chunk)

        async def one(index: int, record: Article | Category) -> None:
            found[index] = await self._media_links(
                run, session, data_type, record
            )

        async with _task_group() as tg:
            for index, (record, _) in enumerate(chunk):
                if outcomes is not None and not outcomes[index].ok:
                    continue
                if isinstance(record, Article | Category) and record.media:
                    tg.start_soon(one, index, record)
        return found

    async def _attach_all(
        self,
        run: _Run,
        data_type: DataType,
        outcomes: Sequence[Outcome],
        media: Sequence[list[MediaLink] | Outcome | None],
    ) -> list[Outcome]:
        """
        For platforms that take media after the record: attach them.
        """
        final = list(outcomes)

        async def one(index: int, links: list[MediaLink]) -> None:
            try:
                await run.platform.attach_media(
                    data_type, outcomes[index], links
                )
            except RecordRejected as exc:
                final[index] = Outcome(
                    number=outcomes[index].number,
                    error=str(exc),
                    field="media",
                )

        async with _task_group() as tg:
            for index, links in enumerate(media):
                if isinstance(links, Outcome):
                    final[index] = links
                elif links is not None and outcomes[index].ok:
                    tg.start_soon(one, index, links)
        return final

    async def _media_links(
        self,
        run: _Run,
        session: ErpSession,
        data_type: DataType,
        record: Article | Category,
    ) -> list[MediaLink] | Outcome:
        refs = record.media
        links: list[MediaLink | None] = [None] * len(refs)
        errors: list[tuple[int, str]] = []

        async def one(position: int) -> None:
            ref = refs[position]
            async with run.media_limiter:
                try:
                    content = await session.read_media(ref)
                    sha = hashlib.sha256(content).hexdigest()
                    media_id, reused = await self._media_id(
                        run, sha, content, ref
                    )
                except (RecordRejected, SyncError) as exc:
                    if isinstance(exc, AuthenticationError):
                        raise
                    errors.append((position, str(exc)))
                    return
                links[position] = MediaLink(
                    media_id=media_id,
                    sha256=sha,
                    position=position,
                    kind=ref.kind,
                )
                await run.emit(
                    MediaUploaded(
                        run_id=run.id,
                        data_type=data_type,
                        number=record.number,
                        sha256=sha,
                        size=len(content),
                        reused=reused,
                    )
                )

        async with _task_group() as tg:
            for position in range(len(refs)):
                tg.start_soon(one, position)
        if errors:
            position, message = min(errors)
            return Outcome(
                number=record.number,
                error=message,
                field=f"media.{position}",
            )
        return [m for m in links if m is not None]


@asynccontextmanager
async def _task_group() -> AsyncIterator[TaskGroup]:
    """
    An anyio task group whose lone error comes out as itself, not wrapped
    in an ExceptionGroup, so that callers (and `_execute`) can tell a
    `RunCancelled` or an `AuthenticationError` by its type.
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


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    # Adapters return async generators; close them deterministically
    # rather than leave them to the garbage collector (anyio's advice).
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


async def _closing(
    iterator: AsyncIterator[Sequence[Record]],
) -> AsyncIterator[Sequence[Record]]:
    """
    Iterate *iterator* to the end, or close it when abandoned.
    """
    try:
        async for item in iterator:
            yield item
    finally:
        await _aclose(iterator)


def _parents_first(categories: Mapping[str, Category]) -> list[Category]:
    def depth(category: Category) -> int:
        seen = 0
        parent = category.parent
        while parent is not None and parent in categories:
            if seen > len(categories):  # a cycle: give up ordering it
                break
            parent = categories[parent].parent
            seen += 1
        return seen

    return sorted(categories.values(), key=depth)


@attrs.define
class _PlanTally:
    """
    What `Synchronizer.plan` has found so far for one data type.
    """

    create: list[str] = attrs.Factory(list)
    update: list[str] = attrs.Factory(list)
    unchanged: list[str] = attrs.Factory(list)
    invalid: list[Refusal] = attrs.Factory(list)
    deps: list[str] = attrs.Factory(list)
    to_upload: dict[str, int] = attrs.Factory(dict)
    reused: int = 0
    with_media: int = 0
    fetched: int = 0


@attrs.define
class _Sorted:
    """
    A batch split by `Synchronizer._classify`.
    """

    invalid: list[tuple[str, str, str]] = attrs.Factory(list)
    unchanged: list[Record] = attrs.Factory(list)
    todo: list[tuple[Record, str]] = attrs.Factory(list)
    links: dict[str, Link] = attrs.Factory(dict)


@attrs.define
class _Meter:
    """
    Emits `Progress` at most every *interval* seconds.
    """

    run: _Run
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
