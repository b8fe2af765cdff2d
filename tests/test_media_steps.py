"""
Media staging with a store that has `update_pending` (the built-in
stores): a group's files taken away, their journal entries closed and the
next files' entries registered in one worker-thread hop, in the order
crash safety needs.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from ecomsync import MediaStaging, SqliteStore, StagedMedia, StateStoreError
from ecomsync._closing import hurried
from ecomsync._contracts import PendingMedia
from ecomsync.media import RunStaging

from ._backends import both_backends
from ._media import files
from ._sqlite_lock import locked


pytestmark = pytest.mark.anyio

_anyio_backend = both_backends


@pytest.fixture(name="hops")
def _hops(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """
    Every worker-thread hop, by what it called.
    """
    counted: Counter[str] = Counter()
    run_sync = anyio.to_thread.run_sync

    async def counting(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        counted[getattr(fn, "__qualname__", "?")] += 1
        return await run_sync(fn, *args, **kw)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return counted


async def stage_all(run: RunStaging, tag: str, n: int) -> list[StagedMedia]:
    got: list[StagedMedia] = []

    async def one(i: int) -> None:
        content = f"{tag} {i}".encode()
        got.append(await run.stage(content, filename="a", mime_type="x/y"))

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    return got


class TestHops:
    async def test_release_is_one_hop(
        self, tmp_path: Path, store: SqliteStore, hops: Counter[str]
    ) -> None:
        """Files released together are taken away and their journal
        entries closed in one worker-thread hop, not one for the files and
        one for the journal."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        async with staging.for_run("r1") as run:
            got = await stage_all(run, "a", 4)
            hops.clear()

            async with anyio.create_task_group() as tg:
                for staged in got:
                    tg.start_soon(run.release, staged)

            assert 1 == sum(hops.values())
            assert [] == await store.list_pending()
            assert not any(s.path.exists() for s in got)

    async def test_release_and_stage_share_a_hop(
        self, tmp_path: Path, store: SqliteStore, hops: Counter[str]
    ) -> None:
        """Files released while others are staged: one hop takes the
        released files away and closes and registers the entries (the new
        files' fsyncs come after it)."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        async with staging.for_run("r1") as run:
            old = await stage_all(run, "old", 4)
            hops.clear()
            new: list[StagedMedia] = []

            async def stage_new(i: int) -> None:
                content = f"new {i}".encode()
                new.append(
                    await run.stage(content, filename="a", mime_type="x/y")
                )

            async with anyio.create_task_group() as tg:
                for i, staged in enumerate(old):
                    tg.start_soon(run.release, staged)
                    tg.start_soon(stage_new, i)

            # The writes' fsyncs may take more than one (a hop per turn
            # of the event loop in which journalled files are written).
            assert 1 == sum(hops.values()) - hops["settle"]
            assert {s.sha256 for s in new} == {
                p.sha256 for p in await store.list_pending()
            }
            assert all(s.path.exists() for s in new)
            assert not any(s.path.exists() for s in old)


class Checking(SqliteStore):
    """
    A SqliteStore that checks, in each journal step, that the files of
    the entries to close are gone before they are closed and that the
    files of the entries to register are not written yet; *fail* makes
    the transaction fail after the files are taken away.
    """

    fail: bool = False
    #: Per step: the entries registered and closed.
    seen: list[tuple[int, int]]

    async def update_pending(
        self,
        closing: Callable[[], Sequence[tuple[str, str]]] | None,
        adding: Sequence[PendingMedia] = (),
    ) -> None:
        for pending in adding:
            assert not (Path(pending.scope) / pending.sha256).exists()

        def checked() -> Sequence[tuple[str, str]]:
            keys = [] if closing is None else closing()
            for scope, sha in keys:
                assert not (Path(scope) / sha).exists()
            self.seen.append((len(adding), len(keys)))
            if self.fail:
                raise StateStoreError("the store is read-only")
            return keys

        await super().update_pending(checked, adding)


class TestOrder:
    async def test_closed_after_gone_registered_before_written(
        self, tmp_path: Path
    ) -> None:
        """In a journal step, entries are closed only for files already
        gone, and registered before their files are written."""
        store = Checking(tmp_path / "state.db")
        store.seen = []
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        async with staging.for_run("r1") as run:
            old = await stage_all(run, "old", 3)

            async def stage_new(i: int) -> None:
                content = f"new {i}".encode()
                await run.stage(content, filename="a", mime_type="x/y")

            async with anyio.create_task_group() as tg:
                for i, staged in enumerate(old):
                    tg.start_soon(run.release, staged)
                    tg.start_soon(stage_new, i)

        assert (3, 3) in store.seen  # the releases and the new stages
        assert [] == await store.list_pending()
        assert [] == files(staging.directory)
        await store.aclose()

    async def test_failed_step_leaves_nothing(self, tmp_path: Path) -> None:
        """A journal step that fails after the files are taken away fails
        the releases and stages of its group; the files are gone, the
        entries the run's end or the next open() closes, and no byte of
        budget is left."""
        store = Checking(tmp_path / "state.db")
        store.seen = []
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        errors: list[BaseException] = []

        async def release(run: RunStaging, staged: StagedMedia) -> None:
            try:
                await run.release(staged)
            except StateStoreError as exc:
                errors.append(exc)

        async with staging.for_run("r1") as run:
            old = await stage_all(run, "old", 2)
            store.fail = True
            async with anyio.create_task_group() as tg:
                for staged in old:
                    tg.start_soon(release, run, staged)
            store.fail = False

            assert 2 == len(errors)
            assert not any(s.path.exists() for s in old)
            assert (0, 0) == (staging.used_bytes, run.held_bytes)
        await staging.open(store)

        assert [] == await store.list_pending()
        assert [] == files(staging.directory)
        await store.aclose()


class TestRunsApart:
    async def test_a_cancelled_runs_deadline_spares_the_others(
        self, tmp_path: Path
    ) -> None:
        """Two runs on one staging directory, the store locked: the
        deadline of the run whose cleanup hurries fails its own journal
        steps only; the other run's files, staged in the same event-loop
        turn, wait for the lock and are staged (they failed with the
        hurried run's error: their records failed for nothing)."""
        path = tmp_path / "state.db"
        store = SqliteStore(path)
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        errors: dict[str, BaseException] = {}
        staged: dict[str, StagedMedia] = {}

        async def stage(run: RunStaging, content: bytes, hurry: bool) -> None:
            try:
                if hurry:
                    with hurried(0.3):
                        await run.stage(content, filename="a", mime_type="x")
                else:
                    staged[run.run_id] = await run.stage(
                        content, filename="a", mime_type="x"
                    )
            except StateStoreError as exc:
                errors[run.run_id] = exc

        async with staging.for_run("a") as a, staging.for_run("b") as b:
            # Each run has its directory: the next stage journals at once.
            await stage_all(a, "a", 1)
            await stage_all(b, "b", 1)
            with contextlib.ExitStack() as lock:
                lock.enter_context(locked(path))
                async with anyio.create_task_group() as tg:
                    tg.start_soon(stage, a, b"a 2", True)
                    tg.start_soon(stage, b, b"b 2", False)
                    await anyio.sleep(1.0)
                    lock.close()
            assert ["a"] == list(errors)
            assert staged["b"].path.read_bytes() == b"b 2"
            pending = {
                (p.meta["run_id"], p.sha256)
                for p in await store.list_pending()
            }
            assert ("b", staged["b"].sha256) in pending
        assert [] == await store.list_pending()
        await store.aclose()

    async def test_a_hurried_release_does_not_wait_for_the_others(
        self, tmp_path: Path
    ) -> None:
        """The store locked, a hurried run's release gives up at its own
        deadline even when another run's file, released in the same turn
        without a deadline, waits for the lock (it waited with it: the
        cancel was held up for the store's whole lock timeout)."""
        path = tmp_path / "state.db"
        store = SqliteStore(path)
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        took: dict[str, float] = {}

        async def release(
            run: RunStaging, one: StagedMedia, hurry: bool
        ) -> None:
            start = time.monotonic()
            with contextlib.suppress(StateStoreError):
                if hurry:
                    with hurried(0.3):
                        await run.release(one)
                else:
                    await run.release(one)
            took[run.run_id] = time.monotonic() - start

        async with staging.for_run("a") as a, staging.for_run("b") as b:
            (one_a,) = await stage_all(a, "a", 1)
            (one_b,) = await stage_all(b, "b", 1)
            with contextlib.ExitStack() as lock:
                lock.enter_context(locked(path))
                async with anyio.create_task_group() as tg:
                    tg.start_soon(release, b, one_b, False)
                    tg.start_soon(release, a, one_a, True)
                    await anyio.sleep(2.0)
                    lock.close()
            assert took["a"] < 1.5
            assert not one_b.path.exists()
        await staging.open(store)  # run a's entry: closed by recovery
        assert [] == await store.list_pending()
        await store.aclose()
