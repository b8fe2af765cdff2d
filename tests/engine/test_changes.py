"""
Which records changed: checksums, force and invalid records, through
runs and as a pure classifier.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecomsync import (
    All,
    Article,
    DataType,
    Link,
    MemoryErp,
    MemoryPlatform,
    RecordFailed,
    RecordSkipped,
    StockLevel,
    Synchronizer,
    SyncSpec,
)
from ecomsync._changes import Refusal, classify, unit_checksum, units
from ecomsync._fingerprint import checksum
from ecomsync._model import Record
from ecomsync._record_checks import problems
from ecomsync.testing import capture_events

from ._support import ARTICLES, everything, spec


pytestmark = pytest.mark.anyio


class TestChecksums:
    async def test_unchanged_costs_nothing(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """A rerun without changes sends no request to the platform."""
        await everything(sync)
        calls = dict(platform.calls)

        async with capture_events(
            sync, spec(categories=All(), articles=All(), stock=All())
        ) as run:
            pass

        assert calls == dict(platform.calls)
        assert 15 == len(run.of(RecordSkipped))

    async def test_change_is_sent(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """A changed record is sent as an update; the others are skipped."""
        await everything(sync)
        erp.put(StockLevel(number="A-2", quantity=999))

        run = await sync.execute(spec(stock=All()))

        assert (0, 1, 5) == (
            run.counts[DataType.STOCK].created,
            run.counts[DataType.STOCK].updated,
            run.counts[DataType.STOCK].unchanged,
        )
        assert 999 == platform.held(DataType.STOCK)["A-2"].quantity  # type: ignore[union-attr]

    async def test_force(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """force=True resends unchanged records."""
        await everything(sync)
        writes = platform.calls["writes"]

        run = await sync.execute(
            SyncSpec(types={DataType.STOCK: All()}, force=True)
        )

        assert 6 == run.counts[DataType.STOCK].updated
        assert writes + 6 == platform.calls["writes"]


class TestInvalidRecords:
    @pytest.mark.parametrize(
        ("record", "field"),
        [
            (Article(number="", name="x", price=1), "number"),
            (Article(number="A-8", name="x", price=-5), "price"),
            (
                Article(
                    number="A-8",
                    name=b"\xff".decode("utf-8", "surrogateescape"),
                    price=1,
                ),
                "name",
            ),
            (
                Article(
                    number="A-8", name="x", price=1, description="x" * 10**7
                ),
                "description",
            ),
        ],
    )
    async def test_malformed_record_fails_alone(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: MemoryPlatform,
        record: Article,
        field: str,
    ) -> None:
        """A malformed ERP record fails alone, naming record and field."""
        erp.put(record)

        async with capture_events(
            sync, spec(categories=All(), articles=All())
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert field == failed.field
        assert (record.number or "<no number>") == failed.number
        assert failed.message.startswith(field)
        assert 6 == len(platform.held(ARTICLES))


_NUMBERS = st.sampled_from(["A-1", "A-2", "A-3", "A-10", "", " "])
_RECORDS = st.one_of(
    st.builds(
        Article,
        number=_NUMBERS,
        name=st.sampled_from(["Hammer", "Säge", "x" * 3]),
        price=st.integers(min_value=-2, max_value=50),
    ),
    st.builds(
        StockLevel,
        number=_NUMBERS,
        quantity=st.integers(min_value=0, max_value=9),
        warehouse=st.sampled_from([None, "WH", "WH2"]),
    ),
)


@st.composite
def _batches(
    draw: st.DrawFn,
) -> tuple[list[Record], dict[str, Link]]:
    """
    A batch, and links for some of its numbers: some with the record's
    own checksum (unchanged), some with another one (changed).
    """
    batch = draw(st.lists(_RECORDS, max_size=12))
    links: dict[str, Link] = {}
    for record in batch:
        kind = draw(st.sampled_from(["none", "same", "other"]))
        if kind == "same":
            links[record.number] = Link("p-1", checksum(record))
        elif kind == "other":
            links[record.number] = Link("p-1", "0" * 64)
    return batch, links


def _bad(unit: tuple[Record, ...]) -> bool:
    warehouses = [getattr(r, "warehouse", None) for r in unit]
    return any(problems(r) for r in unit) or len(set(warehouses)) < len(
        warehouses
    )


class TestClassify:
    @given(_batches(), st.booleans())
    def test_every_unit_once(
        self, case: tuple[list[Record], dict[str, Link]], force: bool
    ) -> None:
        """Every unit (a record, or one article's stock levels) lands in
        exactly one bucket, in its batch order; every record is in one."""
        batch, links = case

        changes = classify(batch, links, force=force)

        grouped = units(batch)
        assert sorted(map(id, batch)) == sorted(
            id(r) for u in grouped for r in u
        )
        invalid = [u for u in grouped if _bad(u)]
        valid = [u for u in grouped if not _bad(u)]
        assert [u[0].number or "<no number>" for u in invalid] == [
            x.number for x in changes.invalid
        ]
        kept = [
            *((r,) for r in changes.unchanged),
            *(c.records for c in changes.todo),
        ]
        assert sorted(map(id, (r for u in valid for r in u))) == sorted(
            id(r) for u in kept for r in u
        )
        same = {id(r) for r in changes.unchanged}
        assert [u[0] for u in valid if id(u[0]) in same] == list(
            changes.unchanged
        )

    @given(_batches(), st.booleans())
    def test_unchanged_means_same_checksum(
        self, case: tuple[list[Record], dict[str, Link]], force: bool
    ) -> None:
        """A unit is unchanged exactly when its link holds its checksum
        and the run is not forced; a change is created exactly when there
        is no link, and carries the unit's checksum (a record's own for a
        unit of one)."""
        batch, links = case

        changes = classify(batch, links, force=force)

        for record in changes.unchanged:
            assert not force
            (unit,) = [u for u in units(batch) if u[0] is record]
            assert unit_checksum(unit, checksum) == (
                links[record.number].checksum
            )
        for change in changes.todo:
            link = links.get(change.record.number)
            assert unit_checksum(change.records, checksum) == change.checksum
            if not change.also:
                assert checksum(change.record) == change.checksum
            assert (link is None) == change.created
            assert link is None or force or link.checksum != change.checksum

    @given(_batches())
    def test_force_changes_all_valid(
        self, case: tuple[list[Record], dict[str, Link]]
    ) -> None:
        """Forced, nothing valid is unchanged; the classifier is pure."""
        batch, links = case
        before = dict(links)

        forced = classify(batch, links, force=True)

        assert () == forced.unchanged
        assert before == links
        assert classify(batch, links, force=True) == forced

    def test_refusal_names_field(self) -> None:
        """An invalid record is refused with its first problem's field."""
        bad = Article(number="A-9", name="x", price=-1)

        (refusal,) = classify([bad], {}, force=False).invalid

        assert (
            Refusal(
                number="A-9", field="price", reason="price is negative (-1)"
            )
            == refusal
        )
