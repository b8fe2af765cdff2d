"""
Run ownership on its own: telling a dead owner from a live one, ending
the runs of dead owners, and the heartbeat of a live run.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import anyio
import attrs
import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    MemoryErp,
    MemoryPlatform,
    RunEvents,
    RunOwner,
    RunRecord,
    RunStatus,
    SpecError,
    SqliteStore,
    StateStoreError,
    Synchronizer,
    SyncSpec,
    _lifecycle,
    _ownership,
)
from ecomsync._ownership import (
    Host,
    keep_alive,
    pid_alive,
    process_start,
    reap_abandoned,
    this_owner,
    why_dead,
)
from ecomsync.licensing import FileLicensePool, LocalLicensePool
from ecomsync.testing._store_contract import a_run, a_schedule


pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HERE = Host(
    name="here",
    pid_space="pid:[1]",
    alive=lambda pid: pid in (1, 2),
    started={1: 100.0, 2: 500.0}.get,
)


def owned(
    pid: int, host: str = "here", started: float | None = 100.0
) -> RunRecord:
    return a_run(
        f"run-{host}-{pid}",
        owner=RunOwner(host=host, pid=pid, started=started),
        heartbeat_at=T0,
    )


@pytest.fixture(name="store")
async def _store() -> AsyncIterator[SqliteStore]:
    store = SqliteStore(":memory:")
    yield store
    await store.aclose()


class TestWhyDead:
    def test_no_owner(self) -> None:
        """A run without an owner (a partitioned parent, an old record) is
        never taken for dead."""
        run = a_run(started_at=T0 - timedelta(days=9))

        assert why_dead(run, now=T0, host=HERE) is None

    def test_pid_gone(self) -> None:
        """On this host, an owner whose pid is gone is dead at once."""
        reason = why_dead(owned(7), now=T0, host=HERE)

        assert "its process (pid 7 on here) is gone" == reason

    def test_pid_reused(self) -> None:
        """On this host, a pid that now belongs to a process started at
        another time is not the owner."""
        reason = why_dead(owned(2), now=T0, host=HERE)

        assert reason is not None
        assert "belongs to another process" in reason

    def test_alive_here(self) -> None:
        """On this host, a live owner is alive whatever its heartbeat."""
        late = T0 + timedelta(days=1)

        assert why_dead(owned(1), now=late, host=HERE) is None
        assert why_dead(owned(2, started=None), now=late, host=HERE) is None

    def test_other_host_by_heartbeat(self) -> None:
        """On another host, only the heartbeat tells: older than the bound
        is dead, newer is alive."""
        run = owned(1, host="there")
        bound = timedelta(minutes=5)

        fresh = why_dead(run, now=T0 + bound, stale_after=bound, host=HERE)
        stale = why_dead(run, now=T0 + bound * 2, stale_after=bound, host=HERE)

        assert fresh is None
        assert stale is not None
        assert "has not beaten since 2026-11-01T12:00:00+00:00" in stale

    def test_other_pid_space_by_heartbeat(self) -> None:
        """An owner with this host's name in another pid namespace (a
        container) is judged by its heartbeat, not by a pid that means
        nothing here."""
        run = attrs.evolve(
            owned(7),
            owner=RunOwner(host="here", pid=7, pid_space="pid:[2]"),
        )

        fresh = why_dead(run, now=T0, host=HERE)
        stale = why_dead(run, now=T0 + timedelta(hours=1), host=HERE)

        assert fresh is None
        assert stale is not None
        assert "has not beaten" in stale

    def test_other_host_never_beat(self) -> None:
        """A run that never beat counts from its start."""
        run = attrs.evolve(owned(1, host="there"), heartbeat_at=None)

        reason = why_dead(run, now=T0 + timedelta(hours=1), host=HERE)

        assert reason is not None

    def test_host_restarted(self) -> None:
        """On this host, an owner of before the host restarted is dead
        even if a process of the same pid started as long after boot (a
        service started at boot gets the same pid and start tick)."""
        here = attrs.evolve(HERE, boot="boot-2")
        run = attrs.evolve(
            owned(1),
            owner=RunOwner(host="here", pid=1, started=100.0, boot="boot-1"),
        )

        reason = why_dead(run, now=T0, host=here)
        same_boot = why_dead(
            attrs.evolve(run, owner=attrs.evolve(run.owner, boot="boot-2")),
            now=T0,
            host=here,
        )

        assert "its host restarted since" in (reason or "")
        assert same_boot is None


def _btime() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise AssertionError("no btime in /proc/stat")  # pragma: no cover


class TestClockStep:
    async def test_live_owner_survives_a_clock_step(
        self, store: SqliteStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A live run of a process on this host is not ended after the
        wall clock stepped (NTP's first sync, a VM resumed): the boot time
        of /proc/stat moves with the clock, a sibling process that read
        it after the step took the owner's start for a reused pid's and
        ended the live run as abandoned."""
        run = a_run("live", owner=this_owner(), heartbeat_at=T0)
        await store.save_run(run)
        stepped = _btime() + 60.0  # /proc/stat after a 60 s step
        monkeypatch.setattr(
            _ownership, "_boot_time", lambda: stepped, raising=False
        )

        reason = why_dead(run, now=T0)
        ended = await reap_abandoned(store, now=T0)

        assert reason is None
        assert [] == ended
        assert [run] == await store.live_runs()


class TestProcesses:
    def test_this_process(self) -> None:
        """This process is alive and started before now."""
        owner = this_owner()

        assert os.getpid() == owner.pid
        assert pid_alive(owner.pid)
        assert owner.started is not None
        assert owner.started <= time.time() + 1
        assert owner.started == process_start(owner.pid)
        assert owner.pid_space is not None
        assert owner.pid_space.startswith("pid:[")

    def test_dead_and_zombie(self) -> None:
        """A process that ended is dead, reaped or not (a zombie)."""
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        deadline = time.monotonic() + 30
        while process_start(child.pid) is not None:
            assert time.monotonic() < deadline
            time.sleep(0.01)

        zombie = pid_alive(child.pid)
        child.wait()

        assert (False, False) == (zombie, pid_alive(child.pid))


class TestReap:
    async def test_ends_dead_keeps_live(self, store: SqliteStore) -> None:
        """Runs of dead owners end as abandoned with the reason; live ones,
        kept ones and ownerless ones stay."""
        dead, live, kept = owned(7), owned(1), owned(8)
        for run in (dead, live, kept, a_run("parent")):
            await store.save_run(run)

        ended = await reap_abandoned(store, now=T0, keep={kept.id}, host=HERE)

        record = await store.get_run(dead.id)
        assert [record] == ended
        assert record is not None
        assert RunStatus.ABANDONED == record.status
        assert "abandoned: its process (pid 7 on here) is gone" == record.error
        assert T0 == record.ended_at
        assert {live.id, kept.id, "parent"} == {
            r.id for r in await store.live_runs()
        }

    async def test_frees_the_schedule_it_held(
        self, store: SqliteStore
    ) -> None:
        """The schedule a dead run's process claimed is free again, and as
        due as it was; a claim of another process stays."""
        due = T0 - timedelta(minutes=1)
        until = T0 + timedelta(hours=1)
        for sid in ("s-1", "s-2"):
            await store.save_schedule(a_schedule(sid, next_due=due))
        assert await store.claim_schedule("s-1", "here:7:ab12", until, now=T0)
        assert await store.claim_schedule("s-2", "here:1:cd34", until, now=T0)
        await store.save_run(attrs.evolve(owned(7), schedule_id="s-1"))
        await store.save_run(attrs.evolve(owned(1), schedule_id="s-2"))

        await reap_abandoned(store, now=T0, host=HERE)

        free = await store.claim_schedule("s-1", "next", until, now=T0)
        held = await store.claim_schedule("s-2", "next", until, now=T0)
        assert (True, False) == (free, held)
        assert [due, due] == [s.next_due for s in await store.list_schedules()]

    @pytest.mark.parametrize("made", [True, False])
    async def test_frees_the_schedule_when_the_end_goes_unanswered(
        self, store: SqliteStore, made: bool
    ) -> None:
        """A dead run's end that the store could not confirm (its COMMIT's
        answer lost) is read back: made, the schedule its process held is
        freed (the run was no longer live to the next reap, so the claim
        stayed for its hour); not made, the error stands, the claim too."""
        until = T0 + timedelta(hours=1)
        await store.save_schedule(a_schedule("s-1", next_due=T0))
        assert await store.claim_schedule("s-1", "here:7:ab12", until, now=T0)
        dead = attrs.evolve(owned(7), schedule_id="s-1")
        await store.save_run(dead)

        class Unanswered:
            def __getattr__(self, name: str) -> object:
                return getattr(store, name)

            async def abandon_run(self, *args: object, **kw: object) -> bool:
                if made:
                    await store.abandon_run(*args, **kw)  # type: ignore[arg-type]
                raise StateStoreError("the write may or may not be in")

        with pytest.raises(StateStoreError) if not made else nullcontext():
            ended = await reap_abandoned(Unanswered(), now=T0, host=HERE)  # type: ignore[arg-type]
            assert [dead.id] == [r.id for r in ended]

        freed = await store.claim_schedule("s-1", "next", until, now=T0)
        assert made == freed

    async def test_store_without_owners(self) -> None:
        """A store that keeps no owners has no runs to end."""

        class Bare:
            pass

        assert [] == await reap_abandoned(Bare(), now=T0)  # type: ignore[arg-type]


class TestKeepAlive:
    async def test_beats_at_once_and_on(self, store: SqliteStore) -> None:
        """A live run beats when its block starts, and again every
        interval."""
        await store.save_run(a_run())
        ticks = iter(T0 + timedelta(seconds=s) for s in range(100))
        seen: list[datetime | None] = []

        async with keep_alive(
            store,
            "run-1",
            clock=lambda: next(ticks),
            on_lost=pytest.fail,
            interval=0.01,
        ):
            for _ in range(2):
                await anyio.sleep(0.05)
                run = await store.get_run("run-1")
                assert run is not None
                seen.append(run.heartbeat_at)

        assert seen[0] is not None
        assert seen[1] is not None
        assert seen[0] < seen[1]

    async def test_lost_when_ended_elsewhere(self, store: SqliteStore) -> None:
        """A run ended by someone else (found abandoned) is told so."""
        await store.save_run(a_run(status=RunStatus.ABANDONED))
        lost = anyio.Event()

        with anyio.fail_after(5):
            async with keep_alive(
                store, "run-1", clock=lambda: T0, on_lost=lost.set
            ):
                await lost.wait()

    async def test_store_error_retried(
        self, store: SqliteStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A failing beat is logged and tried again."""
        await store.save_run(a_run())
        calls = 0

        class Flaky:
            async def live_runs(self) -> list[RunRecord]:
                return []  # pragma: no cover -- not reaped here

            async def abandon_run(
                self, run: RunRecord, *, seen: RunRecord
            ) -> bool:
                return False  # pragma: no cover -- not reaped here

            async def drop_claim(self, schedule_id: str, prefix: str) -> None:
                pass  # pragma: no cover -- not reaped here

            async def beat(self, run_id: str, at: datetime) -> bool:
                nonlocal calls
                calls += 1
                if calls == 1:
                    raise StateStoreError("disk gone")
                return await store.beat(run_id, at)

            async def get_run(self, run_id: str) -> RunRecord | None:
                return await store.get_run(run_id)

        done = anyio.Event()

        def clock() -> datetime:
            if calls >= 2:
                done.set()
            return T0

        with (
            caplog.at_level(logging.WARNING, "ecomsync.ownership"),
            anyio.fail_after(5),
        ):
            async with keep_alive(
                Flaky(),  # type: ignore[arg-type]
                "run-1",
                clock=clock,
                on_lost=pytest.fail,
                interval=0,
            ):
                await done.wait()

        assert "heartbeat of run run-1 failed: disk gone" in caplog.text

    async def test_store_without_owners(self) -> None:
        """With a store that keeps no owners, the block just runs."""
        ran = False
        async with keep_alive(
            object(),  # type: ignore[arg-type]
            "run-1",
            clock=lambda: T0,
            on_lost=pytest.fail,
        ):
            ran = True

        assert ran


async def _abandon_once_running(store: SqliteStore, events: RunEvents) -> None:
    """End the run of *events* as abandoned, as another host would, once
    it runs (holding its licence)."""
    async for _ in events:
        seen = await store.get_run(events.run_id)
        if seen is not None and seen.status is RunStatus.RUNNING:
            ended = attrs.evolve(
                seen,
                status=RunStatus.ABANDONED,
                ended_at=T0,
                error="abandoned: elsewhere",
            )
            assert await store.abandon_run(ended, seen=seen)
            return


class TestEndedElsewhere:
    async def test_run_found_abandoned_keeps_that_record(
        self, store: SqliteStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A run that finds itself ended elsewhere as abandoned (its
        process stalled past the stale time, another process ended it)
        stops and leaves the store's record as that process wrote it: it
        wrote its own end over it (cancelled, the reason gone), and over
        the run of a process that had resumed it meanwhile."""
        monkeypatch.setattr(
            _lifecycle, "keep_alive", partial(keep_alive, interval=0.02)
        )
        erp = MemoryErp(
            [
                Article(number=f"A-{i}", name=f"A {i}", price=Decimal(1))
                for i in range(40)
            ],
            latency=0.05,
        )
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": MemoryPlatform()},
            store=store,
            batch_size=2,
        )
        spec = SyncSpec(types={DataType.ARTICLES: All()})

        with anyio.fail_after(10):
            async with sync.run(spec) as events:
                await _abandon_once_running(store, events)
                async for _ in events:
                    pass

        assert events.summary is not None
        assert RunStatus.CANCELLED == events.summary.status
        kept = await store.get_run(events.run_id)
        assert kept is not None
        assert (RunStatus.ABANDONED, "abandoned: elsewhere") == (
            kept.status,
            kept.error,
        )

    async def test_run_taken_over_stops(
        self, store: SqliteStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A run whose record another process took over (it found this
        one stalled, ended it as abandoned and resumed it before this
        one noticed) stops at its next heartbeat and leaves the record
        to that process: it went on beside it, two processes writing one
        run, and wrote its end over the other's."""
        monkeypatch.setattr(
            _lifecycle, "keep_alive", partial(keep_alive, interval=0.02)
        )
        erp = MemoryErp(
            [
                Article(number=f"A-{i}", name=f"A {i}", price=Decimal(1))
                for i in range(40)
            ],
            latency=0.05,
        )
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": MemoryPlatform()},
            store=store,
            batch_size=2,
        )
        other = RunOwner(host="elsewhere", pid=4242, started=100.0)

        with anyio.fail_after(10):
            async with sync.run(
                SyncSpec(types={DataType.ARTICLES: All()})
            ) as events:
                async for _ in events:
                    seen = await store.get_run(events.run_id)
                    if seen is not None and seen.status is RunStatus.RUNNING:
                        await store.save_run(attrs.evolve(seen, owner=other))
                        break
                async for _ in events:
                    pass

        assert events.summary is not None
        assert RunStatus.CANCELLED == events.summary.status
        kept = await store.get_run(events.run_id)
        assert kept is not None
        assert (RunStatus.RUNNING, other) == (kept.status, kept.owner)


async def _resume(sync: Synchronizer, run_id: str) -> None:
    async with sync.resume(run_id) as events:
        async for _ in events:
            pass


class TestResumeWhileHeld:
    @pytest.mark.parametrize("sibling", [False, True])
    async def test_not_resumed_beside_itself(
        self, tmp_path: Path, sibling: bool
    ) -> None:
        """A run ended as abandoned elsewhere (its process stalled past
        the stale time) that its process on this host still runs, holding
        its licence, is not resumed beside it, from this synchroniser or
        another one on this host (a FileLicensePool): resume went on, and
        two runs of one id wrote at once, each taking the record for its
        own (same owner) until one's end."""
        store = SqliteStore(tmp_path / "state.db")

        def synchronizer() -> Synchronizer:
            return Synchronizer(
                erp=MemoryErp(
                    [
                        Article(
                            number=f"A-{i}", name=f"A {i}", price=Decimal(1)
                        )
                        for i in range(40)
                    ],
                    latency=0.05,
                ),
                platforms={"shop": MemoryPlatform()},
                store=SqliteStore(tmp_path / "state.db"),
                licenses=FileLicensePool(tmp_path / "licences", size=2)
                if sibling
                else LocalLicensePool(2),
                batch_size=2,
            )

        running = synchronizer()
        resumer = synchronizer() if sibling else running
        with anyio.fail_after(20):
            async with running.run(
                SyncSpec(types={DataType.ARTICLES: All()})
            ) as events:
                await _abandon_once_running(store, events)
                with pytest.raises(SpecError, match="licence is still held"):
                    await _resume(resumer, events.run_id)
                await running.cancel(events.run_id)
                async for _ in events:
                    pass
        for sync in {id(running): running, id(resumer): resumer}.values():
            await sync.store.aclose()
            await sync.aclose()
        await store.aclose()
