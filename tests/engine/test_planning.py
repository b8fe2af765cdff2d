"""
Preview: a plan lists what the run would do, is recorded as a PREVIEW,
writes nothing to the platform, moves no watermark, stages nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    DependencySynced,
    MediaRef,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    Only,
    Outcome,
    Outgoing,
    Plan,
    RunCancelled,
    RunStatus,
    Selection,
    SpecError,
    SqliteStore,
    StagedMedia,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync._contracts import MediaLink
from ecomsync.testing import CapturedRun, capture_events

from .._plans import assert_run_matches_plan
from .._shop_orders import orders_for
from ..conftest import T0


pytestmark = pytest.mark.anyio


EVERYTHING = SyncSpec(types={t: All() for t in DataType})

WRITES = ("push", "upload_media", "attach_media")


class NoWritePlatform(MemoryPlatform):
    """
    Fails the test on any write.
    """

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        raise AssertionError("a plan wrote to the platform")

    async def upload_media(self, media: StagedMedia) -> str:
        raise AssertionError("a plan uploaded")

    async def attach_media(
        self, data_type: DataType, target: Outcome, media: Sequence[MediaLink]
    ) -> None:
        raise AssertionError("a plan attached media")


async def prepare(
    sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
) -> None:
    """
    A shop that has part of the catalogue, and an ERP that changed since.
    """
    for order in orders_for(3, articles=6):
        platform.place_order(order, changed_at=T0)
    await sync.execute(SyncSpec(types={DataType.CATEGORIES: All()}))
    await sync.execute(
        SyncSpec(types={DataType.ARTICLES: All(), DataType.STOCK: All()})
    )
    erp.put(StockLevel(number="A-2", quantity=1))
    erp.put(
        Article(
            number="A-7",
            name="Neu",
            price=5,
            categories=("C-20",),
            media=(
                MediaRef(
                    key="img-1", filename="same.jpg", mime_type="image/jpeg"
                ),
                MediaRef(
                    key="img-7", filename="new.jpg", mime_type="image/jpeg"
                ),
            ),
        )
    )
    erp.media["img-7"] = b"a new picture"
    # Reachable only as a dependency of A-7: the spec has no categories.
    erp.put(Category(number="C-20", name="Neu", parent="C-10"))
    erp.put(Article(number="A-8", name="Kaputt", price=-1))


async def _plan_then_run(
    sync: Synchronizer, platform: MemoryPlatform, spec: SyncSpec
) -> tuple[Plan, CapturedRun, int]:
    """
    Plan *spec*, then run it: the plan, the run, and the writes
    (`WRITES`) *platform* got during the run.
    """
    plan = await sync.plan(spec)
    before = {k: platform.calls[k] for k in WRITES}
    async with capture_events(sync, spec) as run:
        pass
    return plan, run, sum(platform.calls[k] - before[k] for k in WRITES)


class TestPlanEqualsRun:
    async def test_memory_platform(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """A run right after a plan creates, updates, skips and refuses
        exactly what the plan listed, within its request estimate."""
        await prepare(sync, erp, platform)
        spec = SyncSpec(
            types={
                DataType.ARTICLES: All(),
                DataType.STOCK: All(),
                DataType.ADDRESSES_AND_ORDERS: All(),
            }
        )

        plan, run, sent = await _plan_then_run(sync, platform, spec)

        assert_run_matches_plan(plan, run)
        articles = plan.types[DataType.ARTICLES]
        assert ("A-7",) == articles.create
        assert ("C-20",) == articles.dependencies
        assert ["C-20"] == [e.number for e in run.of(DependencySynced)]
        assert (1, 1) == (articles.media_upload, articles.media_reused)
        assert len(b"a new picture") == articles.staging_bytes
        assert ((), ("A-2",)) == (
            plan.types[DataType.STOCK].create,
            plan.types[DataType.STOCK].update,
        )
        assert 3 == len(plan.types[DataType.ADDRESSES_AND_ORDERS].create)
        assert sent <= plan.requests
        assert "articles" in plan.table()

    async def test_scheduled_plan_lists_the_ledger_retries(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """A plan of a scheduled run lists the failed records the run will
        retry from the ledger, though they did not change (it listed
        nothing, and the run then created A-3)."""
        spec = SyncSpec(
            types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()}
        )
        platform.reject = lambda r: "no" if r.number == "A-3" else None
        await sync.execute(spec, trigger=Trigger.SCHEDULED)
        platform.reject = None

        plan = await sync.plan(spec, trigger=Trigger.SCHEDULED)
        async with capture_events(
            sync, spec, trigger=Trigger.SCHEDULED
        ) as run:
            pass

        assert ("A-3",) == plan.types[DataType.ARTICLES].create
        assert_run_matches_plan(plan, run)

    @pytest.mark.parametrize(
        ("selection", "writes"),
        [(All(), 8), (Only({"A-1", "A-3", "A-5"}), 6)],
        ids=repr,
    )
    async def test_changes_spread_over_read_batches(
        self,
        erp: MemoryErp,
        platform: MemoryPlatform,
        store: SqliteStore,
        tmp_path: Path,
        selection: Selection,
        writes: int,
    ) -> None:
        """Changes spread over the read batches are pushed per read batch
        (a write each, with the categories each pulls in), and the plan
        counts every one of those writes."""
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            staging=MediaStaging(tmp_path / "staging"),
            batch_size=2,
        )
        spec = SyncSpec(types={DataType.ARTICLES: selection})
        await sync.execute(spec)
        for number, category in (("A-1", "C-31"), ("A-3", "C-32")):
            erp.put(Category(number=category, name=category))
            erp.put(
                Article(
                    number=number, name="neu", price=9, categories=(category,)
                )
            )
        erp.put(Article(number="A-5", name="neu", price=9))

        plan, run, sent = await _plan_then_run(sync, platform, spec)

        assert_run_matches_plan(plan, run)
        # per article a push and its old media taken off, and the
        # categories: in three read batches (All) or in two (Only)
        assert writes == sent
        assert sent <= plan.requests

    async def test_table_names(self, sync: Synchronizer) -> None:
        """The table names types and outcomes as run summaries do and
        explains every column below the rows."""
        plan = await sync.plan(
            SyncSpec(
                types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()}
            )
        )

        head, _, *rows = plan.table().splitlines()
        assert [
            "type",
            "create",
            "update",
            "unchanged",
            "invalid",
            "dependencies",
            "upload",
            "reuse",
            "MB",
            "requests",
        ] == head.split()
        assert ["categories", "articles"] == [r.split()[0] for r in rows[:2]]
        legend = "\n".join(rows[2:])
        for column in head.split()[1:]:
            assert column in legend


class TestPlanWritesNothing:
    async def test_no_write(
        self, erp: MemoryErp, store: SqliteStore, tmp_path: object
    ) -> None:
        """A plan never writes to the platform, even for a first sync."""
        sync = Synchronizer(
            erp=erp, platforms={"shop": NoWritePlatform()}, store=store
        )

        plan = await sync.plan(
            SyncSpec(
                types={
                    t: All()
                    for t in DataType
                    if t is not DataType.ORDER_STATUS
                }
            )
        )

        assert 6 == len(plan.types[DataType.ARTICLES].create)
        assert 6 == plan.types[DataType.ARTICLES].media_upload

    async def test_recorded_as_preview(
        self, sync: Synchronizer, store: SqliteStore
    ) -> None:
        """A plan is in the monitoring view as a PREVIEW and moves no
        watermark, even when planning a scheduled run; nothing is staged."""
        plan = await sync.plan(EVERYTHING, trigger=Trigger.SCHEDULED)

        (run,) = await sync.runs()
        assert (plan.run_id, Trigger.PREVIEW, RunStatus.SUCCEEDED) == (
            run.id,
            run.trigger,
            run.status,
        )
        assert 6 == run.counts[DataType.ARTICLES].created
        for data_type in DataType:
            assert await store.get_watermark("shop", data_type) is None
        assert [] == await store.list_pending()
        assert not sync.staging.directory.exists() or not list(
            sync.staging.directory.iterdir()
        )
        assert 0 == sync.licenses.in_use  # type: ignore[attr-defined]

    async def test_cancelled_plan_raises(
        self, sync: Synchronizer, erp: MemoryErp
    ) -> None:
        """A plan cancelled from the monitoring view stops at the next
        batch, is recorded cancelled and raises RunCancelled instead of
        returning half a plan (it ran on and answered "succeeded")."""
        gate = _Gated(erp)
        sync.erp = gate
        sync.batch_size = 2
        raised: list[BaseException] = []

        async def plan() -> None:
            try:
                await sync.plan(SyncSpec(types={DataType.ARTICLES: All()}))
            except RunCancelled as exc:
                raised.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(plan)
            await gate.reading.wait()
            (run,) = await sync.runs()
            await sync.cancel(run.id)
            gate.go.set()

        assert 1 == len(raised)
        (run,) = await sync.runs()
        assert RunStatus.CANCELLED == run.status
        assert 0 == sync.licenses.in_use  # type: ignore[attr-defined]

    async def test_trigger_given_as_text_refused(
        self, sync: Synchronizer
    ) -> None:
        """A plan's trigger given as text is a SpecError before anything
        runs or is recorded."""
        with pytest.raises(SpecError, match="a plan's trigger is a Trigger"):
            await sync.plan(
                SyncSpec(types={DataType.ARTICLES: All()}),
                trigger="scheduled",  # type: ignore[arg-type]
            )

        assert [] == await sync.runs()

    async def test_failed_plan_recorded(
        self, sync: Synchronizer, erp: MemoryErp
    ) -> None:
        """A plan that fails is recorded as failed and raises."""

        class Broken(dict[str, bytes]):
            def __getitem__(self, key: str) -> bytes:
                raise RuntimeError(f"the ERP crashed reading {key}")

        erp.media = Broken(erp.media)

        with pytest.raises(Exception, match="img-1"):
            await sync.plan(SyncSpec(types={DataType.ARTICLES: All()}))

        (run,) = await sync.runs()
        assert RunStatus.FAILED == run.status

    async def test_missing_file_planned_as_failing(
        self, sync: Synchronizer, erp: MemoryErp
    ) -> None:
        """A file the ERP does not have fails its record in the plan on its
        field, as in the run, instead of failing the whole plan."""
        del erp.media["img-1"]

        plan = await sync.plan(SyncSpec(types={DataType.ARTICLES: All()}))

        (refusal,) = plan.types[DataType.ARTICLES].invalid
        assert ("A-1", "media.0") == (refusal.number, refusal.field)
        assert "img-1" in refusal.reason


class _Gated:
    """
    An ERP whose reads stop before their second batch until *go*.
    """

    def __init__(self, erp: MemoryErp) -> None:
        self.erp = erp
        self.reading = anyio.Event()
        self.go = anyio.Event()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        async with self.erp.session() as inner:
            yield _GatedSession(inner, self)


class _GatedSession:
    def __init__(self, inner: Any, gate: _Gated) -> None:
        self.inner = inner
        self.gate = gate

    async def read(
        self, data_type: DataType, selection: Any, *, batch_size: int
    ) -> AsyncIterator[Any]:
        batches = self.inner.read(data_type, selection, batch_size=batch_size)
        try:
            first = True
            async for batch in batches:
                if not first:
                    self.gate.reading.set()
                    await self.gate.go.wait()
                first = False
                yield batch
        finally:
            await batches.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
