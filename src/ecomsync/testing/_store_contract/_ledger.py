"""
The contract of the failure ledger and schedules, alone and under
concurrent handles.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio

from ..._contracts import Failure, Link
from ...typing import StateStore
from ._data import ARTICLES, CET, STOCK, T0, a_schedule


class LedgerContract:
    """
    The failure ledger and schedules; part of `StateStoreContract`.
    """

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

    async def test_delete_schedule(self, store: StateStore) -> None:
        """Deleting a schedule removes it and says whether there was one."""
        await store.save_schedule(a_schedule("s-1"))
        await store.save_schedule(a_schedule("s-2"))

        assert await store.delete_schedule("s-1") is True
        assert await store.delete_schedule("s-1") is False
        assert [a_schedule("s-2")] == await store.list_schedules()

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

    async def test_claim_only_due(self, store: StateStore) -> None:
        """A schedule not yet due cannot be claimed, by the caller's clock
        or the store's; once due it can."""
        await store.save_schedule(a_schedule(next_due=T0 + timedelta(hours=1)))
        later = datetime.now(UTC) + timedelta(days=1)
        await store.save_schedule(a_schedule("s-2", next_due=later))
        until = T0 + timedelta(hours=3)

        early = await store.claim_schedule("s-1", "w1", until, now=T0)
        by_wall = await store.claim_schedule("s-2", "w1", later)
        due = await store.claim_schedule(
            "s-1", "w1", until, now=T0 + timedelta(hours=1)
        )

        assert (False, False, True) == (early, by_wall, due)

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
