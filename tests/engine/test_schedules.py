"""
Schedules: serve() runs due schedules, one run per schedule at a time.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from ecomsync import (
    All,
    DataType,
    LocalLicensePool,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    RunFinished,
    RunStarted,
    RunStatus,
    SpecError,
    SqliteStore,
    StateStoreError,
    Synchronizer,
    Trigger,
)
from ecomsync._schedules import _claim_due, _release_each, _still_due

from ..conftest import T0
from ._support import BrokenErp, spec


pytestmark = pytest.mark.anyio


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

    async def test_runs_on_its_platform_after_another_is_added(
        self, erp: MemoryErp, store: SqliteStore, platform: MemoryPlatform
    ) -> None:
        """A schedule made without naming the (only) platform keeps it:
        once a second platform is added it still runs there (every run
        failed: "the spec names no platform and there are 2")."""
        one = Synchronizer(erp=erp, platforms={"shop": platform}, store=store)
        made = await one.add_schedule(
            spec(categories=All()), every=timedelta(hours=1)
        )
        two = Synchronizer(
            erp=erp,
            platforms={"shop": platform, "other": MemoryPlatform()},
            store=store,
        )
        seen = []

        with anyio.move_on_after(5):
            await two.serve(
                poll_interval=0.05,
                on_event=seen.append,
                until=lambda: any(isinstance(e, RunFinished) for e in seen),
            )

        assert "shop" == made.spec.platform
        (finished,) = [e for e in seen if isinstance(e, RunFinished)]
        assert RunStatus.SUCCEEDED == finished.status
        assert 3 == len(platform.held(DataType.CATEGORIES))

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

    @pytest.mark.parametrize("every", [timedelta(0), timedelta(-1), 300, "1h"])
    async def test_bad_interval(
        self, sync: Synchronizer, store: SqliteStore, every: Any
    ) -> None:
        """A schedule needs a positive interval as a timedelta: seconds
        given as a number failed with a bare TypeError; nothing is kept."""
        with pytest.raises(SpecError, match="positive interval"):
            await sync.add_schedule(spec(stock=All()), every=every)

        assert [] == await store.list_schedules()

    async def test_naive_first_due_refused(
        self, sync: Synchronizer, store: SqliteStore
    ) -> None:
        """A naive first_due is a SpecError, nothing kept: stored, it made
        serve() fail with a TypeError, so no schedule ran at all."""
        with pytest.raises(SpecError, match="timezone-aware"):
            await sync.add_schedule(
                spec(stock=All()),
                every=timedelta(hours=1),
                first_due=T0.replace(tzinfo=None),
            )

        assert [] == await store.list_schedules()

    async def test_failed_run_rearms(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A scheduled run that fails is logged and its schedule re-armed
        for the next interval; serving goes on."""
        sync.erp = BrokenErp()  # type: ignore[assignment]
        await sync.add_schedule(spec(stock=All()), every=timedelta(hours=1))

        def logged() -> bool:
            return any(
                "ERP went away" in r.getMessage() for r in caplog.records
            )

        with anyio.fail_after(5), caplog.at_level(logging.WARNING):
            await sync.serve(poll_interval=0.01, until=logged)

        (run,) = await sync.runs()
        (schedule,) = await store.list_schedules()
        assert schedule.next_due > run.started_at
        assert RunStatus.FAILED == run.status

    async def test_run_stopped_with_serving_stays_due(
        self, sync: Synchronizer, store: SqliteStore, erp: MemoryErp
    ) -> None:
        """A scheduled run cancelled because serving stopped (SIGTERM,
        Ctrl-C, a deploy: the host cancels serve()) leaves its schedule
        due, and the next serve() runs it at once; it was re-armed a whole
        interval ahead (a nightly schedule stopped by a restart skipped a
        night)."""
        erp.latency = 0.05
        sync.batch_size = 1
        await sync.add_schedule(spec(stock=All()), every=timedelta(days=1))
        seen: list[object] = []

        with anyio.fail_after(5), anyio.CancelScope() as stop:

            def on_event(event: object) -> None:
                seen.append(event)
                if isinstance(event, RunStarted):
                    stop.cancel()

            await sync.serve(poll_interval=0.01, on_event=on_event)

        (stopped,) = await sync.runs()
        (schedule,) = await store.list_schedules()
        assert RunStatus.CANCELLED == stopped.status
        assert schedule.next_due <= stopped.started_at
        erp.latency = 0
        seen.clear()
        with anyio.fail_after(5):
            await sync.serve(
                poll_interval=0.01,
                on_event=seen.append,
                until=lambda: any(isinstance(e, RunFinished) for e in seen),
            )
        (finished,) = [e for e in seen if isinstance(e, RunFinished)]
        assert RunStatus.SUCCEEDED == finished.status

    async def test_run_stopped_by_closing_stays_due(
        self,
        sync: Synchronizer,
        store: SqliteStore,
        erp: MemoryErp,
        platform: MemoryPlatform,
    ) -> None:
        """A host that stops serving by closing the synchroniser (its
        `async with` block ends) ends the scheduled run in flight
        cancelled and leaves its schedule due, as a cancelled serve()
        does; it was re-armed a whole interval ahead."""
        erp.latency = 0.05
        await sync.add_schedule(spec(stock=All()), every=timedelta(days=1))
        started = anyio.Event()

        def on_event(event: object) -> None:
            if isinstance(event, RunStarted):
                started.set()

        async with (
            anyio.create_task_group() as tg,
            Synchronizer(
                erp=erp,
                platforms={"shop": platform},
                store=store,
                staging=sync.staging,
                batch_size=1,
            ) as serving,
        ):
            tg.start_soon(
                lambda: serving.serve(poll_interval=0.01, on_event=on_event)
            )
            with anyio.fail_after(5):
                await started.wait()

        (stopped,) = await sync.runs()
        (schedule,) = await store.list_schedules()
        assert RunStatus.CANCELLED == stopped.status
        assert schedule.next_due <= stopped.started_at

    @pytest.mark.parametrize(("due_in", "runs"), [(-1, True), (1, False)])
    async def test_claim_from_a_stale_list(
        self, sync: Synchronizer, store: SqliteStore, due_in: int, runs: bool
    ) -> None:
        """A schedule picked from a list read before its last run ended
        (and re-armed it) is not run again: the store refuses to claim it
        and the check after a claim (for stores that do not refuse) lets
        it go untouched; one still due is claimed and run."""
        now = T0
        schedule = await sync.add_schedule(
            spec(stock=All()),
            every=timedelta(hours=1),
            first_due=now + timedelta(hours=due_in),
        )
        stale = attrs.evolve(schedule, next_due=now - timedelta(hours=2))
        claimed = await store.claim_schedule(
            schedule.id, "me", now + timedelta(hours=1), now=now
        )

        still_due = await _still_due(store, stale, "me", now)

        (after,) = await store.list_schedules()
        assert (runs, runs) == (claimed, still_due)
        assert schedule.next_due == after.next_due
        # Held by "me" if due; not claimable by anyone if not.
        assert not await store.claim_schedule(
            schedule.id, "other", now + timedelta(hours=1), now=now
        )


def _over(
    outage: object, erp: MemoryErp, platform: MemoryPlatform, tmp_path: Path
) -> Synchronizer:
    """
    A synchroniser over a store that fails when told to (`_Outage`).
    """
    return Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=outage,  # type: ignore[arg-type]
        staging=MediaStaging(tmp_path / "staging"),
    )


def _collect(ended: list[RunFinished]) -> Callable[[object], None]:
    """
    An ``on_event`` that keeps the runs' ``RunFinished`` in *ended*.
    """

    def seen(event: object) -> None:
        if isinstance(event, RunFinished):
            ended.append(event)

    return seen


class _Outage:
    """
    *store* with a state store outage: the calls of *failing* (method
    name -> call numbers) raise StateStoreError, as a PostgreSQL restart
    does; every other call goes through.
    """

    def __init__(
        self,
        store: SqliteStore,
        failing: dict[str, set[int]],
        unanswered: dict[str, set[int]] | None = None,
    ):
        self._store, self._failing = store, failing
        # Calls that are carried out, then fail all the same (PostgresStore
        # when its COMMIT's answer is lost: the write may be in).
        self._unanswered = unanswered or {}
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if name not in self._failing and name not in self._unanswered:
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = n = self.calls.get(name, 0) + 1
            if n in self._failing.get(name, ()):
                raise StateStoreError(
                    f"state store: {name}: connection refused"
                )
            result = await target(*args, **kwargs)
            if n in self._unanswered.get(name, ()):
                raise StateStoreError(
                    f"state store: {name}: the write may or may not be "
                    "in the store"
                )
            return result

        return call


class TestStoreOutage:
    @pytest.mark.parametrize(
        "failing",
        [
            {"list_schedules": {2, 3}},
            {"claim_schedule": {2}},
            {"release_schedule": {1, 2}},
            {"list_schedules": {3}, "release_schedule": {2}},
        ],
        ids=["list", "claim", "release", "list+release"],
    )
    async def test_serving_goes_on(
        self,
        erp: MemoryErp,
        platform: MemoryPlatform,
        store: SqliteStore,
        tmp_path: Path,
        failing: dict[str, set[int]],
    ) -> None:
        """The state store failing for a moment while serve() lists,
        claims or releases schedules (a database restart) is logged and
        tried again: the schedule runs on, and no claim is left behind
        (serve() stopped with StateStoreError, and a lost release held
        the schedule for its lease, an hour or its interval)."""
        outage = _Outage(store, failing)
        sync = _over(outage, erp, platform, tmp_path)
        made = await sync.add_schedule(
            spec(categories=All()), every=timedelta(milliseconds=1)
        )
        ended: list[RunFinished] = []
        seen = _collect(ended)

        with anyio.fail_after(10):
            await sync.serve(
                poll_interval=0.01,
                on_event=seen,
                until=lambda: len(ended) >= 3,
            )

        assert all(
            n <= outage.calls[name] for name in failing for n in failing[name]
        )
        assert [RunStatus.SUCCEEDED] * 3 == [e.status for e in ended[:3]]
        (schedule,) = await store.list_schedules()
        # Nobody holds it: whoever serves next may claim it when due.
        assert await store.claim_schedule(
            made.id,
            "next",
            schedule.next_due + timedelta(hours=2),
            now=schedule.next_due,
        )

    async def test_claim_made_but_unanswered_runs_at_the_next_poll(
        self,
        erp: MemoryErp,
        platform: MemoryPlatform,
        store: SqliteStore,
        tmp_path: Path,
    ) -> None:
        """A claim the store made but could not confirm (its COMMIT's
        answer lost) is let go and the schedule claimed again at the next
        poll, so it runs (it stayed held by serve()'s own claim, refused
        to serve() itself, until the claim's lease ended: an hour)."""
        outage = _Outage(store, {}, unanswered={"claim_schedule": {1}})
        sync = _over(outage, erp, platform, tmp_path)
        made = await sync.add_schedule(
            spec(categories=All()), every=timedelta(hours=1)
        )
        ended: list[RunFinished] = []
        seen = _collect(ended)

        with anyio.move_on_after(5):
            await sync.serve(
                poll_interval=0.01, on_event=seen, until=lambda: bool(ended)
            )

        assert [RunStatus.SUCCEEDED] == [e.status for e in ended]
        (schedule,) = await store.list_schedules()
        assert made.next_due < schedule.next_due
        assert await store.claim_schedule(
            made.id,
            "next",
            schedule.next_due + timedelta(hours=2),
            now=schedule.next_due,
        )

    async def test_unanswered_claim_never_frees_a_run_in_flight(
        self, sync: Synchronizer, store: SqliteStore
    ) -> None:
        """A claim refused (the schedule's run is in flight) whose answer
        is lost is let go by its own token: the claim of the run in flight,
        made by the same server, stays (with one holder per server, letting
        go of the unknown claim freed the running one for anybody)."""
        made = await sync.add_schedule(
            spec(stock=All()), every=timedelta(hours=1), first_due=T0
        )
        until = T0 + timedelta(hours=1)
        tokens = iter(["server:1", "server:2"])
        (running,) = await _claim_due(store, T0, tokens, {})
        outage = _Outage(store, {}, unanswered={"claim_schedule": {1}})
        unreleased: dict[str, tuple[str, datetime]] = {}

        with pytest.raises(StateStoreError):
            await _claim_due(outage, T0, tokens, unreleased)  # type: ignore[arg-type]
        await _release_each(store, unreleased)

        assert (made.id, "server:1") == (running[0].id, running[1])
        assert {} == unreleased
        assert not await store.claim_schedule(made.id, "other", until, now=T0)
