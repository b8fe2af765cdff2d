"""
What a run reads: selections, watermarks and the failure ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from ecomsync import (
    All,
    Article,
    ChangedSince,
    DataType,
    MemoryErp,
    MemoryPlatform,
    NumberRange,
    Only,
    Progress,
    RecordFailed,
    RunStatus,
    SqliteStore,
    StockLevel,
    SyncError,
    Synchronizer,
    SyncSpec,
    Trigger,
    TypeStarted,
)
from ecomsync.testing import capture_events

from ..conftest import T0
from ._support import ARTICLES, BrokenErp, spec


pytestmark = pytest.mark.anyio


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

        sync.erp = BrokenErp()

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

    @pytest.mark.parametrize("changed", [False, True])
    async def test_progress_counts_the_retries(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: MemoryPlatform,
        changed: bool,
    ) -> None:
        """A scheduled run's total counts the ledger's retries once, so
        progress never runs past it and ends at it (it said 1 of 0)."""
        platform.reject = lambda r: "no" if r.number == "A-3" else None
        await sync.execute(
            spec(categories=All(), articles=All()), trigger=Trigger.SCHEDULED
        )
        platform.reject = None
        if changed:
            article = erp.get(ARTICLES, "A-3")
            assert isinstance(article, Article)
            erp.put(
                attrs.evolve(article, name="renamed"),
                changed_at=datetime.now(UTC) + timedelta(days=1),
            )
        sync.progress_interval = 0

        async with capture_events(
            sync, spec(articles=All()), trigger=Trigger.SCHEDULED
        ) as run:
            pass

        (started,) = run.of(TypeStarted)
        progress = run.of(Progress)
        assert started.total is not None
        assert 1 <= started.total
        assert all(p.total is not None for p in progress)
        assert all(p.done <= (p.total or 0) for p in progress)
        assert (1, 1) == (progress[-1].done, progress[-1].total)

    async def test_ledgered_record_read_again_moves_once(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        erp: MemoryErp,
        platform: MemoryPlatform,
    ) -> None:
        """A failed record that changed is read by the scheduled run's
        selection and not retried on top: one failure, one event."""
        platform.reject = lambda r: "no" if r.number == "A-3" else None
        await sync.execute(
            spec(categories=All(), articles=All()), trigger=Trigger.SCHEDULED
        )
        article = erp.get(ARTICLES, "A-3")
        assert isinstance(article, Article)
        erp.put(
            attrs.evolve(article, name="renamed"),
            changed_at=datetime.now(UTC) + timedelta(days=1),
        )

        async with capture_events(
            sync, spec(articles=All()), trigger=Trigger.SCHEDULED
        ) as run:
            pass

        assert ["A-3"] == [e.number for e in run.of(RecordFailed)]
        assert run.summary is not None
        assert 1 == run.summary.counts[ARTICLES].failed
        (failure,) = await store.list_failures("shop", ARTICLES)
        assert "A-3" == failure.number

    @pytest.mark.parametrize(
        ("trigger", "selection"),
        [
            (Trigger.SCHEDULED, All()),
            (Trigger.MANUAL, All()),
            (Trigger.MANUAL, Only({"A-3"})),
        ],
    )
    async def test_record_deleted_after_failing_leaves_the_ledger(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        erp: MemoryErp,
        platform: MemoryPlatform,
        trigger: Trigger,
        selection: object,
    ) -> None:
        """A failed record the ERP no longer has leaves the ledger once a
        read that would have found it (a scheduled retry, All, Only) went
        through: it is not listed, nor retried, for ever."""
        platform.reject = lambda r: (
            "no" if r.number in {"A-3", "A-4"} else None
        )
        await sync.execute(
            spec(categories=All(), articles=All()), trigger=Trigger.SCHEDULED
        )
        erp.remove(ARTICLES, "A-3")
        erp.clock = lambda: T0 + timedelta(days=1)

        await sync.execute(spec(articles=selection), trigger=trigger)
        failed = [
            f.number for f in await store.list_failures("shop", ARTICLES)
        ]

        assert ["A-4"] == failed

    @pytest.mark.parametrize("trigger", [Trigger.SCHEDULED, Trigger.MANUAL])
    async def test_record_back_in_sync_leaves_the_ledger(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        erp: MemoryErp,
        trigger: Trigger,
    ) -> None:
        """A record that failed with a change and then went back to what
        the platform holds (the change undone in the ERP) is in sync: the
        read that finds it unchanged takes it out of the ledger (it stayed
        listed, and retried by every scheduled run, for ever)."""
        await sync.execute(spec(categories=All(), articles=All()))
        article = erp.get(ARTICLES, "A-3")
        assert isinstance(article, Article)
        erp.put(attrs.evolve(article, name=""))
        await sync.execute(spec(articles=All()))
        failed = [f.number for f in await store.list_failures("shop")]
        erp.put(article)

        run = await sync.execute(spec(articles=All()), trigger=trigger)

        assert ["A-3"] == failed
        assert 0 == run.counts[ARTICLES].failed
        assert [] == await store.list_failures("shop", ARTICLES)

    async def test_ledger_kept_when_the_read_cannot_tell(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        erp: MemoryErp,
        platform: MemoryPlatform,
    ) -> None:
        """A manual ChangedSince or NumberRange read that does not cover a
        failed record keeps it in the ledger."""
        platform.reject = lambda r: "no" if r.number == "A-3" else None
        await sync.execute(spec(categories=All(), articles=All()))
        erp.remove(ARTICLES, "A-3")

        await sync.execute(spec(articles=NumberRange("A-4", "A-5")))
        await sync.execute(spec(articles=ChangedSince(T0 + timedelta(days=1))))

        failed = [
            f.number for f in await store.list_failures("shop", ARTICLES)
        ]
        assert ["A-3"] == failed


class TestOwnStatuses:
    async def test_a_numbers_statuses_are_one_unit(self) -> None:
        """A number's statuses are weighed together even when the ERP cuts
        a batch between them: the platform's own goes on, the one naming
        no platform only where there is none, another platform's never."""
        from ecomsync import OrderState, OrderStatus
        from ecomsync._selection import erp_batches

        shipped, open_ = OrderState.SHIPPED, OrderState.OPEN
        erp = MemoryErp(
            [
                OrderStatus(number="1", state=open_),
                OrderStatus(number="1", state=shipped, platform="woo"),
                OrderStatus(number="2", state=shipped, platform="shop"),
                OrderStatus(number="3", state=open_),
                OrderStatus(number="4", state=shipped, platform="woo"),
            ]
        )
        async with (
            erp.session() as session,
            erp_batches(
                session, DataType.ORDER_STATUS, All(), 1, platform="woo"
            ) as batches,
        ):
            read = [(s.number, s.state) async for b in batches for s in b]

        assert [("1", shipped), ("3", open_), ("4", shipped)] == read
