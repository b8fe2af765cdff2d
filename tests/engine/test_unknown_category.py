"""
An article whose category is in neither the ERP nor the platform fails on
its own, saying so, in the run and in `plan()`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync.events import RecordFailed
from ecomsync.testing import capture_events


pytestmark = pytest.mark.anyio

SPEC = SyncSpec(types={DataType.ARTICLES: All()})


@pytest.fixture(name="sync")
async def _sync(tmp_path: Path) -> Synchronizer:
    erp = MemoryErp(
        [
            Category(number="C-1", name="Werkzeug"),
            Article(number="A-1", name="Hammer", price=1, categories=["C-1"]),
            Article(
                number="A-2", name="Waise", price=1, categories=["C-1", "NOPE"]
            ),
            Article(
                number="A-3", name="Noch eine", price=1, categories=["NOPE"]
            ),
        ]
    )
    return Synchronizer(
        erp=erp,
        platforms={"shop": MemoryPlatform()},
        store=SqliteStore(tmp_path / "state.db"),
        staging=MediaStaging(tmp_path / "staging"),
        batch_size=2,
    )


class TestUnknownCategory:
    async def test_run(self, sync: Synchronizer) -> None:
        """Each article using the unknown category fails on 'categories',
        naming it; the others land with their categories."""
        async with capture_events(sync, SPEC) as run:
            failed = {
                e.number: (e.field, e.message) for e in run.of(RecordFailed)
            }
        platform = sync.platforms["shop"]
        await sync.store.aclose()

        assert {"A-2", "A-3"} == set(failed)
        assert "categories" == failed["A-2"][0]
        assert "categories" == failed["A-3"][0]
        assert "'NOPE' is not in the ERP" in failed["A-2"][1]
        assert ["A-1"] == list(platform.held(DataType.ARTICLES))  # type: ignore[attr-defined]

    async def test_plan(self, sync: Synchronizer) -> None:
        """plan() lists them as invalid with the same reason, not under
        create, and the known category as a dependency."""
        plan = await sync.plan(SPEC)
        found = plan.types[DataType.ARTICLES]
        await sync.store.aclose()

        assert ["A-1"] == list(found.create)
        assert {"A-2", "A-3"} == {r.number for r in found.invalid}
        assert all("is not in the ERP" in r.reason for r in found.invalid)
        assert ["C-1"] == list(found.dependencies)
