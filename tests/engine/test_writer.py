"""
Writing a batch: one bad record fails alone and lands in the ledger.
"""

from __future__ import annotations

import pytest

from ecomsync import (
    All,
    MemoryPlatform,
    RecordFailed,
    RunStatus,
    SqliteStore,
    Synchronizer,
)
from ecomsync.testing import capture_events

from ._support import ARTICLES, spec


pytestmark = pytest.mark.anyio


class TestFailureIsolation:
    async def test_one_record_fails_alone(
        self, sync: Synchronizer, platform: MemoryPlatform, store: SqliteStore
    ) -> None:
        """A record the platform rejects fails alone with its message."""
        platform.reject = lambda r: (
            "Name zu lang (max. 255)" if r.number == "A-4" else None
        )

        async with capture_events(
            sync, spec(categories=All(), articles=All())
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert ("A-4", "Name zu lang (max. 255)") == (
            failed.number,
            failed.message,
        )
        assert 5 == len(platform.held(ARTICLES))
        assert RunStatus.SUCCEEDED == run.summary.status  # type: ignore[union-attr]
        assert ["A-4"] == [f.number for f in run.summary.failures]  # type: ignore[union-attr]
        assert ["A-4"] == [f.number for f in await store.list_failures("shop")]
