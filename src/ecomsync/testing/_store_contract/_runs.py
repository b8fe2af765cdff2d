"""
The contract of run records, cancellation, watermarks and run owners.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ..._contracts import RunOwner, RunStatus
from ...typing import CancelReasons, RunOwnership, StateStore
from ._data import ARTICLES, CET, STOCK, T0, a_run, a_schedule


class RunContract:
    """
    Runs, cancellation, watermarks and run owners; part of
    `StateStoreContract`.
    """

    # -- runs -------------------------------------------------------------

    async def test_run_unknown(self, store: StateStore) -> None:
        """An unknown run is None."""
        assert await store.get_run("nope") is None

    async def test_run_round_trip(self, store: StateStore) -> None:
        """A run comes back equal: spec, counts, failures, moments."""
        run = a_run(started_at=datetime(2026, 11, 1, 13, 0, tzinfo=CET))
        await store.save_run(run)
        got = await store.get_run(run.id)
        assert got == run
        assert got is not None
        assert got.started_at.utcoffset() == timedelta(hours=1)
        assert dict(got.counts) == dict(run.counts)

    async def test_run_update(self, store: StateStore) -> None:
        """Saving a run again updates it in place."""
        await store.save_run(a_run())
        done = a_run(
            status=RunStatus.FAILED,
            ended_at=T0 + timedelta(minutes=1),
            error="AuthenticationError: refused",
            schedule_id="s-1",
        )
        await store.save_run(done)
        assert await store.get_run("run-1") == done
        assert await store.list_runs() == [done]

    async def test_list_runs(self, store: StateStore) -> None:
        """Runs are listed newest first, at most *limit*."""
        for i in range(5):
            await store.save_run(
                a_run(f"r{i}", started_at=T0 + timedelta(minutes=i))
            )
        assert [r.id for r in await store.list_runs()] == [
            "r4",
            "r3",
            "r2",
            "r1",
            "r0",
        ]
        assert [r.id for r in await store.list_runs(limit=2)] == ["r4", "r3"]
        assert await store.list_runs(limit=0) == []

    async def test_list_runs_started_at_one_moment(
        self, store: StateStore
    ) -> None:
        """Runs started at one moment (a coarse or fixed clock) are listed
        newest recorded first, and an update does not move a run."""
        for name in ("b", "a", "d", "c"):
            await store.save_run(a_run(name, started_at=T0))
        await store.save_run(a_run("d", status=RunStatus.SUCCEEDED))

        assert [r.id for r in await store.list_runs()] == ["c", "d", "a", "b"]

    async def test_list_runs_mixed_offsets(self, store: StateStore) -> None:
        """Runs started in other time zones still sort by instant."""
        await store.save_run(
            a_run("utc", started_at=T0 + timedelta(minutes=30))
        )
        await store.save_run(a_run("cet", started_at=T0.astimezone(CET)))
        assert [r.id for r in await store.list_runs()] == ["utc", "cet"]

    async def test_cancel_flag(self, store: StateStore) -> None:
        """A run is not cancelled until asked; the flag survives saves."""
        await store.save_run(a_run())
        assert await store.cancel_requested("run-1") is False
        await store.request_cancel("run-1")
        assert await store.cancel_requested("run-1") is True
        await store.save_run(a_run(status=RunStatus.CANCELLED))
        assert await store.cancel_requested("run-1") is True

    async def test_cancel_cleared_when_queued_again(
        self, store: StateStore
    ) -> None:
        """A run saved as queued again (resumed after its process died)
        is no longer cancelled: a request made before would stop the
        resumed run at once; one made after stands."""
        await store.save_run(a_run())
        await store.request_cancel("run-1")
        await store.save_run(a_run(status=RunStatus.ABANDONED))
        assert await store.cancel_requested("run-1") is True
        await store.save_run(a_run(status=RunStatus.QUEUED))
        assert await store.cancel_requested("run-1") is False
        await store.request_cancel("run-1")
        await store.save_run(a_run(status=RunStatus.RUNNING))
        assert await store.cancel_requested("run-1") is True

    async def test_cancel_unknown(self, store: StateStore) -> None:
        """Cancelling an unknown run does nothing and raises nothing."""
        await store.request_cancel("nope")
        assert await store.cancel_requested("nope") is False

    async def test_cancel_is_per_run(self, store: StateStore) -> None:
        """Cancelling one run leaves the others alone."""
        await store.save_run(a_run("r1"))
        await store.save_run(a_run("r2"))
        await store.request_cancel("r1")
        assert await store.cancel_requested("r2") is False

    async def test_cancel_across_handles(
        self, store: StateStore, other_store: StateStore
    ) -> None:
        """A cancel asked through one handle is seen through another."""
        await store.save_run(a_run())
        await other_store.request_cancel("run-1")
        assert await store.cancel_requested("run-1") is True
        assert await other_store.get_run("run-1") == a_run()

    async def test_cancel_reason(self, store: StateStore) -> None:
        """A store with the `CancelReasons` role keeps a cancel's reason:
        the first one asked (the one that stopped the run); a request
        without one keeps none; a save as queued again clears it."""
        if not isinstance(store, CancelReasons):
            pytest.skip("the store has no CancelReasons role")
        await store.save_run(a_run())
        assert await store.cancel_reason("run-1") is None
        await store.request_cancel("run-1", reason="ops@host: maintenance")
        await store.request_cancel("run-1", reason="second")
        assert await store.cancel_requested("run-1") is True
        assert await store.cancel_reason("run-1") == "ops@host: maintenance"
        await store.save_run(a_run(status=RunStatus.QUEUED))
        assert await store.cancel_reason("run-1") is None
        await store.request_cancel("run-1")
        assert await store.cancel_requested("run-1") is True
        assert await store.cancel_reason("run-1") is None
        assert await store.cancel_reason("nope") is None

    # -- watermarks -------------------------------------------------------
    async def test_watermarks(self, store: StateStore) -> None:
        """Watermarks are per platform and type, exact to the microsecond
        and keep their offset."""
        assert await store.get_watermark("shop", ARTICLES) is None
        moment = datetime(2026, 11, 1, 13, 0, 0, 42, tzinfo=CET)
        await store.set_watermark("shop", ARTICLES, moment)
        got = await store.get_watermark("shop", ARTICLES)
        assert got == moment
        assert got is not None
        assert got.utcoffset() == timedelta(hours=1)
        assert await store.get_watermark("shop", STOCK) is None
        assert await store.get_watermark("other", ARTICLES) is None
        await store.set_watermark("shop", ARTICLES, T0)
        assert await store.get_watermark("shop", ARTICLES) == T0

    async def test_watermark_never_back(self, store: StateStore) -> None:
        """A watermark only moves forward, compared as instants: an
        earlier moment (even one written in a zone whose text sorts
        later) leaves it; a later one moves it."""
        await store.set_watermark("shop", ARTICLES, T0)
        await store.set_watermark("shop", ARTICLES, T0 - timedelta(hours=1))
        # 12:30 CET is 11:30 UTC: earlier, although its text sorts later.
        await store.set_watermark(
            "shop", ARTICLES, (T0 - timedelta(minutes=30)).astimezone(CET)
        )
        kept = await store.get_watermark("shop", ARTICLES)
        later = (T0 + timedelta(minutes=1)).astimezone(CET)
        await store.set_watermark("shop", ARTICLES, later)

        assert (T0, later) == (
            kept,
            await store.get_watermark("shop", ARTICLES),
        )

    # -- run owners (`RunOwnership`, optional) ----------------------------

    @staticmethod
    def _owning(store: StateStore) -> RunOwnership:
        if not isinstance(store, RunOwnership):
            pytest.skip("the store keeps no run owners (RunOwnership)")
        return store

    async def test_run_owner_round_trip(self, store: StateStore) -> None:
        """A run's owner and heartbeat come back as saved."""
        run = a_run(
            owner=RunOwner(
                host="h", pid=42, started=12345.25, pid_space="p", boot="b"
            ),
            heartbeat_at=T0 + timedelta(seconds=5),
        )

        await store.save_run(run)

        assert run == await store.get_run("run-1")
        assert [run] == await store.list_runs()

    async def test_live_runs(self, store: StateStore) -> None:
        """Live runs are the queued and running ones, oldest first."""
        owning = self._owning(store)
        later = a_run("b", started_at=T0 + timedelta(seconds=1))
        queued = a_run("a", status=RunStatus.QUEUED)
        await store.save_run(later)
        await store.save_run(queued)
        await store.save_run(a_run("c", status=RunStatus.SUCCEEDED))
        await store.save_run(a_run("d", status=RunStatus.ABANDONED))

        assert [queued, later] == await owning.live_runs()

    async def test_beat(self, store: StateStore) -> None:
        """A live run's beat is kept (also when the run is saved again
        without one); an ended or unknown run's beat is refused."""
        owning = self._owning(store)
        await store.save_run(a_run())
        beat = T0 + timedelta(minutes=1)

        assert await owning.beat("run-1", beat) is True
        await store.save_run(a_run())
        kept = await store.get_run("run-1")
        await store.save_run(a_run(status=RunStatus.SUCCEEDED))

        assert kept is not None
        assert beat == kept.heartbeat_at
        assert await owning.beat("run-1", beat) is False
        assert await owning.beat("nope", beat) is False

    async def test_abandon_once(self, store: StateStore) -> None:
        """A live run is abandoned once; the record says so."""
        owning = self._owning(store)
        await store.save_run(a_run())
        (seen,) = await owning.live_runs()
        ended = a_run(
            status=RunStatus.ABANDONED, ended_at=T0, error="abandoned: x"
        )

        first = await owning.abandon_run(ended, seen=seen)
        second = await owning.abandon_run(ended, seen=seen)

        assert (True, False) == (first, second)
        assert ended == await store.get_run("run-1")
        assert [] == await owning.live_runs()

    async def test_abandon_refused_after_beat(self, store: StateStore) -> None:
        """A run that beat after it was read is not abandoned."""
        owning = self._owning(store)
        await store.save_run(a_run())
        (seen,) = await owning.live_runs()
        await owning.beat("run-1", T0 + timedelta(minutes=1))

        done = await owning.abandon_run(
            a_run(status=RunStatus.ABANDONED), seen=seen
        )

        assert done is False
        assert [RunStatus.RUNNING] == [
            r.status for r in await owning.live_runs()
        ]

    async def test_drop_claim(self, store: StateStore) -> None:
        """Dropping a claim frees the schedule only if its holder starts
        with the prefix given, and keeps it due."""
        owning = self._owning(store)
        await store.save_schedule(a_schedule())
        until = T0 + timedelta(hours=1)
        assert await store.claim_schedule("s-1", "h:70:ab", until, now=T0)

        await owning.drop_claim("s-1", "h:7:")
        kept = await store.claim_schedule("s-1", "w", until, now=T0)
        await owning.drop_claim("s-1", "h:70:")
        freed = await store.claim_schedule("s-1", "w", until, now=T0)

        assert (False, True) == (kept, freed)
        assert [a_schedule()] == await store.list_schedules()
