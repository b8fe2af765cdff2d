"""
`StateStoreContract`: what every `StateStore` must do, as a pytest base
class.  Subclass it and provide a ``store`` fixture (a fresh, empty store);
provide ``other_store`` too if a second handle on the *same* data can be
opened (another connection or process view), so the suite also proves
that writes are visible and claims exclusive across handles.

The suite's tests are async: your conftest must provide ``anyio_backend``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .._contracts import (
    Failure,
    Link,
    PendingMedia,
    RunOwner,
    RunRecord,
    RunStatus,
    Schedule,
    TypeCounts,
)
from .._spec import (
    All,
    ChangedSince,
    DataType,
    NumberRange,
    Only,
    SyncSpec,
    Trigger,
)
from ..typing import RunOwnership, StateStore


__all__ = ["StateStoreContract"]

T0 = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)
CET = timezone(timedelta(hours=1))
ARTICLES = DataType.ARTICLES
STOCK = DataType.STOCK

# PostgreSQL text cannot hold NUL; nor can most platforms' numbers.
_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
)


def a_run(
    run_id: str = "run-1",
    *,
    started_at: datetime = T0,
    status: RunStatus = RunStatus.RUNNING,
    **changes: Any,
) -> RunRecord:
    """
    A run record with a bit of everything in it.
    """
    values: dict[str, Any] = {
        "id": run_id,
        "trigger": Trigger.MANUAL,
        "platform": "shop",
        "spec": SyncSpec(
            types={
                DataType.CATEGORIES: All(),
                ARTICLES: NumberRange("A-2", "A-10"),
                STOCK: Only({"A-1", "A-2"}),
                DataType.ORDER_STATUS: ChangedSince(
                    datetime(2026, 10, 1, tzinfo=CET)
                ),
            },
            platform="shop",
            force=True,
        ),
        "status": status,
        "started_at": started_at,
        "holder": "host:1",
        "counts": {ARTICLES: TypeCounts(created=3, updated=1, failed=1)},
        "failures": (
            Failure(
                data_type=ARTICLES,
                number="A-3",
                message="price: must be positive",
                field="price",
                run_id=run_id,
            ),
        ),
    }
    values.update(changes)
    return RunRecord(**values)


def a_schedule(
    schedule_id: str = "s-1", *, next_due: datetime = T0
) -> Schedule:
    return Schedule(
        id=schedule_id,
        spec=SyncSpec(types={ARTICLES: All()}, platform="shop"),
        interval=timedelta(minutes=15),
        next_due=next_due,
    )


class StateStoreContract:
    """
    The behaviour every `StateStore` shares; subclass and provide a
    ``store`` fixture (and optionally ``other_store``).

    .. versionadded:: 26.1.0
    """

    pytestmark = pytest.mark.anyio

    @pytest.fixture(name="other_store")
    def _other_store(self, store: StateStore) -> StateStore:
        """
        A second handle on the same data; by default the same object.
        """
        return store

    # -- links ------------------------------------------------------------

    async def test_links_unknown(self, store: StateStore) -> None:
        """Numbers never written have no link."""
        assert await store.get_links("shop", ARTICLES, ["A-1"]) == {}
        assert await store.get_links("shop", ARTICLES, []) == {}

    async def test_links_round_trip(self, store: StateStore) -> None:
        """Links come back as written, only for the numbers asked."""
        await store.put_links(
            "shop",
            ARTICLES,
            {"A-1": Link("p1", "c1"), "A-2": Link(None, "c2")},
        )
        assert await store.get_links(
            "shop", ARTICLES, ["A-1", "A-2", "X"]
        ) == {
            "A-1": Link("p1", "c1"),
            "A-2": Link(None, "c2"),
        }
        assert await store.get_links("shop", ARTICLES, ["A-2"]) == {
            "A-2": Link(None, "c2")
        }

    async def test_links_replace(self, store: StateStore) -> None:
        """Writing a link again replaces id and checksum."""
        await store.put_links("shop", ARTICLES, {"A-1": Link("p1", "c1")})
        await store.put_links("shop", ARTICLES, {"A-1": Link("p9", "c9")})
        assert await store.get_links("shop", ARTICLES, ["A-1"]) == {
            "A-1": Link("p9", "c9")
        }

    async def test_links_scoped(self, store: StateStore) -> None:
        """Links are kept per platform and data type."""
        await store.put_links("shop", ARTICLES, {"A-1": Link("p1", "c1")})
        assert await store.get_links("other", ARTICLES, ["A-1"]) == {}
        assert await store.get_links("shop", STOCK, ["A-1"]) == {}

    async def test_links_many(self, store: StateStore) -> None:
        """Thousands of numbers in one call work both ways."""
        links = {f"A-{i}": Link(f"p{i}", f"c{i}") for i in range(2500)}
        await store.put_links("shop", ARTICLES, links)
        assert await store.get_links("shop", ARTICLES, list(links)) == links

    async def test_links_empty_put(self, store: StateStore) -> None:
        """Writing no links is allowed and changes nothing."""
        await store.put_links("shop", ARTICLES, {})
        assert await store.get_links("shop", ARTICLES, ["A-1"]) == {}

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(number=_TEXT, platform_id=st.none() | _TEXT, digest=_TEXT)
    async def test_links_any_text(
        self,
        store: StateStore,
        number: str,
        platform_id: str | None,
        digest: str,
    ) -> None:
        """Any text survives the trip: numbers, ids and checksums."""
        await store.put_links(
            "shop", ARTICLES, {number: Link(platform_id, digest)}
        )
        assert await store.get_links("shop", ARTICLES, [number]) == {
            number: Link(platform_id, digest)
        }

    # -- media ------------------------------------------------------------

    async def test_media_ids(self, store: StateStore) -> None:
        """Media ids are kept per platform and content hash; rewritable."""
        assert await store.get_media_id("shop", "ab") is None
        await store.put_media_id("shop", "ab", "m1")
        assert await store.get_media_id("shop", "ab") == "m1"
        assert await store.get_media_id("other", "ab") is None
        await store.put_media_id("shop", "ab", "m2")
        assert await store.get_media_id("shop", "ab") == "m2"

    # -- staging journal --------------------------------------------------

    async def test_pending(self, store: StateStore) -> None:
        """The journal lists transfers oldest first, with their meta."""
        late = PendingMedia(
            sha256="bb", size=2, registered_at=T0, meta={"name": "ä.jpg"}
        )
        early = PendingMedia(
            sha256="aa",
            size=10,
            registered_at=T0 - timedelta(seconds=1),
            meta={"n": [1, 2], "x": None},
        )
        assert await store.list_pending() == []
        await store.add_pending(late)
        await store.add_pending(early)
        listed = await store.list_pending()
        assert listed == [early, late]
        assert [dict(p.meta) for p in listed] == [
            {"n": [1, 2], "x": None},
            {"name": "ä.jpg"},
        ]

    async def test_pending_replace_and_remove(self, store: StateStore) -> None:
        """Registering a hash again replaces it; removing is idempotent."""
        first = PendingMedia(sha256="aa", size=1, registered_at=T0)
        again = PendingMedia(
            sha256="aa", size=5, registered_at=T0 + timedelta(seconds=1)
        )
        await store.add_pending(first)
        await store.add_pending(again)
        assert await store.list_pending() == [again]
        await store.remove_pending("aa")
        await store.remove_pending("aa")
        await store.remove_pending("never")
        assert await store.list_pending() == []

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

    # -- watermarks -------------------------------------------------------

    # -- run owners (`RunOwnership`, optional) ----------------------------

    @staticmethod
    def _owning(store: StateStore) -> RunOwnership:
        if not isinstance(store, RunOwnership):
            pytest.skip("the store keeps no run owners (RunOwnership)")
        return store

    async def test_run_owner_round_trip(self, store: StateStore) -> None:
        """A run's owner and heartbeat come back as saved."""
        run = a_run(
            owner=RunOwner(host="h", pid=42, started=1700000000.25),
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

    # -- failure ledger ---------------------------------------------------

    async def test_failures(self, store: StateStore) -> None:
        """The ledger lists failures by type and number; filterable."""
        f1 = Failure(data_type=STOCK, number="A-1", message="m1", run_id="r")
        f2 = Failure(
            data_type=ARTICLES,
            number="A-2",
            message="m2",
            field="price",
            run_id="r",
        )
        f3 = Failure(data_type=ARTICLES, number="A-1", message="m3")
        assert await store.list_failures("shop") == []
        await store.add_failures("shop", [f1, f2, f3])
        assert await store.list_failures("shop") == [f3, f2, f1]
        assert await store.list_failures("shop", ARTICLES) == [f3, f2]
        assert await store.list_failures("other") == []

    async def test_failure_replaced(self, store: StateStore) -> None:
        """A record fails once in the ledger: the latest failure wins."""
        await store.add_failures(
            "shop", [Failure(data_type=ARTICLES, number="A-1", message="x")]
        )
        latest = Failure(
            data_type=ARTICLES, number="A-1", message="y", run_id="r2"
        )
        await store.add_failures("shop", [latest])
        assert await store.list_failures("shop") == [latest]

    async def test_failure_twice_in_one_call(self, store: StateStore) -> None:
        """A record that fails twice in one call has one entry: the last
        one given."""
        first = Failure(data_type=ARTICLES, number="A-1", message="x")
        last = Failure(data_type=ARTICLES, number="A-1", message="y")
        other = Failure(data_type=STOCK, number="A-1", message="z")

        await store.add_failures("shop", [first, other, last])

        assert [last, other] == await store.list_failures("shop")

    async def test_clear_failures(self, store: StateStore) -> None:
        """Clearing removes only the given numbers of that type."""
        await store.add_failures(
            "shop",
            [
                Failure(data_type=ARTICLES, number="A-1", message="x"),
                Failure(data_type=ARTICLES, number="A-2", message="x"),
                Failure(data_type=STOCK, number="A-1", message="x"),
            ],
        )
        await store.clear_failures("shop", ARTICLES, ["A-1", "nope"])
        await store.clear_failures("shop", ARTICLES, [])
        assert [
            (f.data_type, f.number) for f in await store.list_failures("shop")
        ] == [(ARTICLES, "A-2"), (STOCK, "A-1")]

    async def test_failures_binary_order(self, store: StateStore) -> None:
        """Numbers are listed in plain code point order."""
        numbers = ["b", "B", "a-10", "a-2", "Ä", "_"]
        await store.add_failures(
            "shop",
            [
                Failure(data_type=ARTICLES, number=n, message="x")
                for n in numbers
            ],
        )
        listed = [f.number for f in await store.list_failures("shop")]
        assert listed == sorted(numbers)

    # -- schedules --------------------------------------------------------

    async def test_schedules(self, store: StateStore) -> None:
        """Schedules are listed by due time; saving again updates."""
        assert await store.list_schedules() == []
        late = a_schedule("s-late", next_due=T0 + timedelta(hours=1))
        early = a_schedule("s-early", next_due=T0)
        await store.save_schedule(late)
        await store.save_schedule(early)
        assert await store.list_schedules() == [early, late]
        moved = a_schedule("s-late", next_due=T0 - timedelta(hours=1))
        await store.save_schedule(moved)
        assert await store.list_schedules() == [moved, early]

    async def test_schedules_mixed_offsets(self, store: StateStore) -> None:
        """Schedules due in other time zones still sort by instant, and
        keep their offset."""
        late = a_schedule("s-late", next_due=T0 + timedelta(minutes=30))
        early = a_schedule("s-early", next_due=T0.astimezone(CET))
        await store.save_schedule(late)
        await store.save_schedule(early)
        listed = await store.list_schedules()
        assert listed == [early, late]
        assert listed[0].next_due.utcoffset() == timedelta(hours=1)

    async def test_claim_schedule(self, store: StateStore) -> None:
        """A claimed schedule cannot be claimed again until released."""
        await store.save_schedule(a_schedule())
        until = datetime.now(UTC) + timedelta(hours=1)
        assert await store.claim_schedule("s-1", "w1", until) is True
        assert await store.claim_schedule("s-1", "w2", until) is False
        assert await store.claim_schedule("s-1", "w1", until) is False
        due = T0 + timedelta(days=1)
        await store.release_schedule("s-1", "w1", due)
        assert await store.list_schedules() == [a_schedule(next_due=due)]
        assert await store.claim_schedule("s-1", "w2", until) is True

    async def test_claim_expires(self, store: StateStore) -> None:
        """A claim whose time ran out can be taken over."""
        await store.save_schedule(a_schedule())
        past = datetime.now(UTC) - timedelta(seconds=1)
        assert await store.claim_schedule("s-1", "dead", past) is True
        until = datetime.now(UTC) + timedelta(hours=1)
        assert await store.claim_schedule("s-1", "w2", until) is True

    async def test_claim_uses_callers_now(self, store: StateStore) -> None:
        """A claim runs out by the caller's clock, not the store's: a
        claim until T0 + 1 h is held at T0 + 59 min and free at
        T0 + 61 min, whatever the wall clock says."""
        await store.save_schedule(a_schedule())
        until = T0 + timedelta(hours=1)
        assert await store.claim_schedule("s-1", "w1", until, now=T0)

        held = await store.claim_schedule(
            "s-1", "w2", until, now=T0 + timedelta(minutes=59)
        )
        taken = await store.claim_schedule(
            "s-1",
            "w2",
            T0 + timedelta(hours=2),
            now=T0 + timedelta(minutes=61),
        )

        assert (False, True) == (held, taken)

    async def test_release_by_other(self, store: StateStore) -> None:
        """Only the holder's release counts."""
        await store.save_schedule(a_schedule())
        until = datetime.now(UTC) + timedelta(hours=1)
        assert await store.claim_schedule("s-1", "w1", until)
        await store.release_schedule("s-1", "w2", T0 + timedelta(days=9))
        assert await store.list_schedules() == [a_schedule()]
        assert await store.claim_schedule("s-1", "w2", until) is False

    async def test_claim_unknown(self, store: StateStore) -> None:
        """There is nothing to claim in an unknown schedule."""
        until = datetime.now(UTC) + timedelta(hours=1)
        assert await store.claim_schedule("nope", "w1", until) is False

    async def test_save_keeps_claim(self, store: StateStore) -> None:
        """Saving a schedule again does not drop its claim."""
        await store.save_schedule(a_schedule())
        until = datetime.now(UTC) + timedelta(hours=1)
        assert await store.claim_schedule("s-1", "w1", until)
        await store.save_schedule(a_schedule())
        assert await store.claim_schedule("s-1", "w2", until) is False

    async def test_claim_concurrently(
        self, store: StateStore, other_store: StateStore
    ) -> None:
        """Of many simultaneous claimers, through several handles, exactly
        one wins."""
        await store.save_schedule(a_schedule())
        until = datetime.now(UTC) + timedelta(hours=1)
        won: list[str] = []

        async def claim(handle: StateStore, holder: str) -> None:
            if await handle.claim_schedule("s-1", holder, until):
                won.append(holder)

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(claim, (store, other_store)[i % 2], f"w{i}")
        assert len(won) == 1

    async def test_concurrent_writers(
        self, store: StateStore, other_store: StateStore
    ) -> None:
        """Concurrent writers of overlapping links and failures lose
        nothing and fail nothing."""

        async def write(handle: StateStore, tag: str) -> None:
            for start in range(0, 200, 50):
                numbers = [f"A-{i}" for i in range(start, start + 50)]
                await handle.put_links(
                    "shop",
                    ARTICLES,
                    {n: Link(f"{tag}-{n}", tag) for n in reversed(numbers)},
                )
                await handle.add_failures(
                    "shop",
                    [
                        Failure(data_type=STOCK, number=n, message=tag)
                        for n in numbers
                    ],
                )

        async with anyio.create_task_group() as tg:
            for i in range(4):
                tg.start_soon(write, (store, other_store)[i % 2], f"t{i}")
        links = await store.get_links(
            "shop", ARTICLES, [f"A-{i}" for i in range(200)]
        )
        assert len(links) == 200
        assert all(
            link.platform_id == f"{link.checksum}-{n}"
            for n, link in links.items()
        )
        assert len(await store.list_failures("shop", STOCK)) == 200

    # -- lifecycle --------------------------------------------------------

    async def test_aclose_twice(self, store: StateStore) -> None:
        """Closing is idempotent."""
        await store.put_media_id("shop", "ab", "m1")
        await store.aclose()
        await store.aclose()
