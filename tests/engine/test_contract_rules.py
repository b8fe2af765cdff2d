"""
DESIGN section 1 read as an outsider reads it: watermarks per platform
and type, what a failed or cancelled scheduled run leaves, the ledger
across dependent types, the licence and the run record when the host's
own code fails, and every event reaching a slow reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from anyio import wait_all_tasks_blocked

from ecomsync import (
    All,
    Article,
    DataType,
    LocalLicensePool,
    MemoryErp,
    MemoryPlatform,
    Outcome,
    Outgoing,
    RecordFailed,
    RecordSkipped,
    RecordSynced,
    RunFinished,
    RunStarted,
    RunStatus,
    SqliteStore,
    StockLevel,
    SyncError,
    Synchronizer,
    SyncSpec,
    Trigger,
    TypeFinished,
    TypeStarted,
)

from ..conftest import T0


pytestmark = pytest.mark.anyio

CATEGORIES, ARTICLES, STOCK = (
    DataType.CATEGORIES,
    DataType.ARTICLES,
    DataType.STOCK,
)
CATALOGUE = SyncSpec(types={CATEGORIES: All(), ARTICLES: All(), STOCK: All()})


class Clock:
    """
    A clock the test moves.
    """

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _sync(
    erp: MemoryErp,
    platforms: dict[str, MemoryPlatform],
    tmp_path: Path,
    **settings: object,
) -> Synchronizer:
    return Synchronizer(
        erp=erp,
        platforms=platforms,
        store=SqliteStore(tmp_path / "state.db"),
        **settings,  # type: ignore[arg-type]
    )


class TestWatermarks:
    async def test_per_platform(self, erp: MemoryErp, tmp_path: Path) -> None:
        """A scheduled run on one platform moves that platform's
        watermarks only, and its failed record is retried on that platform
        by its next scheduled run, though the record did not change."""
        clock = Clock(T0 + timedelta(days=1))
        de = MemoryPlatform(
            reject=lambda r: "no" if r.number == "A-3" else None
        )
        at = MemoryPlatform()
        sync = _sync(erp, {"de": de, "at": at}, tmp_path, clock=clock)
        spec = SyncSpec(
            platform="de", types={CATEGORIES: All(), ARTICLES: All()}
        )

        first = await sync.execute(spec, trigger=Trigger.SCHEDULED)
        de.reject = None
        clock.now += timedelta(days=1)
        second = await sync.execute(spec, trigger=Trigger.SCHEDULED)

        assert 1 == first.counts[ARTICLES].failed
        assert (0, 1) == (
            second.counts[ARTICLES].failed,
            second.counts[ARTICLES].created,
        )
        assert "A-3" in de.held(ARTICLES)
        assert clock.now == await sync.store.get_watermark("de", ARTICLES)
        for data_type in DataType:
            assert await sync.store.get_watermark("at", data_type) is None
        assert [] == await sync.store.list_failures("de", ARTICLES)

    async def test_type_that_failed_keeps_its_own(
        self, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """A scheduled run that fails inside stock moves the watermarks of
        the types it completed before, never stock's."""

        class Outage(MemoryPlatform):
            async def push(
                self, data_type: DataType, items: Sequence[Outgoing]
            ) -> list[Outcome]:
                if data_type is STOCK and self.calls["push"] > 3:
                    raise SyncError("shop went away")
                return await super().push(data_type, items)

        clock = Clock(T0 + timedelta(days=1))
        sync = _sync(
            erp, {"shop": Outage()}, tmp_path, clock=clock, batch_size=2
        )

        with pytest.raises(SyncError, match="shop went away"):
            await sync.execute(CATALOGUE, trigger=Trigger.SCHEDULED)

        store = sync.store
        assert clock.now == await store.get_watermark("shop", CATEGORIES)
        assert clock.now == await store.get_watermark("shop", ARTICLES)
        assert await store.get_watermark("shop", STOCK) is None
        (run,) = await sync.runs()
        assert RunStatus.FAILED == run.status

    async def test_cancelled_type_keeps_its_own(
        self, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """A scheduled run cancelled inside articles keeps the articles'
        watermark where it was; categories, completed, moved."""
        clock = Clock(T0 + timedelta(days=1))
        sync = _sync(
            erp,
            {"shop": MemoryPlatform()},
            tmp_path,
            clock=clock,
            batch_size=1,
        )

        async with sync.run(CATALOGUE, trigger=Trigger.SCHEDULED) as events:
            async for event in events:
                if (
                    isinstance(event, RecordSynced)
                    and event.data_type is ARTICLES
                ):
                    await sync.cancel(event.run_id)

        assert events.summary is not None
        assert RunStatus.CANCELLED == events.summary.status
        store = sync.store
        assert clock.now == await store.get_watermark("shop", CATEGORIES)
        assert await store.get_watermark("shop", ARTICLES) is None
        assert await store.get_watermark("shop", STOCK) is None


class TestLedger:
    async def test_dependent_types_retried_together(
        self, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """An article the shop refused fails its stock too; once the shop
        takes it, the next scheduled run lands both, though neither
        changed, and empties the ledger."""
        refused = {"A-3"}
        platform = MemoryPlatform(
            reject=lambda r: (
                "no"
                if isinstance(r, Article) and r.number in refused
                else None
            )
        )
        clock = Clock(T0 + timedelta(days=1))
        sync = _sync(erp, {"shop": platform}, tmp_path, clock=clock)

        first = await sync.execute(CATALOGUE, trigger=Trigger.SCHEDULED)
        refused.clear()
        clock.now += timedelta(days=1)
        second = await sync.execute(CATALOGUE, trigger=Trigger.SCHEDULED)

        assert {(ARTICLES, "A-3"), (STOCK, "A-3")} == {
            (f.data_type, f.number) for f in first.failures
        }
        assert () == second.failures
        assert 1 == second.counts[STOCK].created
        assert 30 == platform.stock["A-3"][None]
        for data_type in DataType:
            assert [] == await sync.store.list_failures("shop", data_type)


class TestHostFailure:
    async def test_error_in_the_block(self, erp: MemoryErp) -> None:
        """The host's own error inside the block comes out as itself; the
        run ends (cancelled, not running) and its licence is back."""
        pool = LocalLicensePool(1)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": MemoryPlatform()},
            licenses=pool,
            batch_size=1,
        )

        async def host() -> None:
            async with sync.run(CATALOGUE) as events:
                async for event in events:
                    if isinstance(event, RecordSynced):
                        _host_bug()

        with pytest.raises(LookupError, match="host bug"):
            await host()

        (run,) = await sync.runs()
        assert RunStatus.CANCELLED == run.status
        assert run.ended_at is not None
        assert 0 == pool.in_use


def _host_bug() -> None:
    raise LookupError("host bug")


class TestEvents:
    async def test_slow_reader_gets_every_event_in_order(
        self, erp: MemoryErp
    ) -> None:
        """A reader slower than the run still gets every event, in order:
        the run started, each type from start to finish in dependency
        order with one record event per record it counts, the end last."""
        for i in range(7, 300):
            erp.put(StockLevel(number=f"A-{i}", quantity=i))
        sync = Synchronizer(
            erp=erp, platforms={"shop": MemoryPlatform()}, batch_size=7
        )
        seen = []

        async with sync.run(
            SyncSpec(types={STOCK: All(), CATEGORIES: All(), ARTICLES: All()})
        ) as events:
            async for event in events:
                if not seen:
                    # Slower than the run: it fills the buffer and waits.
                    await wait_all_tasks_blocked()
                seen.append(event)

        assert events.summary is not None
        assert isinstance(seen[0], RunStarted)
        assert isinstance(seen[-1], RunFinished)
        assert events.summary == seen[-1].run
        current = None
        records: dict[DataType, int] = {}
        for event in seen[1:-1]:
            if isinstance(event, TypeStarted):
                assert current is None
                current = event.data_type
            elif isinstance(event, TypeFinished):
                assert event.data_type is current
                assert events.summary.counts[current] == event.counts
                current = None
            else:
                assert getattr(event, "data_type", current) is current
                if isinstance(
                    event, RecordSynced | RecordSkipped | RecordFailed
                ):
                    records[current] = records.get(current, 0) + 1
        assert [CATEGORIES, ARTICLES, STOCK] == list(events.summary.counts)
        assert {t: c.done for t, c in events.summary.counts.items()} == records
        assert 299 == records[STOCK]
