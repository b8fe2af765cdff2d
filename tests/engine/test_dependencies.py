"""
The category closure: an article never references a missing category.
"""

from __future__ import annotations

import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    DependencySynced,
    MemoryErp,
    MemoryPlatform,
    NumberRange,
    Only,
    RecordFailed,
    Synchronizer,
)
from ecomsync.testing import capture_events

from ._support import ARTICLES, spec


pytestmark = pytest.mark.anyio


class TestCategoryClosure:
    async def test_missing_categories_first(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """An article's missing category (and its parent) is synced first."""
        async with capture_events(sync, spec(articles=Only({"A-1"}))) as run:
            deps = run.of(DependencySynced)

        assert [("C-1", "A-1"), ("C-2", "A-1")] == [
            (d.number, d.required_by) for d in deps
        ]
        assert {"C-1", "C-2"} == set(platform.held(DataType.CATEGORIES))
        assert {"A-1"} == set(platform.held(ARTICLES))
        assert 0 == run.summary.counts[ARTICLES].failed  # type: ignore[union-attr]

    async def test_known_categories_not_resent(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """Categories already on the platform are not synced again."""
        await sync.execute(spec(categories=All()))
        pushes = platform.calls["push"]

        async with capture_events(sync, spec(articles=All())) as run:
            pass

        assert [] == run.of(DependencySynced)
        assert pushes + 1 == platform.calls["push"]

    async def test_unknown_category_fails_article(
        self, sync: Synchronizer, erp: MemoryErp
    ) -> None:
        """An article in a category the ERP lacks fails alone, named."""
        erp.put(
            Article(number="A-7", name="x", price=1, categories=("C-404",))
        )

        async with capture_events(sync, spec(articles=All())) as run:
            (failed,) = run.of(RecordFailed)

        assert ("A-7", "categories") == (failed.number, failed.field)
        assert "C-404" in failed.message
        assert 6 == run.summary.counts[ARTICLES].created  # type: ignore[union-attr]

    async def test_cycle_fails_by_name(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Categories on a parent cycle are never sent: each fails naming
        the cycle, and so does the article that needs them; a plan lists
        them all as invalid."""
        erp.put(Category(number="C-X", name="x", parent="C-Y"))
        erp.put(Category(number="C-Y", name="y", parent="C-X"))
        erp.put(Article(number="A-9", name="a", price=1, categories=("C-X",)))

        plan = await sync.plan(spec(articles=Only({"A-9"})))
        async with capture_events(sync, spec(articles=Only({"A-9"}))) as run:
            failed = {(e.data_type, e.number): e for e in run.of(RecordFailed)}

        assert {
            (DataType.CATEGORIES, "C-X"),
            (DataType.CATEGORIES, "C-Y"),
            (ARTICLES, "A-9"),
        } == set(failed)
        cycle = failed[DataType.CATEGORIES, "C-X"]
        assert "parent" == cycle.field
        assert "C-Y" in cycle.message
        assert {"C-X", "C-Y", "A-9"} == {
            r.number for r in plan.types[ARTICLES].invalid
        }
        assert not set(platform.held(DataType.CATEGORIES)) & {"C-X", "C-Y"}

    async def test_failed_category_fails_its_articles_unsent(
        self, erp: MemoryErp, sync: Synchronizer
    ) -> None:
        """A category the platform refused is tried once per run, not
        again for each article batch needing it, and the articles in it
        fail naming it without being sent (no dangling reference)."""
        seen: list[str] = []

        def refuse(record: object) -> str | None:
            number = getattr(record, "number", "")
            seen.append(number)
            return "no such parent" if number == "C-3" else None

        shop = MemoryPlatform(reject=refuse, batch_size=1)
        erp.put(Category(number="C-3", name="three", parent="C-1"))
        for n in ("A-7", "A-8"):
            erp.put(Article(number=n, name=n, price=1, categories=("C-3",)))
        sync = Synchronizer(erp=erp, platforms={"shop": shop})

        record = await sync.execute(spec(categories=All(), articles=All()))

        failed = {(f.data_type, f.number): f for f in record.failures}
        assert [DataType.CATEGORIES, ARTICLES, ARTICLES] == [
            f.data_type for f in record.failures
        ]
        assert 1 == seen.count("C-3")
        assert not {"A-7", "A-8"} & set(seen)
        for n in ("A-7", "A-8"):
            assert "categories" == failed[ARTICLES, n].field
            assert "'C-3' did not reach the platform" in (
                failed[ARTICLES, n].message
            )
            assert "no such parent" in failed[ARTICLES, n].message
        assert 6 == record.counts[ARTICLES].created

    async def test_invalid_category_is_judged_before_it_is_sent(
        self, erp: MemoryErp, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """A category the closure brings in is judged like any record: an
        invalid one (and one below it) is never sent, fails by name, and so
        does the article that needs it, in the plan as in the run."""
        erp.put(Category(number="C-9", name="bad\x00name"))
        erp.put(Category(number="C-9-1", name="child", parent="C-9"))
        erp.put(
            Article(number="A-9", name="a", price=1, categories=("C-9-1",))
        )
        selected = spec(articles=Only({"A-9"}))

        plan = await sync.plan(selected)
        run = await sync.execute(selected)

        failed = {(f.data_type, f.number): f for f in run.failures}
        assert {
            (DataType.CATEGORIES, "C-9"),
            (DataType.CATEGORIES, "C-9-1"),
            (ARTICLES, "A-9"),
        } == set(failed)
        assert "name" == failed[DataType.CATEGORIES, "C-9"].field
        assert "U+0000" in failed[DataType.CATEGORIES, "C-9"].message
        assert "parent" == failed[DataType.CATEGORIES, "C-9-1"].field
        assert "categories" == failed[ARTICLES, "A-9"].field
        assert not {"C-9", "C-9-1"} & set(platform.held(DataType.CATEGORIES))
        assert "A-9" not in platform.held(ARTICLES)
        assert {"C-9", "C-9-1", "A-9"} == {
            r.number for r in plan.types[ARTICLES].invalid
        }

    async def test_category_number_twice_is_ambiguous_here_too(
        self, erp: MemoryErp, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """Two ERP categories with the number an article needs: the
        closure sends neither (no "last wins"), each fails naming both,
        and the article fails naming the category, in the plan as in the
        run."""
        erp.add(Category(number="C-7", name="first"))
        erp.add(Category(number="C-7", name="second"))
        erp.put(Article(number="A-7", name="a", price=1, categories=("C-7",)))
        selected = spec(articles=Only({"A-7"}))

        plan = await sync.plan(selected)
        run = await sync.execute(selected)

        cats = [f for f in run.failures if f.data_type is DataType.CATEGORIES]
        assert ["C-7", "C-7"] == [f.number for f in cats]
        assert all('"first"' in f.message for f in cats)
        assert all('"second"' in f.message for f in cats)
        (article,) = [f for f in run.failures if f.data_type is ARTICLES]
        assert ("A-7", "categories") == (article.number, article.field)
        assert "C-7" not in platform.held(DataType.CATEGORIES)
        assert "A-7" not in platform.held(ARTICLES)
        assert {"C-7", "A-7"} == {
            r.number for r in plan.types[ARTICLES].invalid
        }


class TestCategoryParentsFirst:
    async def test_chosen_category_brings_its_missing_parent(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """ "Sync this category" for a child whose parent the platform
        lacks syncs the parent first (reported), then the child: nothing
        fails; a plan lists the parent as a dependency."""
        chosen = spec(categories=Only({"C-2"}))

        plan = await sync.plan(chosen)
        async with capture_events(sync, chosen) as run:
            deps = run.of(DependencySynced)

        assert [("C-1", "C-2")] == [(d.number, d.required_by) for d in deps]
        assert [] == run.of(RecordFailed)
        assert {"C-1", "C-2"} == set(platform.held(DataType.CATEGORIES))
        assert ("C-1",) == plan.types[DataType.CATEGORIES].dependencies

    async def test_number_range_brings_missing_ancestors(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """A number range of categories whose ancestors lie outside it
        syncs every missing ancestor first, each once, and leaves those
        already on the platform alone."""
        erp.put(Category(number="D-1", name="Garten"))
        erp.put(Category(number="D-2", name="Rasen", parent="D-1"))
        erp.put(Category(number="E-1", name="Mäher", parent="D-2"))
        erp.put(Category(number="E-2", name="Scheren", parent="D-2"))
        erp.put(Category(number="E-3", name="Zangen", parent="C-1"))
        await sync.execute(spec(categories=Only({"C-1"})))

        async with capture_events(
            sync, spec(categories=NumberRange("E-1", "E-3"))
        ) as run:
            deps = run.of(DependencySynced)

        assert [("D-1", "E-1"), ("D-2", "E-1")] == [
            (d.number, d.required_by) for d in deps
        ]
        assert [] == run.of(RecordFailed)
        assert {"C-1", "D-1", "D-2", "E-1", "E-2", "E-3"} == set(
            platform.held(DataType.CATEGORIES)
        )

    async def test_parent_missing_everywhere_fails_child_alone(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """A chosen category whose parent is in neither the ERP nor the
        platform fails alone, on its parent field, naming the parent."""
        erp.put(Category(number="C-3", name="Nägel", parent="C-404"))

        async with capture_events(
            sync, spec(categories=Only({"C-3", "C-10"}))
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert ("C-3", "parent") == (failed.number, failed.field)
        assert "C-404" in failed.message
        assert {"C-10"} == set(platform.held(DataType.CATEGORIES))

    async def test_chosen_category_on_a_cycle_fails_once(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """A chosen category on a parent cycle fails once, naming the
        cycle, and its partner too; neither is sent."""
        erp.put(Category(number="C-X", name="x", parent="C-Y"))
        erp.put(Category(number="C-Y", name="y", parent="C-X"))

        async with capture_events(sync, spec(categories=Only({"C-X"}))) as run:
            failed = [(e.number, e.field) for e in run.of(RecordFailed)]

        assert ("C-X", "parent") in failed
        assert len(failed) == len(set(failed))
        assert not set(platform.held(DataType.CATEGORIES)) & {"C-X", "C-Y"}


def _from_events(run: object, data_type: DataType) -> tuple[int, ...]:
    """(created, updated, unchanged, failed) of *data_type* by its events."""
    from ecomsync import RecordSkipped, RecordSynced

    events = [
        e
        for e in run.events  # type: ignore[attr-defined]
        if getattr(e, "data_type", None) is data_type
    ]
    synced = [e for e in events if isinstance(e, RecordSynced)]
    return (
        sum(e.created for e in synced),
        sum(not e.created for e in synced),
        sum(isinstance(e, RecordSkipped) for e in events),
        sum(isinstance(e, RecordFailed) for e in events),
    )


class TestDependencyCounts:
    @pytest.mark.parametrize(
        "types",
        [
            {"articles": Only({"A-1"})},
            {"categories": Only({"C-2"})},
            {"categories": Only({"C-2"}), "articles": All()},
        ],
        ids=["articles", "chosen-child", "both"],
    )
    async def test_counts_add_up_with_the_events(
        self, sync: Synchronizer, erp: MemoryErp, types: dict[str, object]
    ) -> None:
        """Categories synced (or failed) because a record needed them
        count in the run's categories counts, as their events say: they
        were in the failures and events, missing from the counts."""
        erp.put(Category(number="C-3", name="Bad\x00", parent="C-1"))
        erp.put(
            Article(number="A-9", name="A-9", price=1, categories=("C-3",))
        )

        async with capture_events(sync, spec(**types)) as run:
            pass

        assert run.summary is not None
        for data_type in (DataType.CATEGORIES, ARTICLES):
            counts = run.summary.counts.get(data_type)
            got = (
                (0, 0, 0, 0)
                if counts is None
                else (
                    counts.created,
                    counts.updated,
                    counts.unchanged,
                    counts.failed,
                )
            )
            assert _from_events(run, data_type) == got, data_type
        assert run.summary.counts[DataType.CATEGORIES].created >= 1

    async def test_no_dependency_no_categories_counts(
        self, sync: Synchronizer
    ) -> None:
        """A run that needed no category counts its own types only."""
        await sync.execute(spec(categories=All()))

        record = await sync.execute(spec(articles=All()))

        assert [ARTICLES] == list(record.counts)
