"""
Partition workers through a state store outage (a PostgreSQL restart):
the worker logs it, tries again and finishes the run.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from ecomsync import RunStatus
from ecomsync.exceptions import StateStoreError
from ecomsync.licensing import PostgresLicensePool
from ecomsync.state._board import PartitionBoard
from ecomsync.state._postgres import PostgresStore

from . import _pg_shop
from .test_workers import scalar, submit


pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


@pytest.fixture(name="store")
async def _store(postgres_dsn: str) -> Any:
    _pg_shop.create_tables(postgres_dsn)
    store = PostgresStore(postgres_dsn)
    yield store
    await store.aclose()


class _Outage:
    """
    *board* whose calls of *failing* (method name -> call numbers) raise
    StateStoreError, as during a database restart.
    """

    def __init__(
        self, board: PartitionBoard, failing: dict[str, set[int]]
    ) -> None:
        self._board, self._failing = board, failing
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._board, name)
        if name not in self._failing:
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = n = self.calls.get(name, 0) + 1
            if n in self._failing[name]:
                raise StateStoreError(f"state store: {name}: server closed")
            return await target(*args, **kwargs)

        return call


@pytest.mark.parametrize(
    "failing",
    [
        {"sweep": {2}},
        {"has_work": {2}},
        {"claim": {1}},
        {"finish": {1}},
    ],
    ids=["sweep", "has_work", "claim", "finish"],
)
async def test_worker_goes_on(
    store: PostgresStore,
    monkeypatch: pytest.MonkeyPatch,
    failing: dict[str, set[int]],
) -> None:
    """The store failing for a moment while a worker sweeps, looks for
    work, claims or closes a partition is logged and tried again: the
    worker finishes the run (it stopped with StateStoreError, leaving a
    partition it had run claimed until it went stale)."""
    from ecomsync import _worker

    boards: list[_Outage] = []
    real = _worker.board_for

    def board_for(s: Any) -> _Outage:
        boards.append(_Outage(real(s), failing))
        return boards[-1]

    monkeypatch.setattr(_worker, "board_for", board_for)
    run_id = await submit(store, size=200)
    sync = _pg_shop.make_sync(
        store=store, licenses=PostgresLicensePool(store.dsn, size=2)
    )

    with anyio.fail_after(60):
        await _worker.work(
            sync,
            heartbeat=0.2,
            stale_after=1,
            poll_interval=0.05,
            exit_when_idle=True,
        )
    await sync.platforms["shop"].aclose()

    (board,) = boards
    assert all(n <= board.calls[k] for k, ns in failing.items() for n in ns)
    run = await store.get_run(run_id)
    assert run is not None
    assert RunStatus.SUCCEEDED == run.status
    assert 200 == scalar(
        store.dsn, "SELECT count(DISTINCT number) FROM shop_writes"
    )
