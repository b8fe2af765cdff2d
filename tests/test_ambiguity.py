"""
Ambiguous numbers: every party of a number claimed twice fails, named.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
    Variant,
)
from ecomsync._ambiguity import NumberClaims
from ecomsync._changes import fingerprints
from ecomsync.events import RecordFailed
from ecomsync.testing import capture_events


def art(number: str, name: str = "", **kw: object) -> Article:
    return Article(number=number, name=name or number, price=1, **kw)  # type: ignore[arg-type]


class TestNumberClaims:
    def test_distinct_numbers(self) -> None:
        """Records with their own numbers are no one's business."""
        claimed = NumberClaims().claim(
            [art("A-1"), art("A-2", variants=[Variant(number="A-2-S")])]
        )

        assert ({}, {}) == (claimed.invalid, claimed.late)

    def test_same_number_twice(self) -> None:
        """Two records with one number both fail, each naming both (and
        which one is inactive)."""
        claimed = NumberClaims().claim(
            [art("Z-1", "Old Z", active=False), art("B"), art("Z-1", "New Z")]
        )

        assert {0, 2} == set(claimed.invalid)
        for problem in claimed.invalid.values():
            assert "number" == problem.field
            assert "'Z-1' is claimed by 2 records" in problem.reason
            assert '"Old Z" (inactive)' in problem.reason
            assert '"New Z"' in problem.reason

    def test_variant_numbered_like_an_article(self) -> None:
        """A variant with another article's number fails its article (on
        the variant's field) and that article (on its number)."""
        claimed = NumberClaims().claim(
            [
                art(
                    "SHIRT",
                    variants=[Variant(number="S"), Variant(number="M")],
                ),
                art("M", "Mug"),
            ]
        )

        assert "variants.1.number" == claimed.invalid[0].field
        assert "number" == claimed.invalid[1].field
        assert "variant 'M' of article 'SHIRT'" in claimed.invalid[1].reason
        assert "article 'M' \"Mug\"" in claimed.invalid[0].reason

    def test_variant_twice(self) -> None:
        """Two variants with one number, in two articles, fail both."""
        claimed = NumberClaims().claim(
            [
                art("A", variants=[Variant(number="V")]),
                art("B", variants=[Variant(number="X"), Variant(number="V")]),
            ]
        )

        assert {0: "variants.0.number", 1: "variants.1.number"} == {
            i: p.field for i, p in claimed.invalid.items()
        }

    def test_across_batches(self) -> None:
        """A duplicate in a later batch fails there, and the earlier party
        is reported late (once), named by its number."""
        claims = NumberClaims()

        first = claims.claim([art("Z-1", "Old Z"), art("A")])
        second = claims.claim([art("B"), art("Z-1", "New Z")])
        third = claims.claim([art("C")])

        assert ({}, {}) == (first.invalid, first.late)
        assert [1] == list(second.invalid)
        assert ["Z-1"] == list(second.late)
        assert '"Old Z"' in second.late["Z-1"].reason
        assert ({}, {}) == (third.invalid, third.late)
        assert claims.problem("Z-1") is not None
        assert claims.problem("A") is None

    def test_same_record_read_twice(self) -> None:
        """The same record read again (a ledger retry) is one party; read
        again while ambiguous it still fails."""
        claims = NumberClaims()
        record = art("A")

        assert {} == claims.claim([record]).invalid
        assert {} == claims.claim([record]).invalid

        claims.claim([art("A", "Other")])

        assert [0] == list(claims.claim([record]).invalid)

    def test_third_party(self) -> None:
        """A third party fails too; the first two are not reported again."""
        claims = NumberClaims()
        claims.claim([art("Z", "1"), art("Z", "2")])

        third = claims.claim([art("Z", "3")])

        assert [0] == list(third.invalid)
        assert {} == third.late
        assert "claimed by 3 records" in third.invalid[0].reason

    def test_stock_per_warehouse(self) -> None:
        """Stock of one article in two warehouses, read together, is one
        party; more of its stock later in the read makes both parts
        ambiguous, the earlier one late."""
        claims = NumberClaims()
        both = [
            StockLevel(number="A", quantity=1, warehouse="W1"),
            StockLevel(number="A", quantity=2, warehouse="W2"),
        ]
        again = [StockLevel(number="A", quantity=3, warehouse="W3")]

        fine = claims.claim(both, fingerprints(both))
        clash = claims.claim(again, fingerprints(again))

        assert {} == fine.invalid
        assert [0] == list(clash.invalid)
        assert {"A"} == set(clash.late)
        reason = clash.invalid[0].reason
        assert "the stock of 'A' came in 2 parts" in reason
        assert "in 'W1'" in reason
        assert "in 'W3'" in reason

    def test_stock_read_again_is_one_party(self) -> None:
        """An article's stock read again unchanged (a scheduled run's
        retry) is the same party."""
        claims = NumberClaims()
        both = [
            StockLevel(number="A", quantity=1, warehouse="W1"),
            StockLevel(number="A", quantity=2, warehouse="W2"),
        ]

        claims.claim(both, fingerprints(both))
        again = claims.claim(list(both), fingerprints(list(both)))

        assert ({}, {}) == (again.invalid, again.late)

    def test_long_lists_are_cut(self) -> None:
        """A number claimed by many records names ten and counts the rest."""
        claimed = NumberClaims().claim(
            [Category(number="C", name=f"n{i}") for i in range(15)]
        )

        assert 15 == len(claimed.invalid)
        assert "and 5 more" in claimed.invalid[0].reason

    @pytest.mark.parametrize(
        "make",
        [
            lambda i: art(f"A-{i:06d}", f"Artikel {i}"),
            lambda i: StockLevel(number=f"A-{i:06d}", quantity=i % 500),
        ],
        ids=["articles", "stock"],
    )
    @pytest.mark.parametrize(
        "identity", [None, str.casefold], ids=["exact", "casefold"]
    )
    def test_little_held_per_record(
        self, make: Any, identity: Callable[[str], str] | None
    ) -> None:
        """A type's claims live for its whole read (50,000 articles in the
        benchmark's peak-RSS run): at most 100 bytes per record, its
        number included (a dict of the numbers: about 145), also where
        the platform's key of a number is not the number itself."""
        count = 20_000
        # Made batch by batch and dropped, as a read's are: what the
        # claims keep of a record's number is theirs to pay for.
        batches = (
            [make(i) for i in range(start, start + 100)]
            for start in range(0, count, 100)
        )
        claims = NumberClaims(identity)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for batch in batches:
                claims.claim(batch, fingerprints(batch))
            del batch
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()

        assert held / count <= 100

    @pytest.mark.parametrize(
        "rival",
        [
            art("A-01 ", "Twin"),
            art("a-01", "Twin"),
            art("B", variants=[Variant(number="A-01\u00a0")]),
        ],
        ids=["trailing space", "case", "variant"],
    )
    def test_twins_under_the_platforms_identity(self, rival: Article) -> None:
        """Numbers the platform compares as equal are one number: both
        parties fail, in different batches too (the earlier one late),
        the message naming both spellings."""
        claims = NumberClaims(
            lambda n: n.replace("\u00a0", " ").rstrip(" ").casefold()
        )
        first = claims.claim([art("A-01", "Hammer")])
        second = claims.claim([rival])

        twin = "A-01\u00a0" if rival.variants else rival.number
        assert {} == first.invalid
        assert [0] == list(second.invalid)
        assert ["A-01"] == list(second.late)
        for problem in [*second.invalid.values(), *second.late.values()]:
            assert f"'A-01' and {twin!r} are one number to the platform" in (
                problem.reason
            )
            assert '"Hammer"' in problem.reason
            assert "claimed by 2 records" in problem.reason
        assert second.invalid[0].field == (
            "variants.0.number" if rival.variants else "number"
        )

    def test_exact_without_identity(self) -> None:
        """Without the platform's identity, numbers compare exactly."""
        claimed = NumberClaims().claim(
            [art("A-01"), art("A-01 "), art("a-01")]
        )

        assert {} == claimed.invalid

    def test_missing_numbers_are_skipped(self) -> None:
        """Records without a number are left to problems()."""
        assert {} == NumberClaims().claim([art(""), art("")]).invalid

    @given(
        st.lists(
            st.lists(
                st.tuples(
                    st.sampled_from("ABCDEa"),
                    st.lists(st.sampled_from("ABCDEFGb"), max_size=2),
                ),
                max_size=4,
            ),
            max_size=4,
        )
    )
    def test_every_party_fails_once(
        self, batches: list[list[tuple[str, list[str]]]]
    ) -> None:
        """Over any batches, a record is reported (in its batch or late)
        exactly when one of its numbers is claimed twice (case-blind, as
        a platform's identity may be: ``a`` is ``A``)."""
        records = [
            [
                art(n, f"{b}.{i}", variants=[Variant(number=v) for v in vs])
                for i, (n, vs) in enumerate(batch)
            ]
            for b, batch in enumerate(batches)
        ]
        claims: dict[str, int] = {}
        for batch in records:
            for r in batch:
                for n in [r.number, *(v.number for v in r.variants)]:
                    claims[n.upper()] = claims.get(n.upper(), 0) + 1

        def ambiguous(r: Article) -> bool:
            numbers = [r.number, *(v.number for v in r.variants)]
            return any(claims[n.upper()] > 1 for n in numbers)

        tracker = NumberClaims(str.upper)
        flagged: set[str] = set()
        late_after: dict[str, int] = {}
        for b, batch in enumerate(records):
            claimed = tracker.claim(batch)
            flagged |= {batch[i].name for i in claimed.invalid}
            for number in claimed.late:
                late_after.setdefault(number, b)

        for b, batch in enumerate(records):
            for r in batch:
                if not ambiguous(r):
                    assert r.name not in flagged
                    continue
                reported_late = late_after.get(r.number, -1) > b
                assert r.name in flagged or reported_late, r
        for number, b in late_after.items():
            assert any(
                r.number == number and ambiguous(r)
                for batch in records[:b]
                for r in batch
            )


ARTICLES = SyncSpec(types={DataType.ARTICLES: All()})


class Clock:
    """
    A clock the test moves.
    """

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def engine(
    records: list[Article], tmp_path: Path, **kw: Any
) -> tuple[Synchronizer, MemoryPlatform]:
    platform = MemoryPlatform(latency=kw.pop("latency", 0.0))
    sync = Synchronizer(
        erp=MemoryErp(records),
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        staging=MediaStaging(tmp_path / "staging"),
        **kw,
    )
    return sync, platform


async def failures(sync: Synchronizer) -> list[tuple[str, str | None]]:
    async with capture_events(sync, ARTICLES) as run:
        return sorted((e.number, e.field) for e in run.of(RecordFailed))


@pytest.mark.anyio
class TestEngineAmbiguity:
    async def test_duplicates_in_one_batch(self, tmp_path: Path) -> None:
        """Both parties fail by name, nothing of them is written, no link
        is recorded; the others land."""
        sync, platform = engine(
            [art("Z-1", "Old Z", active=False), art("Z-1", "New Z"), art("B")],
            tmp_path,
        )

        failed = await failures(sync)
        links = await sync.store.get_links("shop", DataType.ARTICLES, ["Z-1"])
        ledger = await sync.store.list_failures("shop", DataType.ARTICLES)

        assert [("Z-1", "number"), ("Z-1", "number")] == failed
        assert ["B"] == list(platform.held(DataType.ARTICLES))
        assert {} == links
        assert ["Z-1"] == [f.number for f in ledger]
        await sync.store.aclose()

    @pytest.mark.parametrize("concurrency", [1, 4])
    async def test_across_batches(
        self, tmp_path: Path, concurrency: int
    ) -> None:
        """A variant numbered like an article three batches later fails
        both, even though the first was already sent: it gets a failure
        and no valid checksum."""
        sync, _ = engine(
            [
                art("A", variants=[Variant(number="V")]),
                art("B"),
                art("C"),
                art("V", "standalone"),
            ],
            tmp_path,
            batch_size=1,
            write_concurrency=concurrency,
            latency=0.01,
        )

        failed = await failures(sync)
        links = await sync.store.get_links(
            "shop", DataType.ARTICLES, ["A", "V"]
        )

        assert [("A", "variants.0.number"), ("V", "number")] == failed
        assert all("" == link.checksum for link in links.values())
        await sync.store.aclose()

    async def test_rerun_fails_again(self, tmp_path: Path) -> None:
        """An ambiguity never heals by itself: the next run fails the same
        parties again (nothing looks unchanged)."""
        sync, _ = engine(
            [art("A", variants=[Variant(number="V")]), art("B"), art("V")],
            tmp_path,
            batch_size=1,
        )

        first = await failures(sync)
        second = await failures(sync)

        assert first == second == [("A", "variants.0.number"), ("V", "number")]
        await sync.store.aclose()

    async def test_plan_shows_every_party(self, tmp_path: Path) -> None:
        """plan() lists every party as invalid, also one read in an earlier
        batch, and none of them under create."""
        sync, _ = engine(
            [art("A", variants=[Variant(number="V")]), art("B"), art("V")],
            tmp_path,
            batch_size=1,
        )

        plan = await sync.plan(ARTICLES)
        found = plan.types[DataType.ARTICLES]

        assert ["B"] == list(found.create)
        assert {("A", "variants.0.number"), ("V", "number")} == {
            (r.number, r.field) for r in found.invalid
        }
        assert all("claimed by 2 records" in r.reason for r in found.invalid)
        await sync.store.aclose()


@pytest.mark.anyio
class TestScheduledAmbiguity:
    @pytest.mark.parametrize(
        "rival",
        [art("Z-1", "Typo"), art("B", variants=[Variant(number="Z-1")])],
        ids=["number", "variant"],
    )
    async def test_duplicate_added_later_fails_both(
        self, tmp_path: Path, rival: Article
    ) -> None:
        """A record claiming a number the shop already holds, added to the
        ERP after it was synced, does not overwrite it in a scheduled
        (changed since) run: both parties fail by name, the shop keeps
        what it had, and both stay in the failure ledger."""
        clock = Clock()
        erp = MemoryErp([art("Z-1", "Hammer"), art("Y")], clock=clock)
        platform = MemoryPlatform()
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=SqliteStore(tmp_path / "state.db"),
            staging=MediaStaging(tmp_path / "staging"),
            clock=clock,
            overlap=timedelta(0),
        )
        clock.now += timedelta(hours=1)
        await sync.execute(ARTICLES, trigger=Trigger.SCHEDULED)
        clock.now += timedelta(hours=1)
        erp.add(rival)
        clock.now += timedelta(hours=1)

        async with capture_events(
            sync, ARTICLES, trigger=Trigger.SCHEDULED
        ) as run:
            failed = sorted((e.number, e.field) for e in run.of(RecordFailed))
        ledger = await sync.store.list_failures("shop", DataType.ARTICLES)

        assert 2 == len(failed)
        assert ("Z-1", "number") in failed
        assert all(
            "claimed by 2 records" in e.message for e in run.of(RecordFailed)
        )
        held = platform.held(DataType.ARTICLES)["Z-1"]
        assert "Hammer" == held.name  # type: ignore[union-attr]
        assert "B" not in platform.held(DataType.ARTICLES)
        assert {"Z-1", rival.number} == {f.number for f in ledger}
        await sync.store.aclose()
