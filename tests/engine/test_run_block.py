"""
`Synchronizer.run` is a block: awaiting it says how to use it.
"""

from __future__ import annotations

import pytest

from ecomsync import All, DataType, Synchronizer, SyncSpec


@pytest.mark.anyio
async def test_awaiting_run_explains_async_with(sync: Synchronizer) -> None:
    """
    ``await sync.run(spec)`` is a TypeError naming ``async with``; nothing
    runs.
    """
    spec = SyncSpec(types={DataType.CATEGORIES: All()})

    with pytest.raises(TypeError, match=r"async with sync\.run\(spec\)"):
        await sync.run(spec)  # type: ignore[misc]

    assert [] == await sync.runs()


@pytest.mark.anyio
async def test_run_block_still_runs(sync: Synchronizer) -> None:
    """
    ``async with sync.run(spec)`` runs and leaves the summary.
    """
    spec = SyncSpec(types={DataType.CATEGORIES: All()})

    async with sync.run(spec) as events:
        async for _ in events:
            pass

    assert events.summary is not None
    assert "succeeded" == events.summary.status.value
