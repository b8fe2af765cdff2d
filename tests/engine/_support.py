"""
Shared helpers of the engine tests.
"""

from __future__ import annotations

from anyio import wait_all_tasks_blocked
from anyio.lowlevel import checkpoint

from ecomsync import (
    All,
    DataType,
    RunStatus,
    SyncError,
    Synchronizer,
    SyncSpec,
)


ARTICLES = DataType.ARTICLES


def spec(**types: object) -> SyncSpec:
    """
    A spec from keyword types: ``spec(articles=All())``.
    """
    return SyncSpec(
        types={DataType[k.upper()]: v for k, v in types.items()}  # type: ignore[misc]
    )


async def everything(sync: Synchronizer) -> None:
    """
    Sync categories, articles and stock.
    """
    await sync.execute(spec(categories=All(), articles=All(), stock=All()))


class BrokenErp:
    """
    An ERP whose session cannot be opened.
    """

    def session(self) -> object:
        raise SyncError("ERP went away")


async def until_queued(sync: Synchronizer) -> None:
    """
    Return once the newest run is recorded as queued (waiting for a
    licence) and every task is blocked: no sleeping, no guessing.
    """
    while True:
        await wait_all_tasks_blocked()
        runs = await sync.runs(limit=1)
        if runs and runs[0].status is RunStatus.QUEUED:
            await wait_all_tasks_blocked()
            return
        await checkpoint()
