"""
The one lifecycle of every run: licences, monitoring, cancellation and
the one error a failed run raises.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import attrs
import pytest

from ecomsync import (
    All,
    AuthenticationError,
    DataType,
    EcomsyncError,
    LocalLicensePool,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    NoFreeLicense,
    Outcome,
    Outgoing,
    Progress,
    RecordSynced,
    RetryableError,
    RunFinished,
    RunStarted,
    RunStatus,
    SqliteStore,
    StagedMedia,
    StateStoreError,
    SyncError,
    Synchronizer,
    Trigger,
    TypeFinished,
)
from ecomsync._run import describe
from ecomsync.testing import capture_events

from ..conftest import small_catalogue
from ._support import ARTICLES, BrokenErp, spec, until_queued


pytestmark = pytest.mark.anyio


class _Meeting(MemoryErp):
    """
    A `MemoryErp` whose first sessions wait, inside the session, until a
    second one is open: runs that may overlap do, however slow the
    machine (a run could otherwise end before the next one starts).
    """

    met: anyio.Event | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[object]:  # type: ignore[override]
        async with super().session() as session:
            if self.met is None:
                self.met = anyio.Event()
            if self.max_open_sessions >= 2:
                self.met.set()
            with anyio.fail_after(30):
                await self.met.wait()
            yield session


class TestLicences:
    async def test_no_free_licence(
        self, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """With every licence held, a run waits, then fails naming the pool
        size and the holders."""
        pool = LocalLicensePool(1)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            licenses=pool,
            license_timeout=0.2,
        )
        async with pool.lease("nightly-run", timeout=1):
            with pytest.raises(NoFreeLicense) as info:
                await sync.execute(spec(articles=All()))

        message = str(info.value)
        assert "all 1 licence(s)" in message
        assert "nightly-run" in message
        (run,) = await sync.runs()
        assert RunStatus.FAILED == run.status
        assert f"NoFreeLicense: {message}" == run.error

    async def test_waits_for_a_lease(
        self, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """A run waits for a licence that comes free within the timeout."""
        pool = LocalLicensePool(1)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            licenses=pool,
            license_timeout=5,
        )

        await sync.execute(spec(categories=All(), articles=All()))
        async with (
            anyio.create_task_group() as tg,
            pool.lease("other", timeout=1),
        ):
            tg.start_soon(sync.execute, spec(stock=All()))
            await until_queued(sync)
            assert 0 == len(platform.held(DataType.STOCK))

        assert 6 == len(platform.held(DataType.STOCK))

    async def test_returned_on_success_and_failure(
        self, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """The lease comes back after a good run and after a failed one."""
        pool = LocalLicensePool(1)
        sync = Synchronizer(
            erp=erp, platforms={"shop": platform}, licenses=pool
        )
        await sync.execute(spec(stock=All()))
        assert 0 == pool.in_use

        sync.erp = BrokenErp()
        with pytest.raises(SyncError):
            await sync.execute(spec(stock=All()))

        run = (await sync.runs())[0]
        assert RunStatus.FAILED == run.status
        assert "ERP went away" in (run.error or "")
        assert 0 == pool.in_use

    async def test_returned_on_cancellation(
        self, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Cancelling the host's task returns the lease and records it."""
        pool = LocalLicensePool(1)
        erp.latency = 0.05
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            licenses=pool,
            batch_size=1,
        )

        with anyio.move_on_after(0.15):
            await sync.execute(spec(stock=All()))

        assert 0 == pool.in_use
        (run,) = await sync.runs()
        assert RunStatus.CANCELLED == run.status

    async def test_one_session_per_run(
        self, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Parallel runs never hold more ERP sessions than licences."""
        meeting = _Meeting(small_catalogue())
        sync = Synchronizer(
            erp=meeting,
            platforms={"shop": platform},
            licenses=LocalLicensePool(2),
        )
        meeting.latency = 0.01

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(sync.execute, spec(stock=All()))

        # Two at once, always (the first two met); never more.
        assert 2 == meeting.max_open_sessions


class TestMonitoring:
    async def test_recorded_from_the_start(
        self, sync: Synchronizer, erp: MemoryErp
    ) -> None:
        """A run is in the store, running, while it runs, and complete
        afterwards."""
        await sync.execute(spec(categories=All(), articles=All()))
        erp.latency = 0.05
        sync.batch_size = 1
        seen = []
        async with sync.run(spec(stock=All())) as events:
            async for event in events:
                if isinstance(event, RunStarted):
                    seen = await sync.runs()

        during = seen[0]
        assert RunStatus.RUNNING == during.status
        after = (await sync.runs())[0]
        assert RunStatus.SUCCEEDED == after.status
        assert after.ended_at is not None
        assert after.started_at <= after.ended_at
        assert Trigger.MANUAL == after.trigger
        assert "shop" == after.platform
        assert spec(stock=All()) == after.spec
        assert 6 == after.counts[DataType.STOCK].created
        assert events.summary == after

    async def test_cancel_from_another_task(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Cancelling from the monitoring view stops at a record boundary."""
        await sync.execute(spec(categories=All(), articles=All()))
        erp.latency = 0.05
        sync.batch_size = 1

        async with sync.run(spec(stock=All())) as events:
            async for event in events:
                if isinstance(event, RecordSynced):
                    await sync.cancel(event.run_id)

        assert events.summary is not None
        assert RunStatus.CANCELLED == events.summary.status
        written = len(platform.held(DataType.STOCK))
        assert 1 <= written < 6
        assert written == events.summary.counts[DataType.STOCK].created

    async def test_events_cancel(
        self, sync: Synchronizer, erp: MemoryErp
    ) -> None:
        """RunEvents.cancel() stops the run too."""
        erp.latency = 0.05
        sync.batch_size = 1

        async with sync.run(spec(stock=All())) as events:
            events.cancel()

        assert RunStatus.CANCELLED == events.summary.status  # type: ignore[union-attr]

    async def test_leaving_early_finishes_the_run(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """A host that stops reading still gets a complete run."""
        async with sync.run(spec(categories=All(), articles=All())):
            pass

        assert 6 == len(platform.held(ARTICLES))

    async def test_progress(self, sync: Synchronizer) -> None:
        """Progress ends at done == total for each type."""
        async with capture_events(sync, spec(stock=All())) as run:
            last = run.of(Progress)[-1]

        assert (6, 6) == (last.done, last.total)
        assert last.rate > 0
        assert 0 == last.eta
        (finished,) = run.of(TypeFinished)
        assert 6 == finished.counts.done


class TestFatalErrors:
    async def test_auth_error_in_a_pipelined_batch(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """An authentication error inside a batch stops the run and comes
        out as itself, not wrapped in an exception group."""
        await sync.execute(spec(categories=All(), articles=All()))

        def refuse(record: object) -> str | None:
            raise AuthenticationError("credentials refused by the shop")

        platform.reject = refuse

        with pytest.raises(AuthenticationError, match="refused"):
            await sync.execute(spec(stock=All()))

        run = (await sync.runs())[0]
        assert RunStatus.FAILED == run.status
        assert "AuthenticationError: credentials refused by the shop" == (
            run.error
        )


class TestQueuedCancel:
    @pytest.mark.parametrize("how", ["local", "store"])
    async def test_ends_at_once(
        self, erp: MemoryErp, platform: MemoryPlatform, how: str
    ) -> None:
        """Cancelling a run that waits for a licence ends it CANCELLED at
        once, long before the licence timeout, with no ERP session; also
        when the cancel comes through the store (another process)."""
        pool = LocalLicensePool(1)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            licenses=pool,
            license_timeout=60,
        )

        with anyio.fail_after(10):
            async with (
                pool.lease("other", timeout=1),
                sync.run(spec(stock=All())) as events,
            ):
                await until_queued(sync)
                if how == "local":
                    await sync.cancel(events.run_id)
                else:
                    await sync.store.request_cancel(events.run_id)
                finished = [e async for e in events]

        assert RunStatus.CANCELLED == events.summary.status  # type: ignore[union-attr]
        assert [RunFinished] == [type(e) for e in finished]
        assert 0 == erp.max_open_sessions
        assert 0 == pool.in_use
        (run, *_) = await sync.runs()
        assert (events.run_id, RunStatus.CANCELLED) == (run.id, run.status)

    async def test_no_session_when_a_licence_frees_up(
        self, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """A run cancelled while queued opens no ERP session even when its
        licence comes free right after the cancel."""
        pool = LocalLicensePool(1)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            licenses=pool,
            license_timeout=60,
        )
        other = pool.lease("other", timeout=1)
        await other.__aenter__()

        with anyio.fail_after(10):
            async with sync.run(spec(stock=All())) as events:
                await until_queued(sync)
                events.cancel()
                await other.__aexit__(None, None, None)

        assert RunStatus.CANCELLED == events.summary.status  # type: ignore[union-attr]
        assert 0 == erp.max_open_sessions
        assert 0 == pool.in_use


@attrs.define
class _InFlightAuth(MemoryPlatform):
    """
    Refuses the credentials once *width* uploads are in flight together:
    every one of them fails with an `AuthenticationError`.
    """

    width: int = 3
    in_flight: int = 0
    crowd: anyio.Event = attrs.field(factory=anyio.Event)

    async def upload_media(self, media: StagedMedia) -> str:
        self.in_flight += 1
        # The upload that completes the crowd raises at once: waiting on
        # the set event would be a checkpoint (trio), where the cancel of
        # the first failure could strike before it raised.
        if self.in_flight >= self.width:
            self.crowd.set()
        else:
            await self.crowd.wait()
        raise AuthenticationError("the shop refused the client secret")


@attrs.define
class _CancelsOnPush(MemoryPlatform):
    """
    On article push number *at*, makes *store* read-only and cancels
    *scope* (the host's), then waits: the run is cancelled while the
    store takes no writes.
    """

    store: SqliteStore | None = None
    scope: anyio.CancelScope | None = None
    at: int = 2
    pushes: int = 0

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        if data_type is DataType.ARTICLES:
            self.pushes += 1
            if self.pushes == self.at:
                assert self.store is not None
                assert self.scope is not None
                _read_only(self.store, True)
                self.scope.cancel()
                await anyio.sleep_forever()
        return await super().push(data_type, items)


@attrs.define
class _Mixed(_InFlightAuth):
    """
    Three uploads in flight fail three ways: refused credentials, a bug,
    a transient error that outlasted its retries.
    """

    async def upload_media(self, media: StagedMedia) -> str:
        self.in_flight += 1
        arrival = self.in_flight
        if arrival >= self.width:
            self.crowd.set()  # raises at once, as in _InFlightAuth
        else:
            await self.crowd.wait()
        if arrival == 1:
            raise RetryableError("503 Service Unavailable")
        if arrival == 2:
            raise KeyError("media-folder")
        raise AuthenticationError("the shop refused the client secret")


class _BuggyErp:
    def session(self) -> object:
        raise KeyError("img-1")


def _read_only(store: SqliteStore, on: bool) -> None:
    """
    Make the store's file read-only (or writable again) under its feet.
    """
    with store._lock:
        store._connect().execute(f"PRAGMA query_only = {int(on)}")


def _read_only_at(
    store: SqliteStore, platform: MemoryPlatform, number: str | None = None
) -> None:
    """
    Make the store read-only when *platform* is handed record *number*
    (any record: None).
    """

    def turn(record: object) -> None:
        if number is None or getattr(record, "number", None) == number:
            _read_only(store, True)

    platform.reject = turn  # type: ignore[assignment,return-value]


class TestOneError:
    async def test_uploads_in_flight_when_the_secret_changes(
        self, erp: MemoryErp, store: SqliteStore, tmp_path: Path
    ) -> None:
        """Several uploads refused at once end the run with one
        AuthenticationError (by type), the others attached as notes; the
        stored run names it."""
        platform = _InFlightAuth()
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            staging=MediaStaging(tmp_path / "staging"),
        )

        with pytest.raises(AuthenticationError) as info:
            await sync.execute(spec(categories=All(), articles=All()))

        assert "the shop refused the client secret" == str(info.value)
        (note,) = info.value.__notes__
        assert note.startswith("also: AuthenticationError: the shop refused")
        assert note.endswith(" times)")
        (run,) = await sync.runs()
        assert (RunStatus.FAILED, describe(info.value)) == (
            run.status,
            run.error,
        )

    async def test_mixed_failures(
        self, erp: MemoryErp, store: SqliteStore, tmp_path: Path
    ) -> None:
        """Of mixed failures in flight together, the run raises the one
        ranked first (refused credentials), a bug attached as a note; the
        transient failure fails its record alone."""
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": _Mixed()},
            store=store,
            staging=MediaStaging(tmp_path / "staging"),
        )

        with pytest.raises(AuthenticationError) as info:
            await sync.execute(spec(categories=All(), articles=All()))

        notes = info.value.__notes__
        assert any(n.startswith("also: KeyError") for n in notes)
        (run,) = await sync.runs()
        assert RunStatus.FAILED == run.status
        assert (
            "AuthenticationError: the shop refused the client secret"
            == run.error
        )

    async def test_store_goes_read_only(
        self, sync: Synchronizer, store: SqliteStore, platform: MemoryPlatform
    ) -> None:
        """A store that turns read-only mid-run ends the run with one
        StateStoreError, even though it cannot record the end; the next
        run works once the store is writable again."""
        sync.batch_size = 1
        await sync.execute(spec(categories=All()))

        _read_only_at(store, platform, "A-3")

        with pytest.raises(StateStoreError) as info:
            async with sync.run(spec(articles=All())) as events:
                pass
        assert "readonly" in str(info.value)
        assert RunStatus.FAILED == events.summary.status  # type: ignore[union-attr]
        _read_only(store, False)
        platform.reject = None
        run = await sync.execute(spec(articles=All()))
        assert RunStatus.SUCCEEDED == run.status
        assert 6 == len(platform.held(ARTICLES))

    async def test_unrecorded_end_recorded_once_the_store_heals(
        self, sync: Synchronizer, store: SqliteStore, platform: MemoryPlatform
    ) -> None:
        """A run that fails because the store stopped taking writes (a full
        disk) is shown failed, with the store's error, as soon as the store
        takes writes again, not "running" for as long as its process lives
        (nobody ends a live process's run as abandoned)."""
        sync.batch_size = 1
        await sync.execute(spec(categories=All()))

        _read_only_at(store, platform, "A-3")
        with pytest.raises(StateStoreError):
            await sync.execute(spec(articles=All()))
        _read_only(store, False)

        (run, _) = await sync.runs()
        assert RunStatus.FAILED == run.status
        assert "readonly" in (run.error or "")
        assert run.ended_at is not None

    async def test_unrecorded_cancel_recorded_by_the_next_run(
        self,
        erp: MemoryErp,
        store: SqliteStore,
        tmp_path: Path,
    ) -> None:
        """A run cancelled by its host while the store takes no writes is
        recorded cancelled by the next run of the synchroniser."""
        scope = anyio.CancelScope()
        platform = _CancelsOnPush(store=store, scope=scope, at=2)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            staging=MediaStaging(tmp_path / "staging"),
            license_timeout=1.0,
            batch_size=1,
            # one batch at a time: no other batch's store write can fail
            # on the read-only store before the cancel lands
            write_concurrency=1,
        )
        await sync.execute(spec(categories=All()))

        with scope:
            async with sync.run(spec(articles=All())) as events:
                async for _ in events:
                    pass
        assert scope.cancelled_caught
        assert platform.pushes >= 2
        # the store's own connection takes no writes: look through another
        async with SqliteStore(store.path) as other:
            unrecorded = await other.get_run(events.run_id)
        assert unrecorded is not None
        assert RunStatus.RUNNING == unrecorded.status
        _read_only(store, False)

        await sync.execute(spec(stock=All()))

        runs = {run.id: run for run in await store.list_runs()}
        assert RunStatus.CANCELLED == runs[events.run_id].status

    async def test_unrecorded_end_recorded_on_close(
        self, erp: MemoryErp, platform: MemoryPlatform, store: SqliteStore
    ) -> None:
        """Closing the synchroniser records the ends the store could not
        take before."""
        sync = Synchronizer(erp=erp, platforms={"shop": platform}, store=store)

        _read_only_at(store, platform)
        with pytest.raises(StateStoreError):
            await sync.execute(spec(categories=All()))
        _read_only(store, False)
        await sync.aclose()

        (run,) = await store.list_runs()
        assert RunStatus.FAILED == run.status

    async def test_plan_raises_one_library_error(
        self, sync: Synchronizer, erp: MemoryErp
    ) -> None:
        """A plan that fails on a foreign error (a bug in an adapter)
        raises one EcomsyncError with the original as its cause."""
        sync.erp = _BuggyErp()

        with pytest.raises(EcomsyncError, match="KeyError: 'img-1'") as info:
            await sync.plan(spec(articles=All()))

        assert isinstance(info.value.__cause__, KeyError)
        (run,) = await sync.runs()
        assert (RunStatus.FAILED, describe(info.value)) == (
            run.status,
            run.error,
        )
