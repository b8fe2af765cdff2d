"""
The Synchronizer: selections, order, watermarks, ledger, licences,
monitoring, cancellation, checksums, failure isolation, bad input.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import anyio
import pytest

from ecomsync import (
    All,
    Article,
    AuthenticationError,
    Category,
    ChangedSince,
    DataType,
    DependencySynced,
    LocalLicensePool,
    MemoryErp,
    MemoryPlatform,
    NoFreeLicense,
    NumberRange,
    Only,
    Progress,
    RecordFailed,
    RecordSkipped,
    RecordSynced,
    RunFinished,
    RunStarted,
    RunStatus,
    SpecError,
    SqliteStore,
    StockLevel,
    SyncError,
    Synchronizer,
    SyncSpec,
    Trigger,
    TypeFinished,
    TypeStarted,
)
from ecomsync.testing import capture_events, shipped, shop_orders

from .conftest import T0


pytestmark = pytest.mark.anyio


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    """The engine uses anyio only: prove it on both backends."""
    return str(request.param)


ARTICLES = DataType.ARTICLES


def spec(**types: object) -> SyncSpec:
    return SyncSpec(
        types={DataType[k.upper()]: v for k, v in types.items()}  # type: ignore[misc]
    )


async def everything(sync: Synchronizer) -> None:
    await sync.execute(spec(categories=All(), articles=All(), stock=All()))


class TestSelections:
    @pytest.mark.parametrize(
        ("selection", "expected"),
        [
            (All(), {"A-1", "A-2", "A-3", "A-4", "A-5", "A-6"}),
            (NumberRange("A-2", "A-4"), {"A-2", "A-3", "A-4"}),
            (Only({"A-5", "A-1", "A-99"}), {"A-1", "A-5"}),
        ],
    )
    async def test_articles(
        self,
        sync: Synchronizer,
        platform: MemoryPlatform,
        selection: object,
        expected: set[str],
    ) -> None:
        """Each selection mode writes exactly the selected articles."""
        run = await sync.execute(spec(articles=selection))

        assert expected == set(platform.held(ARTICLES))
        assert len(expected) == run.counts[ARTICLES].created

    async def test_changed_since(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """ChangedSince picks records changed at or after the moment."""
        later = T0 + timedelta(days=1)
        erp.put(StockLevel(number="A-3", quantity=1), changed_at=later)
        await sync.execute(spec(articles=All()))

        await sync.execute(spec(stock=ChangedSince(later)))

        assert {"A-3"} == set(platform.held(DataType.STOCK))

    async def test_range_is_natural(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Category ranges use natural order: C-2 .. C-10 holds both."""
        await sync.execute(spec(categories=NumberRange("C-1", "C-10")))

        assert {"C-1", "C-2", "C-10"} == set(
            platform.held(DataType.CATEGORIES)
        )


class TestOrder:
    async def test_dependency_order(self, sync: Synchronizer) -> None:
        """Types run categories, articles, stock, orders, status."""
        async with capture_events(
            sync, SyncSpec(types={t: All() for t in DataType})
        ) as run:
            started = [e.data_type for e in run.of(TypeStarted)]

        assert [
            DataType.CATEGORIES,
            DataType.ARTICLES,
            DataType.STOCK,
            DataType.ADDRESSES_AND_ORDERS,
            DataType.ORDER_STATUS,
        ] == started
        assert isinstance(run.events[0], RunStarted)
        assert isinstance(run.events[-1], RunFinished)

    async def test_missing_categories_first(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """An article's missing category (and its parent) is synced first."""
        async with capture_events(sync, spec(articles=Only({"A-1"}))) as run:
            deps = run.of(DependencySynced)

        assert [("C-1", "A-1"), ("C-2", "A-1")] == [
            (d.number, d.required_by) for d in deps
        ]
        assert {"C-1", "C-2"} == set(platform.held(DataType.CATEGORIES))
        assert {"A-1"} == set(platform.held(ARTICLES))
        assert 0 == run.summary.counts[ARTICLES].failed  # type: ignore[union-attr]

    async def test_known_categories_not_resent(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """Categories already on the platform are not synced again."""
        await sync.execute(spec(categories=All()))
        pushes = platform.calls["push"]

        async with capture_events(sync, spec(articles=All())) as run:
            pass

        assert [] == run.of(DependencySynced)
        assert pushes + 1 == platform.calls["push"]

    async def test_unknown_category_fails_article(
        self, sync: Synchronizer, erp: MemoryErp
    ) -> None:
        """An article in a category the ERP lacks fails alone, named."""
        erp.put(
            Article(number="A-7", name="x", price=1, categories=("C-404",))
        )

        async with capture_events(sync, spec(articles=All())) as run:
            (failed,) = run.of(RecordFailed)

        assert ("A-7", "categories") == (failed.number, failed.field)
        assert "C-404" in failed.message
        assert 6 == run.summary.counts[ARTICLES].created  # type: ignore[union-attr]


class TestWatermarks:
    async def test_manual_leaves_watermarks(
        self, sync: Synchronizer, store: SqliteStore
    ) -> None:
        """A manual run never sets a watermark."""
        await sync.execute(SyncSpec(types={t: All() for t in DataType}))

        for data_type in DataType:
            assert await store.get_watermark("shop", data_type) is None

    async def test_manual_keeps_existing(
        self, sync: Synchronizer, store: SqliteStore
    ) -> None:
        """A manual run leaves an existing watermark exactly as it was."""
        await store.set_watermark("shop", ARTICLES, T0)

        await sync.execute(spec(articles=All()))

        assert T0 == await store.get_watermark("shop", ARTICLES)

    async def test_scheduled_reads_since_watermark(
        self, sync: Synchronizer, store: SqliteStore
    ) -> None:
        """A scheduled run reads ChangedSince(watermark - overlap)."""
        await store.set_watermark("shop", ARTICLES, T0)

        async with capture_events(
            sync, spec(articles=All()), trigger=Trigger.SCHEDULED
        ) as run:
            (started,) = run.of(TypeStarted)

        assert ChangedSince(T0 - sync.overlap) == started.selection

    async def test_scheduled_without_watermark_reads_all(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """Without a watermark a scheduled run reads everything."""
        async with capture_events(
            sync, spec(stock=Only({"A-1"})), trigger=Trigger.SCHEDULED
        ) as run:
            (started,) = run.of(TypeStarted)

        assert All() == started.selection

    async def test_scheduled_advances_to_start(
        self, erp: MemoryErp, platform: MemoryPlatform, store: SqliteStore
    ) -> None:
        """After each type, the watermark becomes the run's start time."""
        moments = iter([T0 + timedelta(hours=1), T0 + timedelta(hours=9)])
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            clock=lambda: next(moments),
        )

        await sync.execute(
            spec(categories=All(), articles=All()),
            trigger=Trigger.SCHEDULED,
        )

        for data_type in (DataType.CATEGORIES, ARTICLES):
            assert T0 + timedelta(hours=1) == await store.get_watermark(
                "shop", data_type
            )
        assert await store.get_watermark("shop", DataType.STOCK) is None

    async def test_failed_type_keeps_watermark(
        self, sync: Synchronizer, store: SqliteStore, erp: MemoryErp
    ) -> None:
        """A type that did not complete does not move its watermark."""

        sync.erp = _BrokenErp()

        with pytest.raises(SyncError, match="ERP went away"):
            await sync.execute(spec(articles=All()), trigger=Trigger.SCHEDULED)

        (run,) = await sync.runs()
        assert RunStatus.FAILED == run.status
        assert await store.get_watermark("shop", ARTICLES) is None

    async def test_ledger_retried(
        self, sync: Synchronizer, store: SqliteStore, platform: MemoryPlatform
    ) -> None:
        """A failed record sits in the ledger until a scheduled run gets it
        through, even though it did not change."""
        platform.reject = lambda r: "no" if r.number == "A-3" else None
        await sync.execute(
            spec(categories=All(), articles=All()), trigger=Trigger.SCHEDULED
        )
        (failure,) = await store.list_failures("shop", ARTICLES)
        assert "A-3" == failure.number
        platform.reject = None

        run = await sync.execute(
            spec(categories=All(), articles=All()), trigger=Trigger.SCHEDULED
        )

        assert "A-3" in platform.held(ARTICLES)
        assert 1 == run.counts[ARTICLES].created
        assert [] == await store.list_failures("shop", ARTICLES)


class _BrokenErp:
    def session(self) -> object:
        raise SyncError("ERP went away")


class TestChecksums:
    async def test_unchanged_costs_nothing(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """A rerun without changes sends no request to the platform."""
        await everything(sync)
        calls = dict(platform.calls)

        async with capture_events(
            sync, spec(categories=All(), articles=All(), stock=All())
        ) as run:
            pass

        assert calls == dict(platform.calls)
        assert 15 == len(run.of(RecordSkipped))

    async def test_change_is_sent(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """A changed record is sent as an update; the others are skipped."""
        await everything(sync)
        erp.put(StockLevel(number="A-2", quantity=999))

        run = await sync.execute(spec(stock=All()))

        assert (0, 1, 5) == (
            run.counts[DataType.STOCK].created,
            run.counts[DataType.STOCK].updated,
            run.counts[DataType.STOCK].unchanged,
        )
        assert 999 == platform.held(DataType.STOCK)["A-2"].quantity  # type: ignore[union-attr]

    async def test_force(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """force=True resends unchanged records."""
        await everything(sync)
        writes = platform.calls["writes"]

        run = await sync.execute(
            SyncSpec(types={DataType.STOCK: All()}, force=True)
        )

        assert 6 == run.counts[DataType.STOCK].updated
        assert writes + 6 == platform.calls["writes"]


class TestFailureIsolation:
    async def test_one_record_fails_alone(
        self, sync: Synchronizer, platform: MemoryPlatform, store: SqliteStore
    ) -> None:
        """A record the platform rejects fails alone with its message."""
        platform.reject = lambda r: (
            "Name zu lang (max. 255)" if r.number == "A-4" else None
        )

        async with capture_events(
            sync, spec(categories=All(), articles=All())
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert ("A-4", "Name zu lang (max. 255)") == (
            failed.number,
            failed.message,
        )
        assert 5 == len(platform.held(ARTICLES))
        assert RunStatus.SUCCEEDED == run.summary.status  # type: ignore[union-attr]
        assert ["A-4"] == [f.number for f in run.summary.failures]  # type: ignore[union-attr]
        assert ["A-4"] == [f.number for f in await store.list_failures("shop")]


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
        assert "credentials refused by the shop" == run.error


class TestBadInput:
    @pytest.mark.parametrize(
        ("record", "field"),
        [
            (Article(number="", name="x", price=1), "number"),
            (Article(number="A-8", name="x", price=-5), "price"),
            (
                Article(
                    number="A-8",
                    name=b"\xff".decode("utf-8", "surrogateescape"),
                    price=1,
                ),
                "name",
            ),
            (
                Article(
                    number="A-8", name="x", price=1, description="x" * 10**7
                ),
                "description",
            ),
        ],
    )
    async def test_malformed_record_fails_alone(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: MemoryPlatform,
        record: Article,
        field: str,
    ) -> None:
        """A malformed ERP record fails alone, naming record and field."""
        erp.put(record)

        async with capture_events(
            sync, spec(categories=All(), articles=All())
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert field == failed.field
        assert (record.number or "<no number>") == failed.number
        assert failed.message.startswith(field)
        assert 6 == len(platform.held(ARTICLES))

    async def test_unknown_platform(self, sync: Synchronizer) -> None:
        """An unknown platform name is a SpecError before anything runs."""
        with pytest.raises(SpecError, match="unknown platform 'nope'"):
            async with sync.run(
                SyncSpec(types={ARTICLES: All()}, platform="nope")
            ):
                pass
        assert [] == await sync.runs()

    async def test_ambiguous_platform(self, erp: MemoryErp) -> None:
        """With several platforms, the spec must name one."""
        sync = Synchronizer(
            erp=erp, platforms={"a": MemoryPlatform(), "b": MemoryPlatform()}
        )

        with pytest.raises(SpecError, match="names no platform"):
            sync.validate(spec(articles=All()))

    async def test_unsupported_type(self, erp: MemoryErp) -> None:
        """A type the platform cannot handle is a SpecError."""
        sync = Synchronizer(
            erp=erp,
            platforms={
                "orders-only": MemoryPlatform(
                    supported=frozenset({DataType.ADDRESSES_AND_ORDERS})
                )
            },
        )

        with pytest.raises(SpecError, match="cannot handle ARTICLES"):
            await sync.execute(spec(articles=All()))


class TestOrders:
    async def test_import_and_status(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Orders come into the ERP once; their status goes back."""
        orders = list(shop_orders(5, articles=6))
        for order in orders:
            platform.place_order(order, changed_at=T0)

        first = await sync.execute(spec(addresses_and_orders=All()))
        again = await sync.execute(spec(addresses_and_orders=All()))
        erp.put(shipped(orders[0], "TRACK-1"))
        status = await sync.execute(spec(order_status=All()))

        assert 5 == first.counts[DataType.ADDRESSES_AND_ORDERS].created
        assert 5 == again.counts[DataType.ADDRESSES_AND_ORDERS].unchanged
        assert {o.number for o in orders} == set(erp.orders)
        assert 5 == len(erp.customers)
        assert 1 == status.counts[DataType.ORDER_STATUS].created
        held = platform.held(DataType.ORDER_STATUS)[orders[0].number]
        assert ("TRACK-1",) == held.tracking_numbers  # type: ignore[union-attr]

    async def test_refused_order_fails_alone(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """An order the ERP refuses fails alone with the ERP's message."""
        orders = list(shop_orders(3, articles=6))
        for order in orders:
            platform.place_order(order)
        erp.refuse_orders[orders[1].number] = "Kunde gesperrt"

        async with capture_events(
            sync, spec(addresses_and_orders=All())
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert (orders[1].number, "Kunde gesperrt") == (
            failed.number,
            failed.message,
        )
        assert 2 == len(erp.orders)


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
        assert run.error == message

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
            await anyio.sleep(0.2)
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

        sync.erp = _BrokenErp()
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
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            licenses=LocalLicensePool(2),
        )
        erp.latency = 0.01

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(sync.execute, spec(stock=All()))

        assert 2 == erp.max_open_sessions


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


class TestSchedules:
    async def test_serve_runs_due_schedules(
        self, sync: Synchronizer, store: SqliteStore, platform: MemoryPlatform
    ) -> None:
        """serve() runs a due schedule as a SCHEDULED run and re-arms it."""
        await sync.add_schedule(spec(stock=All()), every=timedelta(hours=1))
        await sync.execute(spec(articles=All(), categories=All()))
        seen = []

        with anyio.move_on_after(5):
            await sync.serve(
                poll_interval=0.05,
                on_event=seen.append,
                until=lambda: any(isinstance(e, RunFinished) for e in seen),
            )

        (finished,) = [e for e in seen if isinstance(e, RunFinished)]
        assert Trigger.SCHEDULED == finished.run.trigger
        assert 6 == len(platform.held(DataType.STOCK))
        (schedule,) = await store.list_schedules()
        assert schedule.next_due > finished.run.started_at
        assert await store.get_watermark("shop", DataType.STOCK) is not None

    async def test_one_run_per_schedule(
        self, sync: Synchronizer, store: SqliteStore, erp: MemoryErp
    ) -> None:
        """Two servers on one store never run one schedule twice at once."""
        erp.latency = 0.02
        sync.batch_size = 1
        sync.licenses = LocalLicensePool(4)
        await sync.add_schedule(
            spec(categories=All()), every=timedelta(milliseconds=1)
        )
        finished: list[object] = []

        with anyio.move_on_after(1.5):
            async with anyio.create_task_group() as tg:
                for _ in range(2):
                    tg.start_soon(
                        lambda: sync.serve(
                            poll_interval=0.01,
                            on_event=lambda e: (
                                finished.append(e)
                                if isinstance(e, RunFinished)
                                else None
                            ),
                        )
                    )

        runs = sorted(
            (r for r in await sync.runs(limit=500) if r.status.finished),
            key=lambda r: r.started_at,
        )
        assert len(runs) >= 2
        for earlier, later in itertools.pairwise(runs):
            assert earlier.ended_at is not None
            assert earlier.ended_at <= later.started_at

    async def test_bad_interval(self, sync: Synchronizer) -> None:
        """A schedule needs a positive interval."""
        with pytest.raises(SpecError):
            await sync.add_schedule(spec(stock=All()), every=timedelta(0))


class TestResumeApi:
    async def test_resume_unknown(self, sync: Synchronizer) -> None:
        """Resuming a run that does not exist is a SpecError."""
        with pytest.raises(SpecError, match="no run"):
            async with sync.resume("nope"):
                pass

    async def test_resume_finished(self, sync: Synchronizer) -> None:
        """A finished run cannot be resumed."""
        run = await sync.execute(spec(stock=All()))

        with pytest.raises(SpecError, match="nothing to resume"):
            async with sync.resume(run.id):
                pass


class TestRepr:
    async def test_reprs(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Reprs are short and say what the object is."""
        assert repr(sync).startswith("<Synchronizer erp=<MemoryErp")
        assert "platforms=['shop']" in repr(sync)
        assert repr(platform).startswith("<MemoryPlatform")
        assert "<LocalLicensePool 0/1 in use>" == repr(sync.licenses)


def _unused() -> tuple[object, ...]:
    return (Category, Decimal)
