"""
A cancelled run says who cancelled it (`RunRecord.error`), and a cancel
through `Synchronizer.cancel` bounds the run's cleanup on a locked store
as the host's cancel does.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from ecomsync import (
    All,
    DataType,
    LocalLicensePool,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    Outcome,
    Outgoing,
    RunStatus,
    SqliteStore,
    Synchronizer,
)
from ecomsync._staging_fs import MARKER

from .._sqlite_lock import locked
from ._support import spec


pytestmark = pytest.mark.anyio

#: The cleanup's deadline in these tests (5 s in production).
DEADLINE = 1.0


@attrs.define
class _Stalls(MemoryPlatform):
    """
    At its first article push, has another connection lock *path* (if
    given), says so (*reached*) and waits for *go* before it writes.
    """

    path: str = ""
    lock: contextlib.ExitStack = attrs.Factory(contextlib.ExitStack)
    reached: anyio.Event = attrs.Factory(anyio.Event)
    go: anyio.Event = attrs.Factory(anyio.Event)

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        if data_type is DataType.ARTICLES and not self.reached.is_set():
            if self.path:
                self.lock.enter_context(locked(self.path))
            self.reached.set()
            await self.go.wait()
        return await super().push(data_type, items)


def _one_at_a_time(
    erp: MemoryErp, platform: _Stalls, store: SqliteStore, **options: Any
) -> Synchronizer:
    """A synchroniser pushing one record per batch, one batch at a time:
    the push *platform* stalls is not the run's last."""
    return Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=store,
        batch_size=1,
        write_concurrency=1,
        **options,
    )


async def _cancelled(
    sync: Synchronizer, platform: _Stalls, how: str
) -> tuple[str, float]:
    """
    Run the articles, cancel the run *how* at its first push (of several:
    a run that wrote all it had succeeded); the run's id and the seconds
    from the cancel to the run's end.
    """
    cancelled_at = 0.0
    async with (
        sync.run(spec(articles=All())) as events,
        anyio.create_task_group() as tg,
    ):

        async def cancel() -> None:
            nonlocal cancelled_at
            await platform.reached.wait()
            cancelled_at = time.monotonic()
            if how == "events":
                events.cancel()
            elif how == "store":
                # As another process does: through the store alone.
                await sync.store.request_cancel(events.run_id)
                # The run asks the store at most every 0.2 s.
                await anyio.sleep(0.3)
            else:
                await sync.cancel(events.run_id)
            platform.go.set()

        tg.start_soon(cancel)
        async for _ in events:
            pass
    return events.run_id, time.monotonic() - cancelled_at


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("synchronizer", "Synchronizer.cancel"),
        ("events", "RunEvents.cancel"),
        ("store", "through the state store"),
    ],
)
async def test_a_cancelled_run_records_who_cancelled_it(
    erp: MemoryErp, tmp_path: Path, how: str, reason: str
) -> None:
    """A run cancelled through Synchronizer.cancel, RunEvents.cancel or the
    store (another process) ends cancelled with the reason in its record
    (it had error None: an operator saw "cancelled" without who or why)."""
    platform = _Stalls()
    store = SqliteStore(tmp_path / "state.db")
    sync = _one_at_a_time(erp, platform, store)
    run_id, _ = await _cancelled(sync, platform, how)
    run = await store.get_run(run_id)
    await sync.aclose()
    await store.aclose()

    assert run is not None
    assert RunStatus.CANCELLED == run.status
    assert run.error is not None
    assert reason in run.error


async def test_a_run_cancelled_by_its_host_says_so(
    erp: MemoryErp, tmp_path: Path
) -> None:
    """A run whose host cancels its task ends cancelled, saying so."""
    platform = _Stalls()
    store = SqliteStore(tmp_path / "state.db")
    sync = _one_at_a_time(erp, platform, store)
    with anyio.CancelScope() as scope:
        async with sync.run(spec(articles=All())) as events:
            await platform.reached.wait()
            scope.cancel()
    run = await store.get_run(events.run_id)
    await sync.aclose()
    await store.aclose()

    assert run is not None
    assert RunStatus.CANCELLED == run.status
    assert run.error is not None
    assert "host" in run.error


async def test_synchronizer_cancel_bounds_the_cleanup_on_a_locked_store(
    erp: MemoryErp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled through Synchronizer.cancel while another connection locks
    the store, the run ends cancelled within the cleanup's deadline (the
    cancel and each cleanup step waited out the store's 30 s lock
    timeout); its licence is back, its staging is clean, and once the
    lock is gone its end is recorded cancelled."""
    monkeypatch.setattr("ecomsync._closing.CLEANUP_TIMEOUT", DEADLINE)
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    platform = _Stalls(path=str(path))
    staging = tmp_path / "staging"
    sync = _one_at_a_time(erp, platform, store, staging=MediaStaging(staging))
    await sync.execute(spec(categories=All()))

    run_id, took = await _cancelled(sync, platform, "synchronizer")
    platform.lock.close()

    assert took < DEADLINE + 3
    assert () == await sync.licenses.holders()
    assert [MARKER] == [p.name for p in staging.rglob("*")]
    await sync.execute(spec(stock=All()))
    run = await store.get_run(run_id)
    assert run is not None
    assert RunStatus.CANCELLED == run.status
    assert [] == await store.list_pending()
    await sync.aclose()
    await store.aclose()


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("maintenance window (ops ticket 4711)", "maintenance window"),
        (None, "Synchronizer.cancel by "),
    ],
)
async def test_a_cancel_from_another_process_says_who_asked(
    erp: MemoryErp, tmp_path: Path, reason: str | None, shown: str
) -> None:
    """A run cancelled through another process's Synchronizer.cancel
    records that process's reason (its own text, or who and where), not
    just "the state store" (the store kept a yes/no flag only)."""
    platform = _Stalls()
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    sync = _one_at_a_time(erp, platform, store)
    other = Synchronizer(
        erp=erp, platforms={"shop": MemoryPlatform()}, store=SqliteStore(path)
    )
    async with (
        sync.run(spec(articles=All())) as events,
        anyio.create_task_group() as tg,
    ):

        async def cancel() -> None:
            await platform.reached.wait()
            await other.cancel(events.run_id, reason=reason)
            await anyio.sleep(0.3)
            platform.go.set()

        tg.start_soon(cancel)
        async for _ in events:
            pass
    run = await store.get_run(events.run_id)
    await other.aclose()
    await other.store.aclose()
    await sync.aclose()
    await store.aclose()

    assert run is not None
    assert RunStatus.CANCELLED == run.status
    assert run.error is not None
    assert "through the state store" in run.error
    assert shown in run.error
    if reason is None:
        assert socket.gethostname() in run.error


async def test_cancel_of_an_ended_or_unknown_run_says_so(
    erp: MemoryErp, tmp_path: Path
) -> None:
    """Cancelling a run that already ended (or that no store knows)
    answers False and leaves the run's record and cancel flag alone (it
    answered nothing, and flagged the ended run as cancel-requested); a
    running run's cancel answers True."""
    store = SqliteStore(tmp_path / "state.db")
    platform = _Stalls()
    sync = _one_at_a_time(erp, platform, store)
    ended = await sync.execute(spec(categories=All()))
    answers = [await sync.cancel(ended.id), await sync.cancel("no-such-run")]
    flagged = await store.cancel_requested(ended.id)
    after = await store.get_run(ended.id)
    async with sync.run(spec(articles=All())) as events:
        await platform.reached.wait()
        answers.append(await sync.cancel(events.run_id))
        platform.go.set()
        async for _ in events:
            pass
    await sync.aclose()
    await store.aclose()

    assert [False, False, True] == answers
    assert flagged is False
    assert ended == after
    assert events.summary is not None
    assert RunStatus.CANCELLED == events.summary.status


async def test_a_queued_run_cancelled_from_another_process_ends_at_once(
    erp: MemoryErp, tmp_path: Path
) -> None:
    """A run waiting for a licence, cancelled through another process's
    store handle, ends cancelled at once (not at the licence timeout)
    with that process's reason, and never takes the licence."""
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    pool = LocalLicensePool(1)
    sync = _one_at_a_time(
        erp, _Stalls(), store, licenses=pool, license_timeout=30
    )
    other = Synchronizer(
        erp=erp, platforms={"shop": MemoryPlatform()}, store=SqliteStore(path)
    )
    async with pool.lease("someone else", timeout=1):
        with anyio.fail_after(10):
            async with sync.run(spec(articles=All())) as events:
                for _ in range(100):  # recorded queued, waiting
                    if (run := await store.get_run(events.run_id)) is not None:
                        break
                    await anyio.sleep(0.05)
                asked = await other.cancel(events.run_id, reason="ops: window")
                async for _ in events:
                    pass
        holders = await pool.holders()
    await other.aclose()
    await other.store.aclose()
    await sync.aclose()
    await store.aclose()

    assert run is not None
    assert RunStatus.QUEUED == run.status
    assert asked is True
    assert events.summary is not None
    assert RunStatus.CANCELLED == events.summary.status
    assert "ops: window" in (events.summary.error or "")
    assert ("someone else",) == holders
