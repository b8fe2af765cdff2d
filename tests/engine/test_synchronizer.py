"""
The Synchronizer's face: validating specs, resume, reprs.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from ecomsync import (
    All,
    ChangedSince,
    ConfigurationError,
    DataType,
    LocalLicensePool,
    MemoryErp,
    MemoryPlatform,
    Only,
    RunRecord,
    RunStarted,
    RunStatus,
    SpecError,
    SqliteStore,
    StateStoreError,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync._ownership import Host, reap_abandoned, this_owner

from ..conftest import T0
from ._support import ARTICLES, spec


pytestmark = pytest.mark.anyio


class TestValidate:
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


class TestSettings:
    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("batch_size", 0),
            ("batch_size", -1),
            ("batch_size", 1.5),
            ("order_page_size", 0),
            ("write_concurrency", 0),
            ("media_concurrency", 0),
            ("license_timeout", -1),
            ("license_timeout", float("nan")),
            ("progress_interval", -0.5),
            ("progress_interval", float("inf")),
            ("overlap", timedelta(minutes=-5)),
            ("overlap", 300),
        ],
    )
    def test_out_of_range_refused(
        self, erp: MemoryErp, setting: str, value: Any
    ) -> None:
        """A setting out of its range is a ConfigurationError naming it
        when the synchroniser is made (batch_size=-1 ran and synced
        nothing, write_concurrency=0 hung, a negative overlap read past
        the watermark)."""
        with pytest.raises(ConfigurationError, match=setting):
            Synchronizer(
                erp=erp,
                platforms={"shop": MemoryPlatform()},
                **{setting: value},
            )

    async def test_naive_clock_refused(self, erp: MemoryErp) -> None:
        """A clock giving naive datetimes is refused before a run starts:
        it stored a naive watermark that failed every later scheduled run
        with a SpecError."""
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": MemoryPlatform()},
            clock=lambda: T0.replace(tzinfo=None),
        )

        for trigger in (Trigger.SCHEDULED, Trigger.SCHEDULED):
            with pytest.raises(ConfigurationError, match="timezone-aware"):
                await sync.execute(spec(categories=All()), trigger=trigger)
        with pytest.raises(ConfigurationError, match="timezone-aware"):
            await sync.add_schedule(
                spec(categories=All()), every=timedelta(hours=1)
            )

        assert [] == await sync.runs()
        assert [] == await sync.store.list_schedules()

    async def test_no_wait_for_a_free_licence(self, erp: MemoryErp) -> None:
        """license_timeout=0 runs at once when a licence is free."""
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": MemoryPlatform()},
            license_timeout=0,
            overlap=timedelta(0),
        )

        run = await sync.execute(spec(categories=All()))

        assert RunStatus.SUCCEEDED == run.status


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

    async def test_resume_a_run_whose_process_lives(
        self, sync: Synchronizer
    ) -> None:
        """A run still running in a live process (here this one) is not
        resumed: a second process would write its records beside it."""
        alive = RunRecord(
            id="alive-1",
            trigger=Trigger.MANUAL,
            platform="shop",
            spec=spec(stock=All()),
            status=RunStatus.RUNNING,
            started_at=T0,
            owner=this_owner(),
        )
        await sync.store.save_run(alive)

        with pytest.raises(SpecError) as caught:
            async with sync.resume("alive-1"):
                pass

        assert str(caught.value) == (
            f"run 'alive-1' is still running in {this_owner()}; nothing "
            "to resume while that process lives"
        )

    async def test_resume_a_dead_run(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """A run left running by a dead process is resumed under its id,
        with its recorded spec (as it resolved it: from the watermark it
        found), trigger and start, and ends succeeded."""
        await sync.execute(spec(categories=All(), articles=All()))
        # Moved on since the dead run resolved its spec: it reads from
        # where it would have.
        await sync.store.set_watermark(
            "shop", DataType.STOCK, T0 - timedelta(hours=1)
        )
        recorded = spec(stock=ChangedSince(T0 - timedelta(hours=2)))
        dead = RunRecord(
            id="dead-1",
            trigger=Trigger.SCHEDULED,
            platform="shop",
            spec=recorded,
            status=RunStatus.RUNNING,
            started_at=T0,
        )
        await sync.store.save_run(dead)

        async with sync.resume("dead-1") as events:
            seen = [e async for e in events]

        assert isinstance(seen[0], RunStarted)
        final = events.summary
        assert final is not None
        assert ("dead-1", RunStatus.SUCCEEDED, T0) == (
            final.id,
            final.status,
            final.started_at,
        )
        assert recorded == final.spec
        assert "shop" == final.platform
        assert 6 == len(platform.held(DataType.STOCK))
        assert T0 == await sync.store.get_watermark("shop", DataType.STOCK)

    @pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.ABANDONED])
    async def test_scheduled_run_that_died_queued_reads_its_watermark(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: MemoryPlatform,
        status: RunStatus,
    ) -> None:
        """A scheduled run whose process died while it waited for a
        licence never resolved its spec: resumed, it reads what changed
        since the watermark, as every scheduled run does.  It read the
        schedule's own selection (here one article) and then moved the
        watermark over a change it never read, which no scheduled run
        sent afterwards."""
        await sync.execute(spec(categories=All(), articles=All()))
        first = await sync.execute(
            spec(stock=All()), trigger=Trigger.SCHEDULED
        )
        mark = first.started_at
        erp.put(
            StockLevel(number="A-3", quantity=99),
            changed_at=mark + timedelta(minutes=10),
        )
        await sync.store.save_run(
            RunRecord(
                id="queued-1",
                trigger=Trigger.SCHEDULED,
                platform="shop",
                spec=spec(stock=Only({"A-1"})),
                status=status,
                started_at=mark + timedelta(minutes=20),
            )
        )

        async with sync.resume("queued-1") as events:
            async for _ in events:
                pass
        again = await sync.execute(
            spec(stock=All()), trigger=Trigger.SCHEDULED
        )

        assert events.summary is not None
        assert RunStatus.SUCCEEDED == events.summary.status
        assert RunStatus.SUCCEEDED == again.status
        held = platform.held(DataType.STOCK)["A-3"]
        assert isinstance(held, StockLevel)
        assert 99 == held.quantity

    async def test_resumed_run_is_not_stale_before_its_first_beat(
        self, erp: MemoryErp, platform: MemoryPlatform, tmp_path: Path
    ) -> None:
        """A resumed run is saved with a fresh heartbeat: saved with the
        dead run's old one (its start a month ago), another host's
        reaper looking before the first beat ended it as abandoned, and
        the resume stopped cancelled, its work undone."""
        reaped: list[RunRecord] = []
        elsewhere = Host(name="another-host")

        class Reaped(SqliteStore):
            async def save_run(self, run: RunRecord) -> None:
                await super().save_run(run)
                if run.status is RunStatus.QUEUED:
                    reaped.extend(await reap_abandoned(self, host=elsewhere))

        store = Reaped(tmp_path / "reaped.db")
        sync = Synchronizer(erp=erp, platforms={"shop": platform}, store=store)
        await sync.execute(spec(categories=All(), articles=All()))
        await store.save_run(
            RunRecord(
                id="dead-3",
                trigger=Trigger.MANUAL,
                platform="shop",
                spec=spec(stock=All()),
                status=RunStatus.ABANDONED,
                started_at=T0,
            )
        )

        async with sync.resume("dead-3") as events:
            async for _ in events:
                pass
        await store.aclose()

        assert [] == reaped
        assert events.summary is not None
        assert RunStatus.SUCCEEDED == events.summary.status
        assert 6 == len(platform.held(DataType.STOCK))

    async def test_cancel_asked_before_it_died_does_not_stop_resume(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """A run asked to stop whose process died before it saw the
        request (killed, or it was dead already) is resumed to its end
        when asked: the old request stopped the resumed run at once,
        ended cancelled with nothing done and never resumable again."""
        await sync.execute(spec(categories=All(), articles=All()))
        await sync.store.save_run(
            RunRecord(
                id="dead-4",
                trigger=Trigger.MANUAL,
                platform="shop",
                spec=spec(stock=All()),
                status=RunStatus.ABANDONED,
                started_at=T0,
            )
        )
        await sync.cancel("dead-4")

        async with sync.resume("dead-4") as events:
            async for _ in events:
                pass

        assert events.summary is not None
        assert RunStatus.SUCCEEDED == events.summary.status
        assert 6 == len(platform.held(DataType.STOCK))

    async def test_resumed_on_its_platform_after_another_is_added(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """A dead run whose spec named no platform is resumed on the one
        it ran on, though the synchroniser has more platforms now."""
        await sync.execute(spec(categories=All(), articles=All()))
        await sync.store.save_run(
            RunRecord(
                id="dead-2",
                trigger=Trigger.MANUAL,
                platform="shop",
                spec=spec(stock=All()),
                status=RunStatus.ABANDONED,
                started_at=T0,
            )
        )
        two = Synchronizer(
            erp=sync.erp,
            platforms={"shop": platform, "other": MemoryPlatform()},
            store=sync.store,
        )

        async with two.resume("dead-2") as events:
            async for _ in events:
                pass

        assert events.summary is not None
        assert RunStatus.SUCCEEDED == events.summary.status
        assert ("shop", spec(stock=All())) == (
            events.summary.platform,
            events.summary.spec,
        )
        assert 6 == len(platform.held(DataType.STOCK))

    async def test_a_dead_preview_is_not_resumed(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """A plan whose process died is not resumed: as a run it would
        write what it only previewed (it did, recorded as a preview)."""
        dead = RunRecord(
            id="plan-1",
            trigger=Trigger.PREVIEW,
            platform="shop",
            spec=spec(categories=All()),
            status=RunStatus.ABANDONED,
            started_at=T0,
        )
        await sync.store.save_run(dead)

        with pytest.raises(SpecError, match="is a preview"):
            async with sync.resume("plan-1"):
                pass  # pragma: no cover

        assert {} == platform.snapshot()

    @pytest.mark.parametrize("trigger", [Trigger.PREVIEW, "scheduled"])
    async def test_run_trigger(
        self, sync: Synchronizer, platform: MemoryPlatform, trigger: object
    ) -> None:
        """A run is MANUAL or SCHEDULED: a PREVIEW run wrote to the shop
        while recorded as a preview, a text failed inside the run."""
        with pytest.raises(SpecError, match=r"MANUAL or Trigger\.SCHEDULED"):
            await sync.execute(spec(categories=All()), trigger=trigger)  # type: ignore[arg-type]

        assert {} == platform.snapshot()
        assert [] == await sync.runs()


class TestRepr:
    async def test_reprs(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Reprs are short and say what the object is."""
        assert repr(sync).startswith("<Synchronizer erp=<MemoryErp")
        assert "platforms=['shop']" in repr(sync)
        assert repr(platform).startswith("<MemoryPlatform")
        assert "<LocalLicensePool 0/1 in use>" == repr(sync.licenses)


class TestQueued:
    async def test_store_away_while_waiting_for_a_licence(
        self, erp: MemoryErp, platform: MemoryPlatform, tmp_path: Path
    ) -> None:
        """A run waiting for a licence whose look for a cancel request
        fails (the store away for a moment: a PostgreSQL restart) waits
        on and runs once the licence is free: it failed at once with the
        store's error, though it needed the store for nothing then."""
        away = anyio.Event()
        back = anyio.Event()

        class Flaky(SqliteStore):
            async def cancel_requested(self, run_id: str) -> bool:
                if not back.is_set():
                    away.set()
                    raise StateStoreError("the state store restarts")
                return await super().cancel_requested(run_id)

        store = Flaky(tmp_path / "flaky.db")
        pool = LocalLicensePool(1)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            licenses=pool,
            license_timeout=10,
        )
        ended: list[RunRecord] = []

        async def run() -> None:
            ended.append(await sync.execute(spec(categories=All())))

        with anyio.fail_after(10):
            async with (
                anyio.create_task_group() as tg,
                pool.lease("other", timeout=1),
            ):
                tg.start_soon(run)
                await away.wait()
                await anyio.sleep(0.5)  # asked again meanwhile
                back.set()
        await store.aclose()

        (final,) = ended
        assert RunStatus.SUCCEEDED == final.status
        assert 3 == len(platform.held(DataType.CATEGORIES))
